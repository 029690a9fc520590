"""The API Lambda: every route of the HTTP API (v1). Thin: authenticate, parse, call one logic
function, shape the response. The local stack serves this very handler."""

from __future__ import annotations

import functools
import json
import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from anemonefish_services.api.auth import resolve_tenant
from anemonefish_services.api.openapi import correct as correct_openapi
from anemonefish_services.api.openapi import error_response
from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage
from anemonefish_services.exceptions import (
    InvalidRequestError,
    JobNotFoundError,
    ServiceError,
    WebhooksNotConfiguredError,
)
from anemonefish_services.logic.cancel import cancel_job
from anemonefish_services.logic.create_job import create_job, served_model
from anemonefish_services.logic.uploads import complete_upload, list_uploaded_parts, sign_parts
from anemonefish_services.logic.views import job_view
from anemonefish_services.models.api import (
    CancelResponse,
    CompleteUploadRequest,
    CreateJobRequest,
    CreateJobResponse,
    JobListResponse,
    JobView,
    PartUrlsRequest,
    PartUrlsResponse,
    UploadedPartsResponse,
    WebhookSecretResponse,
)
from anemonefish_services.models.job import JobRecord
from anemonefish_services.notifications import tenant_webhook_secret
from anemonefish_services.observability import logger
from anemonefish_services.settings import Settings, get_settings

API_TITLE = "Anemonefish call detection API"
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})


def _cors(settings: Settings) -> CORSConfig:
    origins = settings.cors_origin_list
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:] or None,
        allow_headers=["x-api-key", "Idempotency-Key", "Content-Type"],
        expose_headers=["Location"],
        max_age=600,
    )


app = APIGatewayRestResolver(cors=_cors(get_settings()), enable_validation=True)


@functools.cache
def _repo() -> JobsRepository:
    return JobsRepository(get_settings())


@functools.cache
def _storage() -> Storage:
    return Storage(get_settings())


def _error(status: int, code: str, message: str, details: Any = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, "details": details}},
    )


def _json(status: int, model: Any) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model.model_dump(mode="json"))


@app.exception_handler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    return _error(exc.status, exc.code, exc.message, exc.details)


