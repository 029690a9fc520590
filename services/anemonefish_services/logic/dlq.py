"""Dead letters: a job whose message exhausted its retries is marked ``FAILED``, so no client
waits forever for a job that will never run again."""

from __future__ import annotations

import time

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.exceptions import TransientJobError
from anemonefish_services.logic.notify import notify_terminal
from anemonefish_services.models.job import JobError, JobStatus
from anemonefish_services.observability import MetricUnit, logger, metrics
from anemonefish_services.settings import Settings


def fail_dead_lettered(job_id: str, *, receive_count: int | None, settings: Settings, repo: JobsRepository) -> bool:
    """Mark the job FAILED unless it finished; True if this call failed it."""
    job = repo.get(job_id)
    if job is None or job.status.is_terminal:
        return False
    if job.status is JobStatus.RUNNING and (job.lease_expires_at or 0) > time.time():
        # A worker still holds a live lease (a duplicate message was dead-lettered while the
        # job runs): look again later rather than failing a job that may yet succeed.
        raise TransientJobError(f"job {job_id} is still running under a live lease")
    tries = f" after {receive_count} attempts" if receive_count else ""
    failed = repo.fail(
        job_id,
        JobError(code="processing_failed", message=f"processing kept failing{tries}; the job was given up"),
    )
    if failed is None:
        return False
    logger.error("dead-lettered job marked FAILED", extra={"receive_count": receive_count})
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    notify_terminal(failed, settings)
    return True
