"""The HTTP API's contract against the local stack: auth, tenants, validation, idempotency,
pagination, webhooks (signatures and SSRF), OpenAPI, CORS."""

from __future__ import annotations

import uuid

import pytest
from standardwebhooks import Webhook

pytestmark = pytest.mark.integration


def test_missing_or_wrong_key_is_refused(pipeline):
    assert pipeline.call("GET", "/jobs", key=None).status_code == 401
    wrong = pipeline.call("GET", "/jobs", key="not-a-key")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    assert pipeline.call("GET", "/health", key=None).status_code == 200


def test_a_job_is_invisible_to_other_tenants(pipeline):
    job_id = pipeline.call("POST", "/jobs", json={"filename": "mine.wav", "size_bytes": 100}).json()["job_id"]
    for method, path in (("GET", f"/jobs/{job_id}"), ("DELETE", f"/jobs/{job_id}"),
                         ("GET", f"/jobs/{job_id}/upload/parts")):
        response = pipeline.call(method, path, key="key-b")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "job_not_found"
    assert job_id not in {j["job_id"] for j in pipeline.call("GET", "/jobs", key="key-b").json()["jobs"]}
    assert pipeline.call("GET", f"/jobs/{job_id}").status_code == 200


def test_bad_requests_get_400_naming_the_field(pipeline):
    cases = [
        ({"filename": "a.wav"}, "size_bytes"),
        ({"filename": "", "size_bytes": 1}, "filename"),
        ({"filename": "a.wav", "size_bytes": -1}, "size_bytes"),
        ({"filename": "a.wav", "size_bytes": 1, "params": {"threshold": 2}}, "params.threshold"),
        ({"filename": "a.wav", "size_bytes": 1, "params": {"smoothing_windows": 0}}, "params.smoothing_windows"),
        ({"filename": "a.wav", "size_bytes": 1, "params": {"peak_threshold": -0.1}}, "params.peak_threshold"),
        ({"filename": "a.wav", "size_bytes": 1, "surprise": True}, "surprise"),
        ({"filename": "a.wav", "size_bytes": 60 * 2**30}, "size_bytes"),
    ]
    for body, field in cases:
        response = pipeline.call("POST", "/jobs", json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["code"] in {"invalid_request"} and field in error["message"], (body, error)
    garbage = pipeline.call("POST", "/jobs", data="{not json", headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400


def test_idempotency_key_returns_the_same_job(pipeline):
    key = str(uuid.uuid4())
    body = {"filename": "same.wav", "size_bytes": 1234}
    first = pipeline.call("POST", "/jobs", json=body, headers={"Idempotency-Key": key})
    second = pipeline.call("POST", "/jobs", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["job_id"] == second.json()["job_id"]
    assert second.json()["upload"]["method"] == "PUT"
    other_tenant = pipeline.call("POST", "/jobs", key="key-b", json=body, headers={"Idempotency-Key": key})
    assert other_tenant.json()["job_id"] != first.json()["job_id"]
    changed = pipeline.call("POST", "/jobs", json={**body, "size_bytes": 99}, headers={"Idempotency-Key": key})
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "idempotency_key_reused"


def test_list_jobs_is_paginated_newest_first(pipeline):
    created = [pipeline.call("POST", "/jobs", key="key-pages", json={"filename": f"p{i}.wav", "size_bytes": 10}).json()["job_id"]
               for i in range(5)]
    seen, token, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"next_token": token} if token else {})}
        page = pipeline.call("GET", "/jobs", key="key-pages", params=params).json()
        assert len(page["jobs"]) <= 2
        seen += [j["job_id"] for j in page["jobs"]]
        pages += 1
        token = page["next_token"]
        if not token:
            break
    assert seen == list(reversed(created)) and pages >= 3
    foreign = pipeline.call("GET", "/jobs", key="key-b", params={"next_token": token or "eyJ0ZW5hbnRfaWQiOiAidGVuYW50LXBhZ2VzIn0"})
    assert foreign.status_code == 400
    assert pipeline.call("GET", "/jobs", params={"limit": 0}).status_code == 400


@pytest.mark.parametrize("url", [
    "http://example.com/hook",  # not https
    "https://169.254.169.254/latest/meta-data",  # instance metadata
    "https://10.1.2.3/hook",  # private
    "https://192.168.0.10/hook",
    "https://[fe80::1]/hook",  # link-local
    "https://[::ffff:10.0.0.1]/hook",  # private behind IPv4-mapped IPv6
])
def test_webhook_ssrf_targets_are_refused(pipeline, url):
    response = pipeline.call("POST", "/jobs", json={"filename": "a.wav", "size_bytes": 10, "webhook": {"url": url}})
    assert response.status_code == 400, url
    assert response.json()["error"]["details"]["field"] == "webhook.url"


def test_webhook_is_signed_per_standard_webhooks(pipeline, short_wav):
    job_id = pipeline.submit_bytes("hooked.wav", short_wav, webhook={"url": pipeline.receiver.url})
    pipeline.wait_for(job_id, {"SUCCEEDED"})
    deadline_hooks = pipeline.receiver.wait_for(1, 15)
    hook = next(h for h in deadline_hooks if job_id in h.body)
    # Verified independently with the standardwebhooks package and the tenant's own secret,
    # which the API tells the tenant (and only it).
    secret = pipeline.call("GET", "/webhook-secret").json()["secret"]
    payload = Webhook(secret).verify(hook.body, hook.headers)
    assert payload["type"] == "job.succeeded" and payload["data"]["job_id"] == job_id
    assert hook.headers["webhook-signature"].startswith("v1,")
    tampered = hook.body.replace("SUCCEEDED", "FAILED")
    with pytest.raises(Exception):
        Webhook(secret).verify(tampered, hook.headers)
    # Another tenant's secret -- and the service's own -- cannot sign for this one.
    other = pipeline.call("GET", "/webhook-secret", key="key-b").json()["secret"]
    assert other != secret
    for wrong in (other, pipeline.stack.env["ANEMONEFISH_WEBHOOK_SECRET"]):
        with pytest.raises(Exception):
            Webhook(wrong).verify(hook.body, hook.headers)


def test_openapi_describes_every_route(pipeline):
    doc = pipeline.call("GET", "/openapi.json", key=None).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/jobs", "/jobs/{job_id}", "/jobs/{job_id}/upload/parts", "/jobs/{job_id}/upload/complete", "/health"):
        assert path in doc["paths"], path
    assert "CreateJobRequest" in doc["components"]["schemas"]


def test_cors_preflight_and_console(pipeline):
    preflight = pipeline.call("OPTIONS", "/jobs", key=None, headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key,content-type"})
    assert preflight.status_code in (200, 204)
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    page = pipeline.call("GET", "/", key=None)
    assert page.status_code == 200 and "<html" in page.text.lower()
