"""boto3 clients for the settings' region and endpoint (the local stack points them at moto)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from anemonefish_services.settings import Settings

# Presigned URLs must be SigV4 (required by S3 in most regions and by browsers' PUT).
_S3_CONFIG = Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 5})
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str, settings: Settings):  # type: ignore[no-untyped-def]
    config = _S3_CONFIG if service == "s3" else _CONFIG
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=config
    )


def resource(service: str, settings: Settings):  # type: ignore[no-untyped-def]
    return boto3.session.Session().resource(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=_CONFIG
    )
