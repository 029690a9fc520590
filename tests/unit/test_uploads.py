"""Completing a multipart upload (logic.uploads) when a client sends it again."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from anemonefish_services.exceptions import InvalidJobStateError, UploadIncompleteError
from anemonefish_services.logic.uploads import complete_upload, list_uploaded_parts
from anemonefish_services.models.api import CompleteUploadRequest
from anemonefish_services.models.job import JobRecord, JobStatus


class _Storage:
    """S3 as a retried complete finds it: the upload already assembled (or not)."""

    def __init__(self, object_size: int | None) -> None:
        self.object_size = object_size

    def complete_multipart(self, key, upload_id, parts):  # noqa: ANN001
        raise ClientError({"Error": {"Code": "NoSuchUpload", "Message": "gone"}}, "CompleteMultipartUpload")

    def head_input(self, key):  # noqa: ANN001
        return None if self.object_size is None else {"ContentLength": self.object_size}

    def list_parts(self, key, upload_id):  # noqa: ANN001
        raise ClientError({"Error": {"Code": "NoSuchUpload", "Message": "gone"}}, "ListParts")


class _Repo:
    def __init__(self, job: JobRecord) -> None:
        self.job = job

    def mark_queued(self, job_id):  # noqa: ANN001
        self.job = self.job.model_copy(update={"status": JobStatus.QUEUED})
        return self.job

    def get(self, job_id):  # noqa: ANN001
        return self.job


def _job(status: JobStatus = JobStatus.AWAITING_UPLOAD) -> JobRecord:
    return JobRecord(job_id="j", tenant_id="t", status=status, filename="a.wav", size_bytes=1000, input_key="uploads/j/a.wav",
                     upload_mode="MULTIPART", upload_id="u", part_size=500, part_count=2, created_at="2026-01-01T00:00:00Z",
                     updated_at="2026-01-01T00:00:00Z", upload_expires_at=time.time() + 60, expires_at_epoch=0)


PARTS = CompleteUploadRequest(parts=[{"part_number": 1, "etag": '"a"'}, {"part_number": 2, "etag": '"b"'}])


def test_a_complete_sent_again_after_s3_assembled_the_upload_queues_the_job():
    """The first call assembled the object in S3 and died before queueing the job."""
    repo = _Repo(_job())
    assert complete_upload(repo.job, PARTS, repo=repo, storage=_Storage(object_size=1000)).status is JobStatus.QUEUED


@pytest.mark.parametrize("object_size", [None, 999])  # nothing there, or not the announced object
def test_a_vanished_upload_without_its_object_is_still_refused(object_size):
    repo = _Repo(_job())
    with pytest.raises(UploadIncompleteError, match="NoSuchUpload"):
        complete_upload(repo.job, PARTS, repo=repo, storage=_Storage(object_size))


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED])
def test_a_complete_sent_again_after_the_job_moved_on_gets_the_job(status):
    job = _job(status)
    assert complete_upload(job, PARTS, repo=_Repo(job), storage=_Storage(None)) is job


@pytest.mark.parametrize("status", [JobStatus.CANCELLED, JobStatus.EXPIRED])
def test_a_cancelled_or_expired_upload_stays_closed(status):
    job = _job(status)
    with pytest.raises(InvalidJobStateError):
        complete_upload(job, PARTS, repo=_Repo(job), storage=_Storage(None))


@pytest.mark.parametrize("status", [JobStatus.CANCELLED, JobStatus.EXPIRED])
def test_a_complete_whose_upload_a_cancel_aborted_meanwhile_is_a_409_not_an_incomplete_upload(status):
    """DELETE /jobs/{id} lands between this call's state check and S3's complete."""
    repo = _Repo(_job())
    started = repo.job
    repo.job = started.model_copy(update={"status": status})  # the cancel's write, after the check
    with pytest.raises(InvalidJobStateError, match=status.value):
        complete_upload(started, PARTS, repo=repo, storage=_Storage(None))


@pytest.mark.parametrize("status", [JobStatus.CANCELLED, JobStatus.EXPIRED])
def test_a_list_of_parts_whose_upload_a_cancel_aborted_meanwhile_is_a_409_not_a_500(status):
    """A client resuming asks S3 for its parts as DELETE /jobs/{id} lands: S3's NoSuchUpload
    was an internal error."""
    repo = _Repo(_job())
    started = repo.job
    repo.job = started.model_copy(update={"status": status})
    with pytest.raises(InvalidJobStateError, match=status.value):
        list_uploaded_parts(started, repo=repo, storage=_Storage(None))


class _RepoThatMovesOn(_Repo):
    """The job moves on while a complete with a digest records it: the first complete's S3
    event is claimed (RUNNING), or DELETE /jobs/{id} lands (CANCELLED)."""

    def __init__(self, job: JobRecord, becomes: JobStatus) -> None:
        super().__init__(job)
        self.becomes = becomes

    def record_sha256(self, job_id, sha256):  # noqa: ANN001
        self.job = self.job.model_copy(update={"status": self.becomes})
        return None


def test_a_retried_complete_with_a_digest_gets_the_job_that_moved_on_not_a_409():
    repo = _RepoThatMovesOn(_job(), JobStatus.RUNNING)
    request = PARTS.model_copy(update={"sha256": "a" * 64})
    assert complete_upload(repo.job, request, repo=repo, storage=_Storage(object_size=1000)).status is JobStatus.RUNNING


def test_a_complete_with_a_digest_that_a_cancel_overtook_is_a_409_naming_the_status():
    repo = _RepoThatMovesOn(_job(), JobStatus.CANCELLED)
    request = PARTS.model_copy(update={"sha256": "a" * 64})
    with pytest.raises(InvalidJobStateError, match="CANCELLED") as refused:
        complete_upload(repo.job, request, repo=repo, storage=_Storage(object_size=1000))
    assert refused.value.details == {"status": "CANCELLED"}  # as every other 409 of the API says


def test_a_digest_that_contradicts_the_job_s_is_refused_naming_the_field():
    from anemonefish_services.exceptions import InvalidRequestError

    job = _job().model_copy(update={"sha256": "B" * 64})  # an old record, in upper case
    request = PARTS.model_copy(update={"sha256": "c" * 64})
    with pytest.raises(InvalidRequestError) as refused:
        complete_upload(job, request, repo=_Repo(job), storage=_Storage(object_size=1000))
    assert refused.value.details == {"field": "sha256"}


class _PartsOfSizes(_Storage):
    """An open upload whose parts S3 holds at the given sizes."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__(object_size=None)
        self.sizes = sizes
        self.completed = False

    def list_parts(self, key, upload_id):  # noqa: ANN001
        return [{"PartNumber": n, "Size": size, "ETag": '"e"'} for n, size in enumerate(self.sizes, 1)]

    def complete_multipart(self, key, upload_id, parts):  # noqa: ANN001
        self.completed = True


def test_parts_of_the_planned_sizes_are_assembled():
    repo = _Repo(_job())
    storage = _PartsOfSizes([500, 500])
    assert complete_upload(repo.job, PARTS, repo=repo, storage=storage).status is JobStatus.QUEUED
    assert storage.completed


@pytest.mark.parametrize(("sizes", "wrong"), [([500, 499], [2]), ([5_000_000, 500], [1]), ([400, 600], [1, 2])])
def test_parts_of_other_sizes_than_the_plan_are_refused_before_assembly_naming_them(sizes, wrong):
    """Only a store that does not check the URLs' signed lengths (moto) takes them, but the
    object would only fail its job later, its bytes kept."""
    repo = _Repo(_job())
    storage = _PartsOfSizes(sizes)
    with pytest.raises(UploadIncompleteError, match=f"part {wrong[0]} holds {sizes[wrong[0] - 1]} bytes") as refused:
        complete_upload(repo.job, PARTS, repo=repo, storage=storage)
    assert refused.value.details["part_numbers"] == wrong
    assert not storage.completed and repo.job.status is JobStatus.AWAITING_UPLOAD
