"""Requests and responses of the HTTP API (v1); they also generate ``GET /openapi.json``."""

from __future__ import annotations

from typing import Annotated, Literal

from anemonefish.params import DetectionParams
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from anemonefish_services.models.job import JobStatus

# Strict: a request's JSON types are its types (api.md: a wrong type is a 400), so "100" is
# no size and true no threshold, where pydantic's lax mode would take them.
_REQUEST = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

# Hex SHA-256 of the whole file, either case (kept in lower case).
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)]


# Unicode's explicit direction overrides and isolates: shown, they reorder a name's characters.
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))

class WebhookSpec(BaseModel):
    model_config = _REQUEST

    url: str = Field(
        min_length=1, max_length=2048, description="https URL on a public address, called on every terminal state."
    )


class JobParams(DetectionParams):
    """The detection parameters a job overrides, as strictly typed as the rest of a request."""

    model_config = ConfigDict(strict=True)


# A media type as HTTP carries it (RFC 9110: type/subtype, then parameters): the upload must
# send it as its Content-Type, which no client can with a line break or a space in it.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = rf'^{_TOKEN}/{_TOKEN}(\s*;\s*({_TOKEN}=({_TOKEN}|"[^"\x00-\x1f\x7f]*"))?)*$'


class CreateJobRequest(BaseModel):
    model_config = _REQUEST

    filename: str = Field(min_length=1, max_length=255, description="Name of the recording (for display and results).")
    size_bytes: int = Field(ge=0, description="Exact size of the file to upload.")
    content_type: str | None = Field(
        None, max_length=127, pattern=_MEDIA_TYPE,
        description="The upload's Content-Type (e.g. audio/wav), which the presigned upload then requires.",
    )
    sha256: Sha256Hex | None = Field(
        None, description="Hex SHA-256 of the file: the worker fails an upload that is not this file."
    )
    params: JobParams | None = Field(None, description="Detection parameters overriding the served model's defaults.")
    webhook: WebhookSpec | None = None

    @field_validator("content_type", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # A browser's File.type is "" for a type it does not know: no type, as before.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("filename")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("filename must not contain control characters")
        if any(ch in BIDI_CONTROLS for ch in value):
            # "reef\u202ev.wav" shows as another name in the console and in downloads.
            raise ValueError("filename must not contain bidirectional overrides or isolates "
                             "(U+202A-U+202E, U+2066-U+2069), which make a name display as another")
        return value


class PartUrl(BaseModel):
    part_number: int
    url: str


class PutUpload(BaseModel):
    method: Literal["PUT"] = "PUT"
    url: str
    headers: dict[str, str]
    expires_at: str
    expires_in_s: int = Field(description="Seconds the URLs stay valid from this answer: what a client with a wrong clock can rely on.")


class MultipartUpload(BaseModel):
    method: Literal["MULTIPART"] = "MULTIPART"
    upload_id: str
    part_size: int
    part_count: int
    parts: list[PartUrl]
    expires_at: str
    expires_in_s: int = Field(description="Seconds the URLs stay valid from this answer: what a client with a wrong clock can rely on.")


class CreateJobResponse(BaseModel):
    job_id: str
    status: JobStatus
    upload: PutUpload | MultipartUpload | None = Field(
        description="How to upload the file; null when a repeated Idempotency-Key finds a job past its upload."
    )


class WebhookSecretResponse(BaseModel):
    secret: str = Field(description="This tenant's Standard Webhooks secret (whsec_…): verify its webhooks with it.")


class PartUrlsRequest(BaseModel):
    model_config = _REQUEST

    part_numbers: list[int] = Field(min_length=1, max_length=1000)

    @field_validator("part_numbers")
    @classmethod
    def _in_range(cls, value: list[int]) -> list[int]:
        bad = [n for n in value if not 1 <= n <= 10_000]
        if bad:
            raise ValueError(f"part numbers must be 1..10000, got {bad[:5]}")
        return value


class PartUrlsResponse(BaseModel):
    parts: list[PartUrl]
    expires_at: str
    expires_in_s: int = Field(description="Seconds the URLs stay valid from this answer: what a client with a wrong clock can rely on.")


class UploadedPart(BaseModel):
    part_number: int
    etag: str
    size: int


class UploadedPartsResponse(BaseModel):
    upload_id: str
    part_size: int
    part_count: int
    parts: list[UploadedPart]


class CompletedPart(BaseModel):
    model_config = _REQUEST

    part_number: int = Field(ge=1, le=10_000)
    etag: str = Field(min_length=1, max_length=128)


class CompleteUploadRequest(BaseModel):
    model_config = _REQUEST

    parts: list[CompletedPart] = Field(min_length=1, max_length=10_000)
    sha256: Sha256Hex | None = Field(
        None,
        description="Hex SHA-256 of the file, for a client that hashed it while uploading; must match one "
        "given at POST /jobs.",
    )


class Progress(BaseModel):
    fraction: float


class ResultView(BaseModel):
    events_count: int
    audio_duration_s: float
    processing_time_s: float
    links: dict[str, str] = Field(description="Presigned GET URL of each result document, by format.")
    links_expire_in_s: int | None = Field(
        None, description="Seconds the links stay valid from this answer (None: no links, as in lists)."
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What the events do not show: a recording cut short (its header promised more audio), or "
        "one whose sample rate cannot hold the model's band. The results stand.",
    )


class ErrorView(BaseModel):
    code: str
    message: str


class JobView(BaseModel):
    job_id: str
    status: JobStatus
    filename: str
    size_bytes: int
    sha256: str | None = Field(None, description="The file's SHA-256, when the client gave one (its upload was checked against it).")
    created_at: str
    updated_at: str
    params: dict[str, object] = Field(default_factory=dict)
    progress: Progress | None = None
    result: ResultView | None = None
    error: ErrorView | None = None


class JobListResponse(BaseModel):
    jobs: list[JobView]
    next_token: str | None = Field(None, description="Pass as ?next_token= for the next page.")


class CancelResponse(BaseModel):
    job_id: str
    status: JobStatus


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
