"""The sweeper's second task: a job whose worker died *and* whose message is gone (dropped as a
duplicate, or expired) would stay RUNNING forever. Re-send its upload event to the jobs queue
so a worker takes it over; after ``max_redrives`` lost workers a RUNNING job fails
(``worker_lost``) -- a file that kills its worker every time must not loop forever. A QUEUED
job is only waiting for a worker (a backlog can last hours): it is re-driven up to
``max_redrives`` times in case its event was lost, counted apart, and never failed for
waiting; its messages, and the dead-letter queue behind them, decide its end. SQS drops a
message that outlives the queue's retention without dead-lettering it, so a job still QUEUED
when its last message is about to go (no worker for days) is re-driven once more each time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from anemonefish_services.dal.jobs import JobsRepository, epoch_of
from anemonefish_services.dal.storage import Storage
from anemonefish_services.logic.budget import while_time_left
from anemonefish_services.logic.notify import BRIEF_WEBHOOK_POLICY, notify_terminal
from anemonefish_services.logic.results import discard_results
from anemonefish_services.models.job import JobError, JobRecord, JobStatus
from anemonefish_services.observability import job_context, logger
from anemonefish_services.settings import Settings


def redrive_message(job: JobRecord, settings: Settings) -> str:
    """An S3 ObjectCreated notification for the job's upload, as S3 would send it."""
    return json.dumps({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": settings.region,
        "eventName": "ObjectCreated:Redrive",
        "s3": {"bucket": {"name": settings.input_bucket}, "object": {"key": quote_plus(job.input_key), "size": job.size_bytes}},
    }]})


def redrive_stalled_jobs(
    *, settings: Settings, repo: JobsRepository, storage: Storage, sqs: Any, now: float | None = None,
    time_left: Callable[[], float] | None = None,
) -> dict[str, list[str]]:
    now = time.time() if now is None else now
    redriven: list[str] = []
    failed: list[str] = []
    for job in while_time_left(repo.stalled(now, settings.stall_grace_s), time_left, what="stalled jobs"):
        with job_context(job.job_id):
            try:
                outcome = _recover(job, settings=settings, repo=repo, storage=storage, sqs=sqs, now=now)
            except Exception:  # one job's trouble (a refused send) must not stop the others'
                logger.exception("stalled job could not be recovered; the next sweep tries again")
                continue
            if outcome == "redriven":
                redriven.append(job.job_id)
            elif outcome == "failed":
                failed.append(job.job_id)
    return {"redriven": redriven, "failed": failed}


def _recover(
    job: JobRecord, *, settings: Settings, repo: JobsRepository, storage: Storage, sqs: Any, now: float
) -> str | None:
    if job.status is JobStatus.QUEUED and job.queued_redrives >= settings.max_redrives:
        # Waiting, not lost, while the message its last re-drive sent is in the queue.
        if now - epoch_of(job.updated_at) < settings.jobs_queue_retention_s - settings.stall_grace_s:
            return None
    if job.status is JobStatus.RUNNING and job.redrives >= settings.max_redrives:
        done = repo.fail(job.job_id, JobError(
            code="worker_lost", message=f"the worker was lost {job.redrives + 1} times; the job was given up"),
            attempts=job.attempts)  # unless a worker took it over meanwhile
        if done is None:
            return None
        logger.error("stalled job given up")
        discard_results(job.job_id, storage, why="given up")  # a lost worker may have written some
        notify_terminal(done, settings, webhook_policy=BRIEF_WEBHOOK_POLICY, repo=repo)
        return "failed"
    # Sent before it is counted: a send that fails leaves the count (and the job) as it was.
    # Two sweeps may both send; the worker's conditional claim drops the second message.
    sqs.send_message(QueueUrl=settings.jobs_queue_url, MessageBody=redrive_message(job, settings))
    if (counted := repo.note_redrive(job.job_id, job.status, job.updated_at)) is None:
        return None  # it moved meanwhile: the extra message finds it busy or done
    logger.warning("stalled job re-driven", extra={"status": job.status.value, "redrives": counted.redrives,
                                                  "queued_redrives": counted.queued_redrives})
    return "redriven"
