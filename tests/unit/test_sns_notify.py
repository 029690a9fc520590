"""SNS publication of job events, through in-process moto: SQS subscribers with and without
a filter policy on the ``status`` attribute receive exactly what they subscribed to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from anemonefish_services.notifications import (
    ErrorSummary,
    JobEvent,
    ResultSummary,
    SnsPublishError,
    publish_job_event,
)

REGION = "eu-west-1"


@pytest.fixture
def aws(fake_aws_credentials: Any) -> Iterator[dict[str, Any]]:
    fake_aws_credentials(REGION)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="anemonefish-test-job-events")["TopicArn"]
        yield {"sns": sns, "sqs": sqs, "topic_arn": topic_arn}


def subscribe_queue(aws: dict[str, Any], name: str, *, filter_policy: dict | None = None, raw: bool = False) -> str:
    sqs, sns = aws["sqs"], aws["sns"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes: dict[str, str] = {}
    if filter_policy is not None:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    if raw:
        attributes["RawMessageDelivery"] = "true"
    sns.subscribe(TopicArn=aws["topic_arn"], Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    return queue_url


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def succeeded(job_id: str) -> JobEvent:
    return JobEvent.for_job(
        job_id=job_id,
        status="SUCCEEDED",
        filename="reef.wav",
        tenant_id="tenant-a",
        result=ResultSummary(events_count=3, audio_duration_s=60.0, processing_time_s=0.8),
    )


def failed(job_id: str) -> JobEvent:
    return JobEvent.for_job(
        job_id=job_id,
        status="FAILED",
        filename="broken.flac",
        tenant_id="tenant-b",
        error=ErrorSummary(code="corrupt_audio", message="the FLAC stream is damaged"),
    )


def test_filter_policy_on_status_delivers_only_matching_events(aws: dict[str, Any]) -> None:
    failures = subscribe_queue(aws, "failures", filter_policy={"status": ["FAILED"]})
    everything = subscribe_queue(aws, "everything")

    ids = [
        publish_job_event(aws["sns"], aws["topic_arn"], succeeded("job-1")),
        publish_job_event(aws["sns"], aws["topic_arn"], failed("job-2")),
        publish_job_event(aws["sns"], aws["topic_arn"], succeeded("job-3")),
    ]
    assert len(set(ids)) == 3 and all(ids)

    [only] = drain(aws["sqs"], failures)
    envelope = json.loads(only["Body"])
    assert envelope["TopicArn"] == aws["topic_arn"]
    assert envelope["MessageAttributes"]["status"] == {"Type": "String", "Value": "FAILED"}
    assert envelope["MessageAttributes"]["event_type"] == {"Type": "String", "Value": "job.failed"}
    assert envelope["MessageAttributes"]["job_id"] == {"Type": "String", "Value": "job-2"}
    assert envelope["MessageAttributes"]["tenant_id"] == {"Type": "String", "Value": "tenant-b"}
    body = json.loads(envelope["Message"])
    assert body["type"] == "job.failed"
    assert body["data"] == {
        "job_id": "job-2",
        "status": "FAILED",
        "filename": "broken.flac",
        "tenant_id": "tenant-b",
        "result": None,
        "error": {"code": "corrupt_audio", "message": "the FLAC stream is damaged"},
    }
    assert JobEvent.model_validate_json(envelope["Message"]).data == failed("job-2").data

    received = [json.loads(json.loads(m["Body"])["Message"]) for m in drain(aws["sqs"], everything)]
    assert sorted((b["data"]["job_id"], b["data"]["status"]) for b in received) == [
        ("job-1", "SUCCEEDED"),
        ("job-2", "FAILED"),
        ("job-3", "SUCCEEDED"),
    ]


def test_filter_on_several_statuses(aws: dict[str, Any]) -> None:
    not_succeeded = subscribe_queue(aws, "not-succeeded", filter_policy={"status": ["FAILED", "CANCELLED", "EXPIRED"]})
    publish_job_event(aws["sns"], aws["topic_arn"], succeeded("job-1"))
    publish_job_event(aws["sns"], aws["topic_arn"], JobEvent.for_job(job_id="job-4", status="CANCELLED", filename="a.wav"))
    publish_job_event(aws["sns"], aws["topic_arn"], JobEvent.for_job(job_id="job-5", status="EXPIRED", filename="b.wav"))
    statuses = sorted(json.loads(m["Body"])["MessageAttributes"]["status"]["Value"] for m in drain(aws["sqs"], not_succeeded))
    assert statuses == ["CANCELLED", "EXPIRED"]


def test_raw_delivery_carries_sqs_message_attributes(aws: dict[str, Any]) -> None:
    raw_queue = subscribe_queue(aws, "raw", raw=True, filter_policy={"status": ["SUCCEEDED"]})
    publish_job_event(aws["sns"], aws["topic_arn"], failed("job-2"))
    publish_job_event(aws["sns"], aws["topic_arn"], succeeded("job-1"))
    [message] = drain(aws["sqs"], raw_queue)
    assert message["MessageAttributes"]["status"] == {"StringValue": "SUCCEEDED", "DataType": "String"}
    assert message["MessageAttributes"]["job_id"]["StringValue"] == "job-1"
    event = JobEvent.model_validate_json(message["Body"])
    assert event.data.result == ResultSummary(events_count=3, audio_duration_s=60.0, processing_time_s=0.8)


def test_no_tenant_attribute_when_the_event_has_no_tenant(aws: dict[str, Any]) -> None:
    queue = subscribe_queue(aws, "all")
    publish_job_event(aws["sns"], aws["topic_arn"], JobEvent.for_job(job_id="job-6", status="EXPIRED", filename="c.wav"))
    [message] = drain(aws["sqs"], queue)
    assert set(json.loads(message["Body"])["MessageAttributes"]) == {"status", "event_type", "job_id"}


def test_publish_to_a_missing_topic_raises_a_clear_error(aws: dict[str, Any]) -> None:
    missing = aws["topic_arn"].replace("anemonefish-test-job-events", "no-such-topic")
    with pytest.raises(SnsPublishError, match="job-1") as raised:
        publish_job_event(aws["sns"], missing, succeeded("job-1"))
    assert raised.value.code == "sns_publish_failed"
    assert "no-such-topic" in str(raised.value)


def test_a_job_s_event_is_dated_when_the_job_ended_so_a_resend_is_the_same_message():
    """It was dated when sent: a resend (the dead-letter consumer's, days later) carried another
    body under the same webhook-id, and the event's time was not when the job ended."""
    import time as _time

    from anemonefish_services.logic.notify import job_event
    from anemonefish_services.models.job import JobRecord, JobStatus

    job = JobRecord(job_id="j", tenant_id="t", status=JobStatus.CANCELLED, filename="a.wav", size_bytes=10,
                    input_key="uploads/j/a.wav", upload_mode="PUT", created_at="2026-01-01T00:00:00Z",
                    updated_at="2026-01-03T09:00:00Z", finished_at="2026-01-02T08:30:05Z",
                    upload_expires_at=_time.time(), expires_at_epoch=0)
    first = job_event(job)
    assert first.to_json().count('"timestamp":"2026-01-02T08:30:05Z"') == 1
    _time.sleep(0.01)
    assert job_event(job).to_json() == first.to_json()
