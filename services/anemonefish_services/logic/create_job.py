"""``POST /jobs``: write the job and hand out upload instructions.

Idempotency: with an ``Idempotency-Key`` the job id is derived from (tenant, key) (UUIDv5),
and the job is put with ``attribute_not_exists(job_id)``. A retry therefore lands on the
same item in one conditional write -- no extra table (which powertools' idempotency
utility would need) and no cached response: a retry gets *fresh* presigned URLs for the
same upload, where a cached response would hand back URLs that may have expired.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from anemonefish_services.dal.jobs import JobsRepository, utc_now_iso
from anemonefish_services.dal.storage import Storage, upload_key
from anemonefish_services.exceptions import IdempotencyKeyReusedError, InvalidRequestError, WebhooksNotConfiguredError
from anemonefish_services.models.api import CreateJobRequest, CreateJobResponse, MultipartUpload, PartUrl, PutUpload
from anemonefish_services.models.job import JobRecord, JobStatus
from anemonefish_services.notifications.errors import WebhookUrlError
from anemonefish_services.notifications.webhooks import validate_webhook_url
from anemonefish_services.settings import Settings

if TYPE_CHECKING:
    from anemonefish.card import ModelCard

_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c3a57-9a43-4b8e-a0d5-6b3f51a8c7e2")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def job_id_for(tenant_id: str, idempotency_key: str | None, model: dict[str, str] | None = None) -> str:
    """A new id, or the one an Idempotency-Key has under the served model: a retry while the
    model is the same gets its job back, and one after the model changed (a fine-tuned bundle
    deployed) a new job, which the new model runs, rather than the old model's results."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    served = f"\n{model['card_sha256']}" if model else ""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{tenant_id}\n{idempotency_key}{served}"))


@functools.cache
def _served_card() -> tuple[ModelCard, str] | None:
    """The card of the model the worker serves and the card file's SHA-256 (the API image keeps
    the cards, not the networks), or None where the card is not at hand: the worker checks then."""
    from anemonefish.exceptions import ModelBundleError
    from anemonefish.model import bundle_path, read_card

    try:
        path = bundle_path()
        return read_card(path), hashlib.sha256((path / "card.json").read_bytes()).hexdigest()
    except (ModelBundleError, OSError):
        return None


def served_classes() -> list[str] | None:
    """The classes of the model the worker serves."""
    served = _served_card()
    return list(served[0].classes) if served else None


def served_model() -> dict[str, str] | None:
    """Which model the worker serves: its card's name and version, and the card's SHA-256, which
    any retraining changes (a fine-tuned bundle may keep the name)."""
    served = _served_card()
    return {"name": served[0].name, "version": served[0].version, "card_sha256": served[1]} if served else None


def fingerprint(request: CreateJobRequest) -> str:
    """The request as it bears on the job: ``"params": {}`` or a null field asks what leaving
    it out asks, so a retry that writes it either way is the same request."""
    material = request.model_dump(mode="json", exclude_none=True)
    material["params"] = request.params.model_dump(mode="json", exclude_unset=True) if request.params else {}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def upload_instructions(job: JobRecord, settings: Settings, storage: Storage) -> PutUpload | MultipartUpload:
    expires_at = _iso(time.time() + settings.presign_expires_s)
    if job.upload_mode == "PUT":
        url, headers = storage.presign_put(job.input_key, job.content_type, job.size_bytes)
        return PutUpload(url=url, headers=headers, expires_at=expires_at, expires_in_s=settings.presign_expires_s)
    assert job.upload_id and job.part_size and job.part_count
    first = range(1, min(job.part_count, settings.part_url_batch) + 1)
    return MultipartUpload(
        upload_id=job.upload_id,
        part_size=job.part_size,
        part_count=job.part_count,
        parts=[PartUrl(part_number=n, url=storage.presign_part(job.input_key, job.upload_id, n, job.part_bytes(n)))
               for n in first],
        expires_at=expires_at,
        expires_in_s=settings.presign_expires_s,
    )


