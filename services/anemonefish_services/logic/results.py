"""A job that ends other than ``SUCCEEDED`` keeps no result documents: nothing half-written;
a cancelled or expired one keeps no recording either."""

from __future__ import annotations

from anemonefish_services.dal.storage import Storage, job_result_keys
from anemonefish_services.observability import logger


def discard_results(job_id: str, storage: Storage, *, why: str) -> None:
    """Delete whatever documents a worker wrote for the job before it stopped (none is fine).

    Called after the job's terminal state is set, so a failure here changes nothing for the
    client: it is logged, and what stays expires with the output bucket's lifecycle rule."""
    try:
        storage.delete_results(job_result_keys(job_id))
    except Exception:
        logger.exception(f"could not delete the result documents of a job {why}; "
                         "they expire with the output bucket's lifecycle rule")


def discard_upload(key: str, storage: Storage, *, why: str) -> None:
    """Delete the recording of a job that was cancelled (or expired) rather than analysed: no one
    will analyse it, a cancel is often of a wrong or private file, and a single PUT's URL stays
    valid after its job ended. Logged on failure: the input bucket's lifecycle removes it later."""
    try:
        storage.delete_input(key)
    except Exception:
        logger.exception(f"could not delete the upload of a job {why}; the bucket's lifecycle will")
    else:
        logger.info("upload of an ended job deleted", extra={"why": why})
