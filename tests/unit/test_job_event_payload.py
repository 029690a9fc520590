"""The job event body shared by webhooks and SNS: shape, consistency rules, serialisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from anemonefish_services.notifications.payload import ErrorSummary, JobEvent, ResultSummary


def test_type_follows_status_and_timestamp_is_utc_z() -> None:
    stamp = datetime(2026, 11, 23, 8, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    for status, expected in (
        ("SUCCEEDED", "job.succeeded"),
        ("FAILED", "job.failed"),
        ("CANCELLED", "job.cancelled"),
        ("EXPIRED", "job.expired"),
    ):
        kwargs: dict = {}
        if status == "SUCCEEDED":
            kwargs["result"] = ResultSummary(events_count=0)
        if status == "FAILED":
            kwargs["error"] = ErrorSummary(code="corrupt_audio", message="bad")
        event = JobEvent.for_job(job_id="j", status=status, filename="a.wav", timestamp=stamp, **kwargs)
        body = json.loads(event.to_json())
        assert body["type"] == expected
        assert body["timestamp"] == "2026-11-23T06:00:00Z"
        assert JobEvent.model_validate_json(event.to_json()) == event


def test_tenant_left_out_only_on_request() -> None:
    event = JobEvent.for_job(job_id="j", status="CANCELLED", filename="a.wav", tenant_id="t-1")
    assert json.loads(event.to_json())["data"]["tenant_id"] == "t-1"
    assert "tenant_id" not in json.loads(event.to_json(include_tenant=False))["data"]


@pytest.mark.parametrize(
    ("status", "kwargs", "message"),
    [
        ("SUCCEEDED", {}, "carries a result"),
        ("SUCCEEDED", {"result": ResultSummary(events_count=1), "error": ErrorSummary(code="x", message="y")}, "no error"),
        ("FAILED", {}, "carries an error"),
        ("FAILED", {"error": ErrorSummary(code="x", message="y"), "result": ResultSummary(events_count=1)}, "no result"),
        ("CANCELLED", {"result": ResultSummary(events_count=1)}, "no result"),
    ],
)
def test_inconsistent_events_are_refused(status: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        JobEvent.for_job(job_id="j", status=status, filename="a.wav", **kwargs)  # type: ignore[arg-type]


def test_type_and_status_must_agree_and_timestamps_be_aware() -> None:
    good = json.loads(JobEvent.for_job(job_id="j", status="EXPIRED", filename="a.wav").to_json())
    with pytest.raises(ValidationError, match="does not match"):
        JobEvent.model_validate({**good, "type": "job.succeeded"})
    with pytest.raises(ValidationError, match="timezone-aware"):
        JobEvent.model_validate({**good, "timestamp": "2026-11-23T06:00:00"})
    with pytest.raises(ValidationError):
        JobEvent.model_validate({**good, "data": {**good["data"], "status": "RUNNING"}})
    with pytest.raises(ValidationError):
        ResultSummary(events_count=-1)
    assert JobEvent.model_validate(good).timestamp.tzinfo is not None
    assert JobEvent.model_validate(good).timestamp <= datetime.now(UTC)
