"""Multipart uploads after creation: more part URLs, parts already uploaded, completion."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.exceptions import (
    InvalidJobStateError,
    InvalidRequestError,
    JobNotFoundError,
    NotMultipartUploadError,
    UploadIncompleteError,
)
from anemonefish_services.models.api import (
    CompleteUploadRequest,
    PartUrl,
    PartUrlsResponse,
    UploadedPart,
    UploadedPartsResponse,
)
from anemonefish_services.models.job import JobRecord, JobStatus
from anemonefish_services.settings import Settings


def _require_open_multipart(job: JobRecord) -> tuple[str, int]:
    if job.upload_mode != "MULTIPART" or not job.upload_id or not job.part_count:
        raise NotMultipartUploadError("this job's upload is a single PUT, not a multipart upload")
    if job.status is not JobStatus.AWAITING_UPLOAD:
        raise InvalidJobStateError(
            f"the upload is closed: the job is {job.status.value}", details={"status": job.status.value}
        )
    return job.upload_id, job.part_count


def _refuse_if_ended_meanwhile(job_id: str, repo: JobsRepository) -> None:
    """S3 knows the upload no more: a job cancelled (or expired) while this call was under way,
    which aborted it, gets the 409 a call after the cancel gets, not a 500 or a 400."""
    if (now := repo.get(job_id)) is not None and now.status.is_terminal:
        _require_open_multipart(now)


def _refuse_parts_of_other_sizes(job: JobRecord, storage: Storage) -> None:
    """Refuse to assemble parts whose sizes are not the upload's plan: the part URLs sign their
    length, so only a store that does not check signatures (the local stack's moto) takes
    others, but an object of another size than the job declared would only fail the job later,
    its bytes kept. An upload S3 no longer lists (assembled by an earlier call, or aborted) is
    left to the complete, which tells the two apart."""
    try:
        held = storage.list_parts(job.input_key, job.upload_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            return
        raise
    wrong = [(p["PartNumber"], p["Size"]) for p in held
             if 1 <= p["PartNumber"] <= (job.part_count or 0) and p["Size"] != job.part_bytes(p["PartNumber"])]
    if wrong:
        number, size = wrong[0]
        raise UploadIncompleteError(
            f"part {number} holds {size} bytes where the upload's plan gives it {job.part_bytes(number)} "
            f"({len(wrong)} part(s) of the wrong size): send those parts again",
            details={"field": "parts", "part_numbers": [n for n, _ in wrong][:100]},
        )


def sign_parts(job: JobRecord, part_numbers: list[int], *, settings: Settings, storage: Storage) -> PartUrlsResponse:
    upload_id, part_count = _require_open_multipart(job)
    beyond = [n for n in part_numbers if n > part_count]
    if beyond:
        raise InvalidRequestError(
            f"part numbers {beyond[:5]} exceed the upload's {part_count} parts", details={"field": "part_numbers"}
        )
    expires_at = datetime.fromtimestamp(time.time() + settings.presign_expires_s, UTC)
    return PartUrlsResponse(
        parts=[
            PartUrl(part_number=n, url=storage.presign_part(job.input_key, upload_id, n, job.part_bytes(n)))
            for n in sorted(set(part_numbers))
        ],
        expires_at=expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        expires_in_s=settings.presign_expires_s,
    )


def list_uploaded_parts(job: JobRecord, *, repo: JobsRepository, storage: Storage) -> UploadedPartsResponse:
    upload_id, part_count = _require_open_multipart(job)
    try:
        parts = storage.list_parts(job.input_key, upload_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            _refuse_if_ended_meanwhile(job.job_id, repo)
        raise
    return UploadedPartsResponse(
        upload_id=upload_id,
        part_size=job.part_size or 0,
        part_count=part_count,
        parts=[UploadedPart(part_number=p["PartNumber"], etag=p["ETag"], size=p["Size"]) for p in parts],
    )


# After these the upload was completed once already: a repeated complete is answered, not refused.
_UPLOADED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED})


def _record_sha256(job: JobRecord, sha256: str, repo: JobsRepository) -> JobRecord | None:
    """Keep the digest a client computed while uploading, for the worker to check. Returns the
    job if it has moved past its upload meanwhile (a retried complete whose first call went
    through): the caller answers with it, as for any complete sent again."""
    differs = InvalidRequestError(
        "sha256 differs from the digest this job already has: is this the same file?", details={"field": "sha256"}
    )
    if job.sha256 and job.sha256.lower() != sha256:
        raise differs
    if repo.record_sha256(job.job_id, sha256) is not None:
        return None
    current = repo.get(job.job_id)  # the condition failed: the job moved on, or a racing call
    if current is not None and current.status in _UPLOADED:
        return current
    if current is not None and current.sha256 and current.sha256.lower() != sha256:
        raise differs
    if current is None:  # gone meanwhile (its record's TTL)
        raise JobNotFoundError(f"no job {job.job_id}")
    if current.status is not JobStatus.AWAITING_UPLOAD:
        raise InvalidJobStateError(f"the upload is closed: the job is {current.status.value}",
                                   details={"status": current.status.value})
    return None


def complete_upload(
    job: JobRecord, request: CompleteUploadRequest, *, repo: JobsRepository, storage: Storage
) -> JobRecord:
    """Complete the multipart upload and queue the job; idempotent.

    Completing a multi-GB upload can outlast a client's timeout, so a client may send it
    again after it worked: a job past its upload, or one whose S3 upload is already
    assembled (``NoSuchUpload`` with the object in place), gets the answer the first call got.
    """
    if job.upload_mode == "MULTIPART" and job.status in _UPLOADED:
        return job
    upload_id, part_count = _require_open_multipart(job)
    numbers = [p.part_number for p in request.parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidRequestError("parts lists a part number twice", details={"field": "parts"})
    if sorted(numbers) != list(range(1, part_count + 1)):
        raise InvalidRequestError(
            f"parts must list every part 1..{part_count} exactly once", details={"field": "parts"}
        )
    _refuse_parts_of_other_sizes(job, storage)
    if request.sha256:
        # Recorded before S3 assembles the object: the worker claims the job only after that.
        moved_on = _record_sha256(job, request.sha256, repo)
        if moved_on is not None:
            return moved_on
    try:
        storage.complete_multipart(job.input_key, upload_id, [(p.part_number, p.etag) for p in request.parts])
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code")
        assembled = code == "NoSuchUpload" and (head := storage.head_input(job.input_key)) is not None
        if not (assembled and head.get("ContentLength") == job.size_bytes):
            if code == "NoSuchUpload":
                _refuse_if_ended_meanwhile(job.job_id, repo)
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"):
                raise UploadIncompleteError(
                    f"S3 refused the upload: {code}: {error.get('Message', '')}",
                    details={"field": "parts", "s3_code": code},
                ) from exc
            raise
    # The S3 event may already have moved the job on (QUEUED/RUNNING): that is fine.
    return repo.mark_queued(job.job_id) or repo.get(job.job_id) or job
