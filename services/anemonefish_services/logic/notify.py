"""Tell the world a job reached a terminal state: SNS (always) and its webhook (if asked).

Called by whoever made the terminal transition (the conditional write succeeded), which then
records ``notified_at``. With a webhooks queue (``ANEMONEFISH_WEBHOOKS_QUEUE_URL``, as deployed
and on the local stack) the webhook is queued here and delivered by the webhook sender
(:func:`send_queued_webhook`) on capacity of its own: delivered inline, a receiver that never
answers held the API's cancel for 8 s and a worker for a minute a job, so one tenant's tarpit
took the API and the workers from every tenant. Should that caller die between the two (a
Lambda killed while a slow webhook receiver answers), its message comes back and the worker
sends them again (:func:`notify_unnotified`), or the dead-letter consumer does if that
message ran out of receives: at least once, with the same ``webhook-id`` for receivers to drop a repeat by. A
failing notification is logged and never changes the job.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from anemonefish_services import aws
from anemonefish_services.dal.jobs import JobsRepository, epoch_of
from anemonefish_services.exceptions import NotificationPendingError, WebhookNotDeliveredError
from anemonefish_services.models.job import JobRecord
from anemonefish_services.notifications import (
    ErrorSummary,
    JobEvent,
    NotificationError,
    ResultSummary,
    WebhookDelivery,
    WebhookRetryPolicy,
    deliver_webhook,
    publish_job_event,
    tenant_webhook_secret,
)
from anemonefish_services.observability import logger
from anemonefish_services.settings import Settings


def job_event(job: JobRecord) -> JobEvent:
    result = error = None
    if job.result is not None and job.status.value == "SUCCEEDED":
        result = ResultSummary(
            events_count=job.result.events_count,
            audio_duration_s=job.result.audio_duration_s,
            processing_time_s=job.result.processing_time_s,
            warnings=tuple(job.result.warnings),
        )
    if job.error is not None and job.status.value != "SUCCEEDED":
        error = ErrorSummary(code=job.error.code, message=job.error.message)
    return JobEvent.for_job(
        job_id=job.job_id,
        status=job.status.value,  # type: ignore[arg-type]
        filename=job.filename,
        tenant_id=job.tenant_id,
        result=result,
        error=error,
        # When the job ended, not when this message is sent: a resend days later (the DLQ
        # consumer's) carries the same body under the same webhook-id, as Standard Webhooks means.
        timestamp=datetime.fromtimestamp(epoch_of(job.finished_at or job.updated_at), UTC),
    )


def notify_terminal(
    job: JobRecord,
    settings: Settings,
    *,
    sns_client: Any | None = None,
    webhook_policy: WebhookRetryPolicy | None = None,
    repo: JobsRepository | None = None,
) -> None:
    """Publish and deliver, then (with ``repo``) record ``notified_at``; never raises (the
    job's state is already written)."""
    try:
        _notify(job, settings, sns_client, webhook_policy)
    except Exception:
        logger.exception("notification failed", extra={"status": job.status.value})
    if repo is not None:
        try:
            repo.mark_notified(job.job_id)
        except Exception:  # the notification went out; a repeat is the worst that follows
            logger.exception("could not record the notification")


# Longer than a finisher takes to notify (a webhook's retries: 60 s at most, SNS: seconds).
NOTIFY_GRACE_S = 180.0


def notify_unnotified(
    job: JobRecord,
    settings: Settings,
    *,
    sns_client: Any | None = None,
    webhook_policy: WebhookRetryPolicy | None = None,
    repo: JobsRepository,
) -> None:
    """A finished job whose notifications were never recorded: its finisher died between its
    terminal write and the end of its notifications (its message brings us here once its
    visibility lapses). Send them again -- unless the finisher may still be at it, in which
    case :class:`NotificationPendingError` has the message retried later rather than dropped."""
    if time.time() - epoch_of(job.finished_at or job.updated_at) < NOTIFY_GRACE_S:
        raise NotificationPendingError(f"job {job.job_id} finished {job.status.value} moments ago; its notification may be on its way")
    logger.warning("finished job was never notified: notifying now", extra={"status": job.status.value})
    notify_terminal(job, settings, sns_client=sns_client, webhook_policy=webhook_policy, repo=repo)


# Every notifier but the worker gets a short budget: the API answers within API Gateway's
# 29 s (a cancel's webhook), and the DLQ consumer and the sweeper notify their jobs one after
# another within their own timeouts (infra: dlq_timeout_seconds, sweeper_timeout_seconds).
BRIEF_WEBHOOK_POLICY = WebhookRetryPolicy(max_attempts=2, base_delay_s=0.5, total_timeout_s=8.0,
                                        connect_timeout_s=3.0, read_timeout_s=4.0)


# A queued delivery's attempts within one receive; SQS brings a message it did not deliver
# back after the queue's visibility timeout, up to its maxReceiveCount (then its DLQ).
QUEUED_WEBHOOK_POLICY = WebhookRetryPolicy(max_attempts=3, base_delay_s=1.0, max_delay_s=8.0, total_timeout_s=30.0,
                                         connect_timeout_s=5.0, read_timeout_s=10.0)

_sqs_clients: dict[tuple[str, str | None], Any] = {}
_sqs_lock = threading.Lock()


def _sqs_client(settings: Settings) -> Any:
    """One SQS client per region and endpoint for the process (a client costs tens of ms to make)."""
    key = (settings.region, settings.aws_endpoint_url)
    with _sqs_lock:
        if key not in _sqs_clients:
            _sqs_clients[key] = aws.client("sqs", settings)
        return _sqs_clients[key]


def send_queued_webhook(job_id: str, settings: Settings, repo: JobsRepository) -> WebhookDelivery | None:
    """Deliver the webhook of a job the webhooks queue names; None when there is nothing to send
    (the job expired from the table, or asked for none). A receiver that may take it later
    (unreachable, 5xx, 429, a slow answer) raises :class:`WebhookNotDeliveredError`, so SQS
    brings the message back; a refusal (4xx, a URL no longer allowed) is final, and logged."""
    job = repo.get(job_id)
    if job is None or not job.webhook_url or not job.status.is_terminal:
        logger.warning("queued webhook has no finished job with a webhook to send; dropped",
                       extra={"found": job is not None and job.status.value})
        return None
    if not settings.webhook_secret:
        # Retried, then kept in the queue's DLQ (alarmed) until the sender is set right.
        raise WebhookNotDeliveredError("a webhook was queued but the sender has no ANEMONEFISH_WEBHOOK_SECRET")
    delivery = deliver_webhook(
        job.webhook_url,
        job_event(job),
        secret=tenant_webhook_secret(settings.webhook_secret, job.tenant_id),
        allow_loopback=settings.allow_loopback_webhooks,
        policy=QUEUED_WEBHOOK_POLICY,
    )
    if delivery.outcome in ("gave_up", "error"):  # "error": this side failed, not the receiver
        raise WebhookNotDeliveredError(f"webhook not delivered yet: {delivery.error}")
    log = logger.info if delivery.delivered else logger.warning
    log("webhook " + delivery.outcome, extra=delivery.as_log())
    return delivery


def _notify(job: JobRecord, settings: Settings, sns_client: Any | None, policy: WebhookRetryPolicy | None) -> None:
    if not job.status.is_terminal:
        raise ValueError(f"job {job.job_id} is {job.status.value}, not terminal")
    event = job_event(job)
    if settings.topic_arn:
        try:
            message_id = publish_job_event(sns_client or aws.client("sns", settings), settings.topic_arn, event)
            logger.info("job event published", extra={"status": job.status.value, "sns_message_id": message_id})
        except NotificationError as exc:
            logger.error("job event not published", extra={"error": str(exc)})
    if job.webhook_url:
        if not settings.webhook_secret:
            logger.error("job asked for a webhook but ANEMONEFISH_WEBHOOK_SECRET is not set")
            return
        if settings.webhooks_queue_url:
            # The state is for whoever reads a message in the DLQ; the sender reads the job.
            message = {"job_id": job.job_id, "status": job.status.value}
            try:
                _sqs_client(settings).send_message(QueueUrl=settings.webhooks_queue_url, MessageBody=json.dumps(message))
            except Exception:
                # Not lost with its message: delivered here as before the queue, within the
                # caller's policy (the API's 8 s, say).
                logger.exception("could not queue the webhook: delivering it here")
            else:
                logger.info("webhook queued for the webhook sender")
                return
        delivery = deliver_webhook(
            job.webhook_url,
            event,
            secret=tenant_webhook_secret(settings.webhook_secret, job.tenant_id),
            allow_loopback=settings.allow_loopback_webhooks,
            policy=policy,
        )
        log = logger.info if delivery.delivered else logger.warning
        log("webhook " + delivery.outcome, extra=delivery.as_log())
