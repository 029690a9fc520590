"""Webhooks through their queue (logic.notify, worker.webhook_sender) on in-process moto: whoever
ends a job queues its webhook; the sender delivers it, SQS redelivering what a receiver missed.

Delivered inline, a receiver that never answered held the API's cancel for 8 s and a worker
for a minute a job, so one tenant's tarpit took the API and the workers from every tenant
(security review)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.exceptions import WebhookNotDeliveredError
from anemonefish_services.local.lambda_context import LocalLambdaContext
from anemonefish_services.local.resources import create_resources
from anemonefish_services.logic import notify
from anemonefish_services.models.job import JobRecord, JobStatus
from anemonefish_services.settings import Settings
from webhook_receiver import Receiver, Reply

SECRET = "whsec_" + "c2VydmljZS1zZWNyZXQtZm9yLXRoZS10ZXN0cy0zMmI="


def _answering(*statuses: int) -> Receiver:
    """A receiver answering with these statuses, then 200."""
    served = Receiver()
    served.replies.extend(Reply(status) for status in statuses)
    return served


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, JobsRepository]]:
    import os

    for name in [n for n in os.environ if n.startswith("ANEMONEFISH_") and n != "ANEMONEFISH_MODEL_DIR"]:
        monkeypatch.delenv(name)
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        env = create_resources(endpoint_url=None)  # type: ignore[arg-type]
        settings = Settings(
            input_bucket=env["ANEMONEFISH_INPUT_BUCKET"], output_bucket=env["ANEMONEFISH_OUTPUT_BUCKET"],
            jobs_table=env["ANEMONEFISH_JOBS_TABLE"], webhooks_queue_url=env["ANEMONEFISH_WEBHOOKS_QUEUE_URL"],
            webhook_secret=SECRET, allow_loopback_webhooks=True,
        )
        notify._sqs_clients.clear()  # made under another mock
        yield settings, JobsRepository(settings)
        notify._sqs_clients.clear()


def _finished(repo: JobsRepository, url: str, job_id: str = "0b6c2f7e-3a43-4a8e-9a55-1c6f1f0d7e21",
              status: JobStatus = JobStatus.CANCELLED) -> JobRecord:
    now = "2026-12-08T00:00:00.000000Z"
    job = JobRecord(job_id=job_id, tenant_id="t", status=status, filename="a.wav", size_bytes=10, webhook_url=url,
                    input_key=f"uploads/{job_id}/a.wav", upload_mode="PUT", created_at=now, updated_at=now,
                    finished_at=now, upload_expires_at=time.time() + 60, expires_at_epoch=int(time.time()) + 3600)
    assert repo.create(job)
    return job


def _bodies(receiver: Receiver) -> list[dict]:
    return [json.loads(request.body) for request in receiver.requests]


def _queued(settings: Settings) -> list[dict]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    answer = sqs.receive_message(QueueUrl=settings.webhooks_queue_url, MaxNumberOfMessages=10)
    return [{"MessageId": m["MessageId"], "Body": m["Body"]} for m in answer.get("Messages", [])]


def test_a_job_s_end_queues_its_webhook_and_sends_nothing_itself(stack, receiver) -> None:
    settings, repo = stack
    job = _finished(repo, receiver.url())
    tarpit = socket.socket()
    tarpit.bind(("127.0.0.1", 0))
    tarpit.listen()  # accepts, never answers: inline delivery waited on it
    try:
        other = _finished(repo, f"http://127.0.0.1:{tarpit.getsockname()[1]}/hook", job_id="5f0c2e1a-0000-4000-8000-000000000000")
        for ended in (job, other):
            notify.notify_terminal(ended, settings, repo=repo)
    finally:
        tarpit.close()
    assert _bodies(receiver) == []
    assert sorted(json.loads(m["Body"])["job_id"] for m in _queued(settings)) == sorted([job.job_id, other.job_id])
    assert repo.get(job.job_id).notified_at is not None


def test_the_sender_delivers_a_queued_webhook_signed_for_its_tenant(stack, receiver) -> None:
    settings, repo = stack
    job = _finished(repo, receiver.url())
    delivery = notify.send_queued_webhook(job.job_id, settings, repo)
    assert delivery is not None and delivery.delivered
    assert [(b["type"], b["data"]["job_id"], b["data"]["status"]) for b in _bodies(receiver)] == [
        ("job.cancelled", job.job_id, "CANCELLED")]


def test_a_receiver_that_may_take_it_later_has_the_message_come_back_and_a_refusal_is_final(stack) -> None:
    settings, repo = stack
    busy = _answering(503, 503, 503)
    refusing = _answering(410)
    try:
        later = _finished(repo, busy.url())
        with pytest.raises(WebhookNotDeliveredError, match="not delivered yet"):
            notify.send_queued_webhook(later.job_id, settings, repo)
        assert len(busy.requests) == 3  # its attempts within one receive
        final = _finished(repo, refusing.url(), job_id="5f0c2e1a-0000-4000-8000-000000000001")
        delivery = notify.send_queued_webhook(final.job_id, settings, repo)
        assert delivery is not None and delivery.outcome == "rejected" and len(refusing.requests) == 1
    finally:
        busy.close()
        refusing.close()


def test_a_message_naming_no_job_with_a_webhook_is_dropped(stack) -> None:
    settings, repo = stack
    assert notify.send_queued_webhook("5f0c2e1a-0000-4000-8000-00000000dead", settings, repo) is None


def test_the_sender_lambda_reports_only_the_undelivered_message_for_redelivery(stack, receiver, monkeypatch) -> None:
    settings, repo = stack
    from anemonefish_services.worker import webhook_sender

    monkeypatch.setattr(webhook_sender, "sender_deps", lambda: (settings, repo))
    busy = _answering(503, 503, 503)
    try:
        good = _finished(repo, receiver.url())
        bad = _finished(repo, busy.url(), job_id="5f0c2e1a-0000-4000-8000-000000000002")
        records = [{"messageId": f"m-{i}", "receiptHandle": "r", "body": body, "attributes": {}, "messageAttributes": {},
                    "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                    "awsRegion": "us-east-1"}
                   for i, body in enumerate([json.dumps({"job_id": good.job_id}), json.dumps({"job_id": bad.job_id}),
                                             "not json"])]
        answer = webhook_sender.lambda_handler({"Records": records}, LocalLambdaContext(function_name="webhooks"))
    finally:
        busy.close()
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert [b["data"]["job_id"] for b in _bodies(receiver)] == [good.job_id]


def test_without_a_webhooks_queue_the_webhook_is_delivered_inline(stack, receiver) -> None:
    """A deployment without the queue (the setting empty) delivers as before."""
    settings, repo = stack
    job = _finished(repo, receiver.url())
    notify.notify_terminal(job, settings.model_copy(update={"webhooks_queue_url": ""}), repo=repo)
    assert [b["data"]["job_id"] for b in _bodies(receiver)] == [job.job_id] and _queued(settings) == []


def test_a_webhook_that_cannot_be_queued_is_delivered_by_the_finisher_itself(stack, receiver, monkeypatch) -> None:
    """A failed send (a disabled key, a wrong URL) was logged, the job marked notified, and the
    webhook lost for good."""
    from botocore.exceptions import ClientError

    settings, repo = stack

    class Refusing:
        def send_message(self, **kwargs: object) -> None:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessage")

    monkeypatch.setattr(notify, "_sqs_client", lambda settings: Refusing())
    job = _finished(repo, receiver.url())
    notify.notify_terminal(job, settings, repo=repo, webhook_policy=notify.BRIEF_WEBHOOK_POLICY)
    assert [b["data"]["job_id"] for b in _bodies(receiver)] == [job.job_id]


def test_a_sender_that_cannot_sign_keeps_the_message_for_a_retry_and_then_its_dlq(stack, receiver) -> None:
    """It returned as if done: SQS deleted the message, and nothing reached the DLQ or its alarm."""
    settings, repo = stack
    job = _finished(repo, receiver.url())
    with pytest.raises(WebhookNotDeliveredError, match="no ANEMONEFISH_WEBHOOK_SECRET"):
        notify.send_queued_webhook(job.job_id, settings.model_copy(update={"webhook_secret": None}), repo)
    assert _bodies(receiver) == []
