"""Publish a job's terminal state to the SNS topic.

The body is the :class:`JobEvent` JSON (tenant included: subscribers are operators). The
``status``, ``event_type``, ``job_id`` and ``tenant_id`` message attributes let
subscriptions filter (e.g. ``{"status": ["FAILED"]}``) without parsing the body.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from anemonefish_services.notifications.errors import SnsPublishError
from anemonefish_services.notifications.payload import JobEvent


def job_event_attributes(event: JobEvent) -> dict[str, dict[str, str]]:
    """SNS ``MessageAttributes`` for ``event`` (all String, so filter policies match them)."""
    attributes = {
        "status": event.data.status,
        "event_type": event.type,
        "job_id": event.data.job_id,
    }
    if event.data.tenant_id:
        attributes["tenant_id"] = event.data.tenant_id
    return {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()}


def publish_job_event(sns_client: Any, topic_arn: str, event: JobEvent) -> str:
    """Publish ``event`` to ``topic_arn`` with a boto3 SNS client; return the MessageId.

    Transient errors are retried by the client's own retry configuration; what still
    fails raises :class:`SnsPublishError` (the job's state is already written: the caller
    logs it and decides, a notification never moves a job backwards).
    """
    try:
        response = sns_client.publish(
            TopicArn=topic_arn,
            Subject=f"anemonefish job {event.data.status.lower()}",
            Message=event.to_json(include_tenant=True),
            MessageAttributes=job_event_attributes(event),
        )
    except (ClientError, BotoCoreError) as exc:
        raise SnsPublishError(
            f"publishing {event.type} for job {event.data.job_id} to {topic_arn} failed: {exc}"
        ) from exc
    return str(response["MessageId"])
