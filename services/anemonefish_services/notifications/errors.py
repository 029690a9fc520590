"""Every error the notifications package raises, in one flat module."""

from __future__ import annotations


class NotificationError(Exception):
    """Base class of the notification errors; ``code`` is stable and machine-readable."""

    code: str = "notification_error"


class WebhookUrlError(NotificationError, ValueError):
    """A webhook URL is refused by the URL policy (scheme, host, port or resolved address).

    A ``ValueError`` too, so a pydantic validator that calls
    :func:`~anemonefish_services.notifications.webhooks.validate_webhook_url` turns it into
    an ordinary validation error on the ``webhook.url`` field (a 400 naming the field).
    """

    code = "invalid_webhook_url"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"webhook URL refused: {reason}")


class SnsPublishError(NotificationError):
    """SNS refused or failed to take a job event (after botocore's own retries)."""

    code = "sns_publish_failed"
