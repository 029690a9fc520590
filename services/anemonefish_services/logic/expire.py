"""The sweeper: uploads that never arrived end ``EXPIRED`` (scheduled in AWS, periodic locally)."""

from __future__ import annotations

import time
from collections.abc import Callable

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.logic.budget import while_time_left
from anemonefish_services.logic.cancel import abort_upload
from anemonefish_services.logic.notify import BRIEF_WEBHOOK_POLICY, notify_terminal
from anemonefish_services.observability import job_context, logger
from anemonefish_services.settings import Settings


def expire_overdue_uploads(
    *, settings: Settings, repo: JobsRepository, storage: Storage, now: float | None = None,
    time_left: Callable[[], float] | None = None,
) -> list[str]:
    """Expire every job whose upload deadline has passed (while ``time_left`` allows); the ids
    of the jobs expired."""
    now = time.time() if now is None else now
    expired: list[str] = []
    for job in while_time_left(repo.uploads_overdue(now), time_left, what="overdue uploads"):
        with job_context(job.job_id):
            try:
                arrived = storage.head_input(job.input_key) is not None
            except Exception:  # throttled, say: this job waits for the next sweep, the others go on
                logger.exception("could not look for the upload; the next sweep will")
                continue
            if arrived:
                # It arrived, its event still queued behind others (a PUT near the deadline, by a
                # URL an idempotent retry renewed): the worker's, not expired. Should its event be
                # lost, the stalled-job sweep re-drives a QUEUED job no worker touches.
                if repo.mark_queued(job.job_id) is not None:
                    logger.info("upload arrived by its deadline's sweep: job queued, not expired")
                continue
            done = repo.expire(job.job_id, now)
            if done is None:  # the upload arrived (or a cancel) in the meantime
                continue
            if done.upload_mode == "MULTIPART" and done.upload_id:
                abort_upload(storage, done)
            logger.info("upload never arrived: job expired")
            notify_terminal(done, settings, webhook_policy=BRIEF_WEBHOOK_POLICY, repo=repo)
            expired.append(job.job_id)
    return expired