def _not_json() -> Response | None:
    """415 for a body sent as anything but JSON. Powertools reads a form body as form fields
    (then reports JSON's fields missing) and fails on other types; both say the wrong thing."""
    content_type = (app.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if not app.current_event.body or not content_type or content_type == "application/json" or content_type.endswith("+json"):
        return None
    return _error(415, "unsupported_media_type",
                  f"request bodies are JSON: send Content-Type: application/json, not {content_type}",
                  {"field": "Content-Type"})


def _refused_caller() -> Response | None:
    """The 401 or 403 of a request without a valid key, which comes before what is wrong with its
    body, headers or query (powertools validates them before the route runs; on AWS, API
    Gateway refuses such a request first)."""
    try:
        _tenant()
    except ServiceError as exc:
        return _service_error(exc)
    return None


@app.exception_handler(RequestUnsupportedContentType)
def _unsupported_content_type(exc: RequestUnsupportedContentType) -> Response:
    return (_refused_caller() or _not_json()
            or _error(415, "unsupported_media_type", "request bodies are JSON", {"field": "Content-Type"}))


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response:
    if (refusal := _refused_caller() or _not_json()) is not None:
        return refusal
    # 400 naming each field at fault (powertools' default is a terse 422).
    problems = []
    for err in exc.errors():
        # JSON that does not parse: its loc holds the character offset, which names no field.
        loc = [] if err.get("type") == "json_invalid" else [
            str(p) for p in err.get("loc", ()) if p not in ("body", "query", "header", "path")]
        problems.append({"field": ".".join(loc) or "body", "message": err.get("msg", err.get("type", "invalid"))})
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return _error(400, "invalid_request", f"invalid request: {summary}", problems)


@app.exception_handler(UnicodeDecodeError)
def _undecodable(exc: UnicodeDecodeError) -> Response:
    """JSON is UTF-8 (RFC 8259): a body in another encoding is the request's fault, not ours."""
    try:
        _ = app.current_event.decoded_body
    except UnicodeDecodeError:
        return _error(400, "invalid_request", "invalid request: body: not UTF-8 (JSON is sent as UTF-8)",
                      [{"field": "body", "message": "not UTF-8 (JSON is sent as UTF-8)"}])
    return _unexpected(exc)  # raised by something else than the body


@app.exception_handler(RecursionError)
def _too_deep(exc: RecursionError) -> Response:
    """A body nested past Python's recursion limit ([[[[...]]]] 100,000 deep): the request's
    fault, which set off the 5xx alarm as a 500."""
    try:
        json.loads(app.current_event.decoded_body or "null")
    except RecursionError:
        reason = "nested too deeply"
        return _error(400, "invalid_request", f"invalid request: body: {reason}", [{"field": "body", "message": reason}])
    except ValueError:
        pass
    return _unexpected(exc)  # raised by something else than the body


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error")
    return _error(500, "internal_error", "internal error")


@app.not_found
def _not_found(exc: Exception) -> Response:
    return _error(404, "route_not_found", f"no route {app.current_event.http_method} {app.current_event.path}")


def _tenant() -> str:
    return resolve_tenant(app.current_event.raw_event, app.current_event.headers, get_settings())


_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _own_job(job_id: str) -> JobRecord:
    """The caller's job; another tenant's job is indistinguishable from a missing one (404)."""
    tenant = _tenant()
    # Job ids are UUIDs: anything else is no job, not a DynamoDB ValidationException (a key
    # over 2048 bytes) and a 500.
    job = _repo().get(job_id) if _JOB_ID.fullmatch(job_id) else None
    if job is None or job.tenant_id != tenant:
        raise JobNotFoundError(f"no job {job_id}")
    logger.append_keys(job_id=job_id)
    return job


def _responses(status: int, model: type, description: str, *, body: bool = False,
               more: dict[int, Any] | None = None) -> dict[int, Any]:
    """The route's answer and every error it can send (``body``: it reads a JSON body)."""
    return {
        status: {"description": description, "content": {"application/json": {"model": model}}},
        **(more or {}),
        400: error_response("Invalid request (the field at fault is named)"),
        401: error_response("No API key"),
        403: error_response("Invalid API key"),
        404: error_response("No such job (or not yours)"),
        409: error_response("The job's state does not allow this"),
        **({415: error_response("The body is not JSON (Content-Type)")} if body else {}),
        500: error_response("internal_error"),
    }


@app.get("/health", summary="Liveness", responses={200: {"description": "OK"}})
def health():  # noqa: ANN201 (powertools would model a Response annotation)
    # The served model too: a client's rerun after the model changed must not get the old one's job back.
    body: dict[str, object] = {"status": "ok"}
    if (model := served_model()) is not None:
        body["model"] = model
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


@app.get(
    "/webhook-secret",
    summary="The caller's webhook signing secret",
    responses=_responses(200, WebhookSecretResponse, "The secret this tenant's webhooks are signed with", more={
        501: error_response("webhooks_not_configured: this service sends no webhooks")}),
)
def get_webhook_secret():  # noqa: ANN201 (powertools would model a Response annotation)
    settings = get_settings()
    if not settings.webhook_secret:
        raise WebhooksNotConfiguredError("this service has no webhook signing secret: it sends no webhooks")
    return _json(200, WebhookSecretResponse(secret=tenant_webhook_secret(settings.webhook_secret, _tenant())))


@app.get("/openapi.json", summary="This API's OpenAPI document", include_in_schema=False)
def openapi():  # noqa: ANN201 (powertools would model a Response annotation)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=correct_openapi(json.loads(app.get_openapi_json_schema(
            title=API_TITLE,
            version="1.0.0",
            description="Asynchronous detection of anemonefish calls in underwater recordings: create a job, "
            "upload straight to S3 with presigned URLs, poll for the results. See docs/api.md.",
            security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
            security=[{"apiKey": []}],
        ))),
    )


_IDEMPOTENCY_KEY = re.compile(r"[!-~]([ -~]*[!-~])?")


