"""The services' typed settings (settings.Settings)."""

from __future__ import annotations

import pytest

from anemonefish_services.settings import S3_MAX_PARTS, S3_MIN_PART_BYTES, Settings

GIB = 1024**3


def test_reads_the_terraform_variable_names(monkeypatch):
    monkeypatch.setenv("ANEMONEFISH_INPUT_BUCKET", "b-in")
    monkeypatch.setenv("ANEMONEFISH_JOBS_QUEUE_URL", "http://q")
    monkeypatch.setenv("ANEMONEFISH_AUTH_MODE", "static")
    monkeypatch.setenv("ANEMONEFISH_API_KEYS", '{"k": "tenant"}')
    monkeypatch.setenv("ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS", "true")
    settings = Settings()
    assert settings.input_bucket == "b-in" and settings.jobs_queue_url == "http://q"
    assert settings.api_keys == {"k": "tenant"} and settings.allow_loopback_webhooks is True


def test_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("ANEMONEFISH_AUTH_MODE", "nobody")
    with pytest.raises(ValueError, match="auth_mode"):
        Settings()


def test_presigned_urls_may_not_outlive_the_roles_temporary_credentials(monkeypatch):
    """A URL signed by a Lambda role stops working when the role's credentials expire (at most
    6 h are promised), so a longer setting would give clients an expiry that is not true."""
    monkeypatch.setenv("ANEMONEFISH_PRESIGN_EXPIRES_S", str(6 * 3600))
    assert Settings().presign_expires_s == 6 * 3600
    monkeypatch.setenv("ANEMONEFISH_PRESIGN_EXPIRES_S", str(24 * 3600))
    with pytest.raises(ValueError, match="presign_expires_s"):
        Settings()


@pytest.mark.parametrize("size", [1, 100 * 2**20, 5 * GIB, 50 * GIB, 50 * GIB + 1, 80 * GIB])
def test_part_size_keeps_any_file_within_s3_limits(size):
    settings = Settings(multipart_part_bytes=8 * 2**20)
    part = settings.part_size_for(size)
    assert -(-size // part) <= S3_MAX_PARTS
    assert part >= S3_MIN_PART_BYTES and part % 2**20 == 0


def test_a_50_gib_file_needs_fewer_than_10000_parts_with_defaults():
    settings = Settings()
    assert -(-(50 * GIB) // settings.part_size_for(50 * GIB)) < S3_MAX_PARTS


@pytest.mark.parametrize("secret", ["whsec_not-base64!", "whsec_" + "c2hvcnQ=", "c2VydmljZS1zZWNyZXQtZm9yLXRoZS10ZXN0cy0zMmI="])
def test_a_malformed_webhook_secret_stops_the_service_naming_the_setting(monkeypatch, secret):
    """It was taken: every delivery and GET /webhook-secret then failed, while jobs with webhooks
    were accepted and recorded as notified."""
    monkeypatch.setenv("ANEMONEFISH_WEBHOOK_SECRET", secret)
    with pytest.raises(ValueError, match="ANEMONEFISH_WEBHOOK_SECRET must be whsec_"):
        Settings()


def test_a_standard_webhooks_secret_is_taken_and_a_blank_one_means_none(monkeypatch):
    import base64
    import os

    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("ANEMONEFISH_WEBHOOK_SECRET", secret)
    assert Settings().webhook_secret == secret
    monkeypatch.setenv("ANEMONEFISH_WEBHOOK_SECRET", "")
    assert Settings().webhook_secret is None


@pytest.mark.parametrize(("name", "value", "said"), [
    ("ANEMONEFISH_WEBHOOK_SECRET", "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXM", "ANEMONEFISH_WEBHOOK_SECRET must be whsec_"),
    ("ANEMONEFISH_API_KEYS", '{"super-secret-key-1": "tenantA", "super-secret-key-2": 5}', "entries [2]"),
    ("ANEMONEFISH_API_KEYS", '{"super-secret-key-1": ""}', "entries [1]"),
    ("ANEMONEFISH_API_KEYS", '["super-secret-key-1"]', "not a JSON object"),
    ("ANEMONEFISH_API_KEYS", '{"super-secret-key-1": "t",}', "not JSON ("),
])
def test_a_refused_secret_is_not_repeated_in_the_error_start_up_logs(monkeypatch, name, value, said):
    """pydantic put the input (the whole malformed secret) or the entry's key into its error."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as refused:
        Settings()
    assert said in str(refused.value)
    assert value.removeprefix("whsec_") not in str(refused.value) and "super-secret-key" not in str(refused.value)


def test_loopback_webhooks_are_for_the_local_stack_only(monkeypatch):
    """In AWS they would reach the Lambda runtime API's own address (127.0.0.1:9001)."""
    import os

    for name in [n for n in os.environ if n.startswith("ANEMONEFISH_")]:  # a local stack's, from earlier tests
        monkeypatch.delenv(name)
    monkeypatch.setenv("ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS", "true")
    assert Settings().allow_loopback_webhooks is True  # env defaults to local
    monkeypatch.setenv("ANEMONEFISH_ENV", "prod")
    with pytest.raises(ValueError, match="ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS is for the local stack only"):
        Settings()
    monkeypatch.setenv("ANEMONEFISH_AWS_ENDPOINT_URL", "http://127.0.0.1:5000")  # a local stack named otherwise
    assert Settings().allow_loopback_webhooks is True
    monkeypatch.delenv("ANEMONEFISH_AWS_ENDPOINT_URL")
    monkeypatch.setenv("ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS", "false")
    assert Settings().env == "prod"
