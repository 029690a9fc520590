"""One typed settings model, read from the environment the Terraform sets (docs/architecture.md)."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024
# S3 allows at most 10,000 parts per multipart upload and at least 5 MiB per part (but the last).
S3_MAX_PARTS = 10_000
S3_MIN_PART_BYTES = 5 * MIB
SQS_MAX_RETENTION_S = 14 * 86400  # the jobs queue keeps messages this long (infra and the local stack)


class Settings(BaseSettings):
    """Everything the API, the worker, the DLQ consumer and the sweeper need to know."""

    # A refused value is not repeated in the error, which start-up logs: it may be a secret
    # (a malformed webhook secret was printed whole).
    model_config = SettingsConfigDict(env_prefix="ANEMONEFISH_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    env: str = Field("local", description="Environment name: local, dev, prod.")
    region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    input_bucket: str = Field("anemonefish-local-input")
    output_bucket: str = Field("anemonefish-local-output")
    jobs_table: str = Field("anemonefish-local-jobs")
    jobs_queue_url: str = Field("", description="SQS jobs queue URL (visibility extension).")
    dlq_url: str = Field("", description="SQS dead-letter queue URL.")
    topic_arn: str = Field("", description="SNS topic for terminal states; empty disables SNS.")
    webhooks_queue_url: str = Field(
        "", description="SQS queue of webhook deliveries (the webhook sender's); empty: whoever ends a job delivers inline."
    )
    aws_endpoint_url: str | None = Field(None, description="Endpoint override (local stack only).")

    auth_mode: Literal["apigateway", "static"] = "apigateway"
    api_keys: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="static mode: {api key: tenant id}."
    )

    multipart_threshold_bytes: int = Field(100 * MIB, gt=0)
    multipart_part_bytes: int = Field(
        16 * MIB, gt=0, description="Smallest part size offered; grown so a file stays under 10,000 parts."
    )
    max_upload_bytes: int = Field(50 * 1024**3, gt=0)
    part_url_batch: int = Field(100, gt=0, le=1000, description="Part URLs returned per request.")
    # A URL signed with a Lambda role's temporary credentials dies with them, whatever its own
    # expiry says: AWS guarantees no more than an instance profile's 6 hours. Longer would hand
    # clients an `expires_at` that lies (part URLs and idempotent retries renew URLs instead).
    presign_expires_s: int = Field(3600, gt=0, le=6 * 3600)
    upload_expires_s: int = Field(86400, gt=0)
    lease_s: int = Field(120, gt=0)
    job_ttl_days: int = Field(30, gt=0)
    webhook_secret: str | None = None
    allow_loopback_webhooks: bool = False
    cors_origins: str = "*"
    # The worker stops starting new blocks when the Lambda has less than this left, so it can
    # release its lease and let a retry continue instead of being killed mid-write.
    # A RUNNING job whose lease expired this long ago (or a QUEUED job untouched this long) has
    # lost its worker and its message: the sweeper re-sends its upload event. More than the
    # visibility a worker sets on its message (3 x lease), so a live message comes back first.
    stall_grace_s: float = Field(900.0, gt=0)
    max_redrives: int = Field(3, ge=0, description="Re-drives before a stalled job is FAILED (worker_lost).")
    # SQS drops a message older than this without dead-lettering it: a QUEUED job whose last
    # message is that old has none left (the worker's event source off for days, say).
    jobs_queue_retention_s: float = Field(float(SQS_MAX_RETENTION_S), gt=0, description="The jobs queue's message retention.")
    worker_safety_margin_s: float = Field(30.0, ge=0)
    progress_interval_s: float = Field(1.0, ge=0, description="Min seconds between progress writes.")

    @field_validator("webhook_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: str | None) -> str | None:
        """``whsec_`` and base64 of 24-64 random bytes (Standard Webhooks). A malformed one
        was taken, then failed every delivery and GET /webhook-secret while jobs with webhooks
        were accepted: it now stops the service at its start, naming the setting."""
        if not value:
            return None
        try:
            key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except (ValueError, binascii.Error):
            key = b""
        if not value.startswith("whsec_") or not 24 <= len(key) <= 64:
            raise ValueError("ANEMONEFISH_WEBHOOK_SECRET must be whsec_ followed by the base64 of 24 to 64 random "
                             "bytes (e.g. python -c \"import base64,os; print('whsec_' + "
                             "base64.b64encode(os.urandom(32)).decode())\")")
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_api_keys(cls, value: object) -> object:
        """Checked here, by position: pydantic's own error names an entry by its key, which
        is the secret."""
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(value, dict):
            raise ValueError("not a JSON object of {api key: tenant id}")
        bad = [i for i, (key, tenant) in enumerate(value.items(), 1)
               if not isinstance(key, str) or not key or not isinstance(tenant, str) or not tenant]
        if bad:
            raise ValueError(f"entries {bad[:5]} (counting from 1) need a key and a tenant id, "
                             "both non-empty strings")
        return value

    @model_validator(mode="after")
    def _loopback_webhooks_only_locally(self) -> Settings:
        """Loopback webhooks let the local stack's receiver be reached; in AWS they would reach
        the Lambda runtime API's own address (127.0.0.1:9001) and ports below 1024. The local
        stack is known by its emulator's endpoint (any ANEMONEFISH_ENV names its resources),
        which Terraform never sets and app_settings may not."""
        if self.allow_loopback_webhooks and self.env != "local" and not self.aws_endpoint_url:
            raise ValueError(f"ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS is for the local stack only (ANEMONEFISH_ENV is "
                             f"{self.env!r} and no ANEMONEFISH_AWS_ENDPOINT_URL names an emulator)")
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()] or ["*"]

    def part_size_for(self, size_bytes: int) -> int:
        """Part size (a whole number of MiB) keeping ``size_bytes`` within S3's 10,000 parts."""
        needed = -(-size_bytes // S3_MAX_PARTS)
        size = max(self.multipart_part_bytes, needed)
        if size >= MIB:
            size = -(-size // MIB) * MIB
        return size


@functools.cache
def get_settings() -> Settings:
    """Settings of this process (cached: the environment does not change under a Lambda)."""
    return Settings()