@app.post(
    "/jobs",
    summary="Create a job and get upload instructions",
    description="One presigned PUT for small files; a multipart upload (with the first batch of part URLs) "
    "for large ones. An Idempotency-Key makes retries return the same job.",
    responses=_responses(201, CreateJobResponse, "The job and how to upload its file", body=True, more={
        200: {"description": "The job this Idempotency-Key created before (upload instructions while it awaits "
                             "its upload)", "content": {"application/json": {"model": CreateJobResponse}}},
        501: error_response("webhooks_not_configured: a webhook was asked of a service without a signing secret"),
    }),
)
def post_job(
    body: CreateJobRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key", max_length=255)] = None,
):  # noqa: ANN201 (powertools would model a Response annotation)
    tenant_id = _tenant()
    if idempotency_key is not None and not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        # A blank key (a script's unset variable) would make every such request of a tenant one job.
        reason = "Idempotency-Key must be visible ASCII characters (spaces only between them), not blank"
        raise InvalidRequestError(reason, details=[{"field": "idempotency-key", "message": reason}])
    settings = get_settings()
    response, created = create_job(
        body,
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        settings=settings,
        repo=_repo(),
        storage=_storage(),
    )
    logger.append_keys(job_id=response.job_id)
    logger.info("job created" if created else "job returned for a repeated Idempotency-Key")
    return _json(201 if created else 200, response)


@app.get(
    "/jobs",
    summary="List your jobs, newest first",
    responses=_responses(200, JobListResponse, "A page of jobs"),
)
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
):  # noqa: ANN201 (powertools would model a Response annotation)
    tenant_id = _tenant()
    # A misspelt parameter (?limt=5) would otherwise be ignored without a word.
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - {"limit", "next_token"})
    if unknown:
        raise InvalidRequestError(f"unknown query parameter {unknown[0]!r}: GET /jobs takes limit and next_token",
                                  details={"field": unknown[0]})
    jobs, token = _repo().list_for_tenant(tenant_id, limit=limit, next_token=next_token)
    return _json(200, JobListResponse(jobs=[job_view(j, None) for j in jobs], next_token=token))


@app.get("/jobs/<job_id>", summary="A job's status, progress and results", responses=_responses(200, JobView, "The job"))
def get_job(job_id: str):  # noqa: ANN201 (powertools would model a Response annotation)
    return _json(200, job_view(_own_job(job_id), _storage()))


@app.delete("/jobs/<job_id>", summary="Cancel a job", responses=_responses(200, CancelResponse, "Cancelled"))
def delete_job(job_id: str):  # noqa: ANN201 (powertools would model a Response annotation)
    job = cancel_job(_own_job(job_id), settings=get_settings(), repo=_repo(), storage=_storage())
    return _json(200, CancelResponse(job_id=job.job_id, status=job.status))


@app.post(
    "/jobs/<job_id>/upload/parts",
    summary="Presign more part URLs of a multipart upload",
    responses=_responses(200, PartUrlsResponse, "Fresh part URLs", body=True),
)
def post_parts(job_id: str, body: PartUrlsRequest):  # noqa: ANN201 (powertools would model a Response annotation)
    return _json(200, sign_parts(_own_job(job_id), body.part_numbers, settings=get_settings(), storage=_storage()))


@app.get(
    "/jobs/<job_id>/upload/parts",
    summary="Parts already uploaded (to resume)",
    responses=_responses(200, UploadedPartsResponse, "Uploaded parts"),
)
def get_parts(job_id: str):  # noqa: ANN201 (powertools would model a Response annotation)
    return _json(200, list_uploaded_parts(_own_job(job_id), repo=_repo(), storage=_storage()))


@app.post(
    "/jobs/<job_id>/upload/complete",
    summary="Complete a multipart upload",
    responses=_responses(202, JobView, "Accepted: the job is queued", body=True),
)
def post_complete(job_id: str, body: CompleteUploadRequest):  # noqa: ANN201 (powertools would model a Response annotation)
    job = complete_upload(_own_job(job_id), body, repo=_repo(), storage=_storage())
    return _json(202, job_view(job, None))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return app.resolve(event, context)
    except Exception:  # never let a bug leak a stack trace or a non-JSON 502
        logger.exception("unhandled error")
        return {
            "statusCode": 500,
            "headers": {"Content-Type": "application/json"},
            "body": '{"error": {"code": "internal_error", "message": "internal error", "details": null}}',
        }
