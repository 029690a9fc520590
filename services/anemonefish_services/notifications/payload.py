"""The body of a job's terminal-state notification, shared by webhooks and SNS.

``{"type": "job.succeeded", "timestamp": "...", "data": {"job_id", "status", "filename",
"result" | "error"}}`` -- the Standard Webhooks payload shape (type, timestamp, data).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

TerminalStatus = Literal["SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"]
JobEventType = Literal["job.succeeded", "job.failed", "job.cancelled", "job.expired"]

EVENT_TYPE_BY_STATUS: dict[str, JobEventType] = {
    "SUCCEEDED": "job.succeeded",
    "FAILED": "job.failed",
    "CANCELLED": "job.cancelled",
    "EXPIRED": "job.expired",
}


class ResultSummary(BaseModel):
    """What a finished job found; the documents themselves are fetched via ``GET /jobs/{id}``
    (presigned links expire, so they are not put into a message that may be read later)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events_count: int = Field(ge=0)
    audio_duration_s: float | None = Field(default=None, ge=0)
    processing_time_s: float | None = Field(default=None, ge=0)
    warnings: tuple[str, ...] = ()  # the detection's, as GET /jobs/{id} gives them


class ErrorSummary(BaseModel):
    """Why a job did not succeed: a stable code (e.g. ``corrupt_audio``) and a message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1)
    message: str


class JobEventData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(min_length=1)
    status: TerminalStatus
    filename: str
    tenant_id: str | None = None
    result: ResultSummary | None = None
    error: ErrorSummary | None = None

    @model_validator(mode="after")
    def _result_matches_status(self) -> Self:
        if self.status == "SUCCEEDED":
            if self.result is None or self.error is not None:
                raise ValueError("a SUCCEEDED job event carries a result and no error")
        elif self.result is not None:
            raise ValueError(f"a {self.status} job event carries no result")
        if self.status == "FAILED" and self.error is None:
            raise ValueError("a FAILED job event carries an error")
        return self


class JobEvent(BaseModel):
    """A job reached a terminal state. ``type`` always agrees with ``data.status``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: JobEventType
    timestamp: datetime
    data: JobEventData

    @model_validator(mode="after")
    def _type_matches_status(self) -> Self:
        if EVENT_TYPE_BY_STATUS[self.data.status] != self.type:
            raise ValueError(f"event type {self.type!r} does not match status {self.data.status!r}")
        if self.timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        return self

    @field_serializer("timestamp")
    def _timestamp_utc_z(self, value: datetime) -> str:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")

    @classmethod
    def for_job(
        cls,
        *,
        job_id: str,
        status: TerminalStatus,
        filename: str,
        result: ResultSummary | None = None,
        error: ErrorSummary | None = None,
        tenant_id: str | None = None,
        timestamp: datetime | None = None,
    ) -> JobEvent:
        """The event for a job that just reached ``status`` (timestamp defaults to now, UTC)."""
        return cls(
            type=EVENT_TYPE_BY_STATUS[status],
            timestamp=timestamp or datetime.now(UTC),
            data=JobEventData(
                job_id=job_id,
                status=status,
                filename=filename,
                tenant_id=tenant_id,
                result=result,
                error=error,
            ),
        )

    def to_json(self, *, include_tenant: bool = True) -> str:
        """Compact JSON body. Webhooks leave the tenant out: the receiver is the tenant, and
        the tenant id is an internal API-key id; SNS subscribers (operators) get it."""
        exclude = None if include_tenant else {"data": {"tenant_id"}}
        return self.model_dump_json(exclude=exclude)
