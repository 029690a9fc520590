"""boto3 clients as the Lambdas make them (anemonefish_services.aws): presigned URLs a browser can use."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from anemonefish_services import aws
from anemonefish_services.settings import Settings


@pytest.fixture(autouse=True)
def _credentials(fake_aws_credentials) -> None:  # presigning signs locally: no call is made
    fake_aws_credentials("eu-west-1")


def _presigned_put(settings: Settings) -> str:
    s3 = aws.client("s3", settings)
    return s3.generate_presigned_url("put_object", Params={"Bucket": "anemonefish-dev-input", "Key": "uploads/j/a.wav"})


def test_in_aws_presigned_urls_name_the_buckets_regional_host():
    """The global host answers a new bucket outside us-east-1 with a 307 for up to a day,
    which a browser's CORS PUT does not follow."""
    url = urlparse(_presigned_put(Settings(region="eu-west-1", aws_endpoint_url=None)))
    assert url.netloc == "anemonefish-dev-input.s3.eu-west-1.amazonaws.com"
    assert url.path == "/uploads/j/a.wav" and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url.query


def test_on_the_local_stack_presigned_urls_stay_path_style_on_the_emulator():
    url = urlparse(_presigned_put(Settings(region="eu-west-1", aws_endpoint_url="http://127.0.0.1:5000")))
    assert url.netloc == "127.0.0.1:5000" and url.path == "/anemonefish-dev-input/uploads/j/a.wav"
