"""Dead letters: a job whose message exhausted its retries is marked ``FAILED``, so no client
waits forever for a job that will never run again."""

from __future__ import annotations

import time
from typing import Any

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.exceptions import TransientJobError
from anemonefish_services.logic.notify import BRIEF_WEBHOOK_POLICY, notify_terminal, notify_unnotified
from anemonefish_services.logic.results import discard_results
from anemonefish_services.logic.stalled import redrive_message
from anemonefish_services.models.job import JobError, JobRecord, JobStatus
from anemonefish_services.observability import MetricUnit, logger, metrics
from anemonefish_services.settings import Settings


def fail_dead_lettered(
    job_id: str, *, receive_count: int | None, settings: Settings, repo: JobsRepository,
    storage: Storage, sqs: Any | None = None,
) -> bool:
    """Mark the job FAILED unless it finished; True if this call failed it. A finished job
    never notified (its finisher died first) is notified now.

    A job released after transient failures is QUEUED: its retries are spent, it fails. A job
    still RUNNING under an expired lease lost its worker (its message kept coming back while
    the lease was live, then the worker died): it is re-driven, as the sweeper would, until
    ``max_redrives``."""
    job = repo.get(job_id)
    if job is None:
        return False
    if job.status.is_terminal:
        if job.notified_at is None:  # its finisher died before notifying, and this was the message to do it again
            notify_unnotified(job, settings, webhook_policy=BRIEF_WEBHOOK_POLICY, repo=repo)
        return False
    if job.status is JobStatus.RUNNING:
        if (job.lease_expires_at or 0) > time.time():
            # The holder is alive: look again later rather than fail a job that may yet succeed.
            raise TransientJobError(f"job {job_id} is still running under a live lease")
        if sqs is not None and job.redrives < settings.max_redrives:
            # Sent before it is counted (a refused send is retried with this dead letter);
            # a second message for a job that moved on is dropped by the worker's claim.
            sqs.send_message(QueueUrl=settings.jobs_queue_url, MessageBody=redrive_message(job, settings))
            repo.note_redrive(job_id, JobStatus.RUNNING, job.updated_at)
            logger.warning("dead-lettered job lost its worker: re-driven", extra={"redrives": job.redrives + 1})
            return False
    failed = repo.fail(job_id, JobError(code="processing_failed", message=_given_up_message(job)),
                       attempts=job.attempts)  # unless a worker took it over since it was read
    if failed is None:
        return False
    logger.error("dead-lettered job marked FAILED",
                 extra={"receive_count": receive_count, "attempts": job.attempts, "last_error": job.last_error})
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    discard_results(job_id, storage, why="given up")  # its worker may have written some before its last attempt died
    notify_terminal(failed, settings, webhook_policy=BRIEF_WEBHOOK_POLICY, repo=repo)
    return True


def _given_up_message(job: JobRecord) -> str:
    """What the client is told. Attempts are the job's own claims: a dead letter's receive
    count also counts deliveries that never started it, and the DLQ's own receive."""
    if job.attempts == 0:
        tries = "the worker could not start it"
    else:
        tries = f"processing kept failing after {job.attempts} attempt{'s' if job.attempts != 1 else ''}"
    # The worker words its reasons for the client (no bucket names: process_job._reason).
    last = f" (last error: {job.last_error})" if job.last_error else ""
    return f"{tries}; the job was given up{last}"