def _respond_for_existing(
    existing: JobRecord, request: CreateJobRequest, settings: Settings, storage: Storage
) -> CreateJobResponse:
    if existing.request_fingerprint != fingerprint(request):
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used with a different request", details={"job_id": existing.job_id}
        )
    # Upload URLs only while the job waits for its file: a URL handed out for a finished job
    # would let a replay overwrite the recording its results were made from.
    waiting = existing.status is JobStatus.AWAITING_UPLOAD
    return CreateJobResponse(
        job_id=existing.job_id, status=existing.status,
        upload=upload_instructions(existing, settings, storage) if waiting else None,
    )


def create_job(
    request: CreateJobRequest,
    *,
    tenant_id: str,
    idempotency_key: str | None,
    settings: Settings,
    repo: JobsRepository,
    storage: Storage,
) -> tuple[CreateJobResponse, bool]:
    """The new (or, for a retried key, the existing) job; the flag says whether it is new."""
    if request.size_bytes > settings.max_upload_bytes:
        raise InvalidRequestError(
            f"size_bytes {request.size_bytes} exceeds the limit of {settings.max_upload_bytes} bytes",
            details={"field": "size_bytes", "max": settings.max_upload_bytes},
        )
    classes = served_classes()
    # Only a target_class the client named: otherwise the worker takes the card's own default.
    asked = request.params is not None and "target_class" in request.params.model_fields_set
    if asked and classes is not None and request.params.target_class not in classes:
        raise InvalidRequestError(
            f"params.target_class {request.params.target_class!r} is not one of the model's classes {classes}",
            details={"field": "params.target_class", "classes": classes},
        )
    if request.webhook is not None:
        if not settings.webhook_secret:
            # Accepted, the job would end with nothing sent and only the service's log saying why.
            raise WebhooksNotConfiguredError(
                "this service has no webhook signing secret, so it sends no webhooks: leave out webhook "
                "(poll GET /jobs/{id} or subscribe to the SNS topic)",
                details={"field": "webhook"},
            )
        try:
            validate_webhook_url(request.webhook.url, allow_loopback=settings.allow_loopback_webhooks)
        except WebhookUrlError as exc:
            raise InvalidRequestError(str(exc), details={"field": "webhook.url"}) from exc

    job_id = job_id_for(tenant_id, idempotency_key, served_model())
    if idempotency_key is not None and (existing := repo.get(job_id)) is not None:
        return _respond_for_existing(existing, request, settings, storage), False

    now = time.time()
    key = upload_key(job_id, request.filename)
    multipart = request.size_bytes > settings.multipart_threshold_bytes
    upload_id = part_size = part_count = None
    if multipart:
        part_size = settings.part_size_for(request.size_bytes)
        part_count = -(-request.size_bytes // part_size)
        upload_id = storage.create_multipart(key, request.content_type)
    stamp = utc_now_iso()
    record = JobRecord(
        job_id=job_id,
        tenant_id=tenant_id,
        status=JobStatus.AWAITING_UPLOAD,
        filename=request.filename,
        size_bytes=request.size_bytes,
        content_type=request.content_type,
        sha256=request.sha256,
        params=request.params.model_dump(exclude_unset=True) if request.params else {},  # overrides only
        webhook_url=request.webhook.url if request.webhook else None,
        input_key=key,
        upload_mode="MULTIPART" if multipart else "PUT",
        upload_id=upload_id,
        part_size=part_size,
        part_count=part_count,
        created_at=stamp,
        updated_at=stamp,
        upload_expires_at=now + settings.upload_expires_s,
        expires_at_epoch=int(now + settings.job_ttl_days * 86400),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(request),
    )
    if not repo.create(record):  # a concurrent retry with the same key won the race
        if upload_id is not None:
            storage.abort_multipart(key, upload_id)
        existing = repo.get(job_id)
        assert existing is not None
        return _respond_for_existing(existing, request, settings, storage), False
    return CreateJobResponse(job_id=job_id, status=record.status, upload=upload_instructions(record, settings, storage)), True
