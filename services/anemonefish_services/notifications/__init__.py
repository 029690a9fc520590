"""Terminal-state notifications of jobs: signed webhooks and SNS messages."""

from anemonefish_services.notifications.errors import NotificationError, SnsPublishError, WebhookUrlError
from anemonefish_services.notifications.payload import ErrorSummary, JobEvent, ResultSummary
from anemonefish_services.notifications.sns import publish_job_event
from anemonefish_services.notifications.webhooks import (
    WebhookDelivery,
    WebhookRetryPolicy,
    deliver_webhook,
    tenant_webhook_secret,
    validate_webhook_url,
)

__all__ = [
    "ErrorSummary",
    "JobEvent",
    "NotificationError",
    "ResultSummary",
    "SnsPublishError",
    "WebhookDelivery",
    "WebhookRetryPolicy",
    "WebhookUrlError",
    "deliver_webhook",
    "publish_job_event",
    "tenant_webhook_secret",
    "validate_webhook_url",
]
