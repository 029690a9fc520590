"""boto3 clients for the settings' region and endpoint (the local stack points them at moto)."""

from __future__ import annotations

import boto3
from botocore.config import Config

from anemonefish_services.settings import Settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
# Presigned URLs must be SigV4 (required by S3 in most regions and by browsers' PUT).
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))
# In AWS, virtual-hosted addressing gives the regional host (bucket.s3.eu-west-1.amazonaws.com):
# boto3 otherwise signs the global one, which answers a new bucket outside us-east-1 with a
# 307 for up to a day -- a redirect browsers do not follow on a CORS PUT -- and never works
# in opt-in regions. The local stack (an endpoint override: moto) keeps path-style URLs.
_S3_AWS_CONFIG = _S3_CONFIG.merge(Config(s3={"addressing_style": "virtual"}))


def client(service: str, settings: Settings):  # type: ignore[no-untyped-def]
    if service == "s3":
        config = _S3_CONFIG if settings.aws_endpoint_url else _S3_AWS_CONFIG
    else:
        config = _CONFIG
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=config
    )


def resource(service: str, settings: Settings):  # type: ignore[no-untyped-def]
    return boto3.session.Session().resource(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url, config=_CONFIG
    )
