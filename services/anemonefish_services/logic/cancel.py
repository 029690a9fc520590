"""``DELETE /jobs/{id}``: cancel a job that has not finished, aborting an open multipart upload."""

from __future__ import annotations

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.exceptions import InvalidJobStateError
from anemonefish_services.logic.notify import BRIEF_WEBHOOK_POLICY, notify_terminal
from anemonefish_services.logic.results import discard_results
from anemonefish_services.models.job import JobRecord
from anemonefish_services.observability import logger
from anemonefish_services.settings import Settings


def cancel_job(job: JobRecord, *, settings: Settings, repo: JobsRepository, storage: Storage) -> JobRecord:
    cancelled = repo.cancel(job.job_id)
    if cancelled is None:
        current = repo.get(job.job_id) or job
        raise InvalidJobStateError(
            f"the job is already {current.status.value}", details={"status": current.status.value}
        )
    # A running worker notices at its next progress write and stops without writing results
    # (or, if it was writing them, takes them back: process_job._finish).
    if cancelled.upload_mode == "MULTIPART" and cancelled.upload_id:
        abort_upload(storage, cancelled)
    if cancelled.attempts > 0:  # an attempt may have written documents, then died before SUCCEEDED
        discard_results(cancelled.job_id, storage, why="cancelled")
    logger.info("job cancelled", extra={"previous_status": job.status.value})
    notify_terminal(cancelled, settings, webhook_policy=BRIEF_WEBHOOK_POLICY, repo=repo)
    return cancelled


def abort_upload(storage: Storage, job: JobRecord) -> None:
    """Abort a finished job's open multipart upload. A failure is logged, not raised: the job's
    state is written and its notification must still go out; the bucket's lifecycle rule
    removes incomplete uploads anyway."""
    try:
        storage.abort_multipart(job.input_key, job.upload_id)
    except Exception:
        logger.exception("could not abort the multipart upload; the lifecycle rule will")
