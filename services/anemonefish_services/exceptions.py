"""Every error the services raise, in one flat module.

API errors carry the HTTP status and the stable ``code`` of the error document
``{"error": {"code", "message", "details"}}``; worker errors say whether a retry can help.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base class of the services' errors."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


# --- API (client errors) -------------------------------------------------------------


class InvalidRequestError(ServiceError):
    status = 400
    code = "invalid_request"


class UnauthorizedError(ServiceError):
    status = 401
    code = "unauthorized"


class ForbiddenError(ServiceError):
    status = 403
    code = "forbidden"


class JobNotFoundError(ServiceError):
    status = 404
    code = "job_not_found"


class InvalidJobStateError(ServiceError):
    """The job is not in a state that allows the operation (e.g. completing a finished upload)."""

    status = 409
    code = "invalid_job_state"


class NotMultipartUploadError(ServiceError):
    status = 409
    code = "not_multipart"


class IdempotencyKeyReusedError(ServiceError):
    """The same ``Idempotency-Key`` came with a different request body."""

    status = 422
    code = "idempotency_key_reused"


class WebhooksNotConfiguredError(ServiceError):
    """The service has no webhook signing secret (ANEMONEFISH_WEBHOOK_SECRET): it sends no webhooks.

    501, not 503: it lasts until the service is redeployed, so a client must not retry it.
    """

    status = 501
    code = "webhooks_not_configured"


class UploadIncompleteError(ServiceError):
    """S3 refused to assemble the parts (missing part, wrong ETag, part too small)."""

    status = 400
    code = "upload_incomplete"


# --- worker ----------------------------------------------------------------------------


class TransientJobError(ServiceError):
    """Retrying may help (throttling, network, time running out): the message is retried."""

    code = "transient_error"


class NotificationPendingError(TransientJobError):
    """A finished job's notifications are not recorded yet, but its finisher may still be sending them."""


class WebhookNotDeliveredError(TransientJobError):
    """A queued webhook's receiver did not take it this time (unreachable, 5xx, 429): SQS
    delivers the message again after its visibility timeout."""

    code = "webhook_not_delivered"


class WorkerTimeRunningOutError(TransientJobError):
    code = "worker_timeout"


class LeaseStillLiveError(TransientJobError):
    """The message's job is held by a live lease: look again when the lease would expire."""

    code = "lease_live"


class LeaseLostError(ServiceError):
    """Another worker took the job over (our lease expired): stop without writing anything."""

    code = "lease_lost"


class UnknownUploadError(ServiceError):
    """An object arrived under ``uploads/`` that does not belong to any job."""

    code = "unknown_upload"


class UploadChecksumMismatchError(ServiceError):
    """The uploaded object's SHA-256 is not the one the job was created with: the file was
    damaged or replaced on its way. Permanent: the job fails and nothing is written."""

    code = "checksum_mismatch"


class ResultsNotDeletedError(ServiceError):
    """S3 refused to delete some result documents (its DeleteObjects lists them as errors)."""

    code = "results_not_deleted"
