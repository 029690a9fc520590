"""The job record as stored in the jobs table, and its state machine."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    AWAITING_UPLOAD = "AWAITING_UPLOAD"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
)
ACTIVE_STATES = frozenset(set(JobStatus) - TERMINAL_STATES)


class JobError(BaseModel):
    code: str
    message: str


class JobResult(BaseModel):
    """Summary of a finished detection; ``documents`` maps a format to its key in the output bucket."""

    events_count: int
    audio_duration_s: float
    processing_time_s: float
    documents: dict[str, str]
    warnings: list[str] = Field(default_factory=list)  # the detection's (a recording cut short, ...)


class JobRecord(BaseModel):
    """One item of the jobs table (hash key ``job_id``; GSI ``tenant-created-index``)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    tenant_id: str
    status: JobStatus
    filename: str
    size_bytes: int
    content_type: str | None = None
    sha256: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = None
    input_key: str
    upload_mode: Literal["PUT", "MULTIPART"]
    upload_id: str | None = None
    part_size: int | None = None
    part_count: int | None = None
    created_at: str  # ISO 8601 UTC with microseconds: sorts as it reads
    updated_at: str
    upload_expires_at: float  # epoch seconds: after this an upload that never arrived is EXPIRED
    expires_at_epoch: int  # DynamoDB TTL
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    progress: float | None = None
    attempts: int = 0
    last_error: str | None = None  # why the last attempt was released (transient), for the DLQ's verdict
    timed_out_attempt: int | None = None  # the last attempt that had a whole invocation and ran out of it
    redrives: int = 0  # times a lost worker's job (RUNNING, lease lapsed) was re-sent: max_redrives fails it
    queued_redrives: int = 0  # times a QUEUED job's event was re-sent in case it was lost: waiting is no loss
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    lease_message_id: str | None = None  # the SQS message the lease holder is working on
    started_at: str | None = None
    finished_at: str | None = None
    notified_at: str | None = None  # when the terminal state's SNS message and webhook went out
    result: JobResult | None = None
    error: JobError | None = None

    def part_bytes(self, part_number: int) -> int:
        """The bytes part ``part_number`` of the multipart upload holds: ``part_size``, the last
        part the rest."""
        assert self.part_size and self.part_count and 1 <= part_number <= self.part_count
        return min(self.part_size, self.size_bytes - (part_number - 1) * self.part_size)
