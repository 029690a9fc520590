"""The sweeper: uploads that never arrived end ``EXPIRED`` (scheduled in AWS, periodic locally)."""

from __future__ import annotations

import time

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.logic.cancel import abort_upload
from anemonefish_services.logic.notify import BRIEF_WEBHOOK_POLICY, notify_terminal
from anemonefish_services.observability import job_context, logger
from anemonefish_services.settings import Settings


def expire_overdue_uploads(
    *, settings: Settings, repo: JobsRepository, storage: Storage, now: float | None = None
) -> list[str]:
    """Expire every job whose upload deadline has passed; the ids of the jobs expired."""
    now = time.time() if now is None else now
    expired: list[str] = []
    for job in repo.uploads_overdue(now):
        with job_context(job.job_id):
            done = repo.expire(job.job_id, now)
            if done is None:  # the upload arrived (or a cancel) in the meantime
                continue
            if done.upload_mode == "MULTIPART" and done.upload_id:
                abort_upload(storage, done)
            logger.info("upload never arrived: job expired")
            notify_terminal(done, settings, webhook_policy=BRIEF_WEBHOOK_POLICY, repo=repo)
            expired.append(job.job_id)
    return expired
