"""The API Lambda handler with REST API Gateway proxy events, on in-process moto."""

from __future__ import annotations

import json

import pytest
from moto import mock_aws

from anemonefish_services.local.http_front import build_proxy_event
from anemonefish_services.local.lambda_context import LocalLambdaContext
from anemonefish_services.local.resources import create_resources


@pytest.fixture
def api(monkeypatch):
    import os

    # Only these settings: a local stack started earlier in the run leaves its own in os.environ.
    for name in [n for n in os.environ if n.startswith("ANEMONEFISH_") and n != "ANEMONEFISH_MODEL_DIR"]:
        monkeypatch.delenv(name)
    for name, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                        "ANEMONEFISH_AUTH_MODE": "static", "ANEMONEFISH_API_KEYS": '{"k1": "t1"}',
                        "ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS": "false", "ANEMONEFISH_MULTIPART_THRESHOLD_BYTES": "1000",
                        "ANEMONEFISH_MULTIPART_PART_BYTES": "300"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_resources(endpoint_url=None)  # type: ignore[arg-type]
        from anemonefish_services.api import handler
        from anemonefish_services.settings import get_settings

        for cached in (get_settings, handler._repo, handler._storage):
            cached.cache_clear()

        def call(method: str, path: str, body: object = None, key: str | None = "k1", headers: dict | None = None):
            hdrs = [("Content-Type", "application/json"), *((headers or {}).items())]
            if key:
                hdrs.append(("x-api-key", key))
            raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
            event = build_proxy_event(method, path, hdrs, raw, "127.0.0.1")
            response = handler.lambda_handler(event, LocalLambdaContext(function_name="api"))
            return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

        yield call
        for cached in (get_settings, handler._repo, handler._storage):
            cached.cache_clear()


WEBHOOK_SECRET = "whsec_" + "c2VydmljZS1zZWNyZXQtZm9yLXRoZS10ZXN0cy0zMmI="


def test_loopback_webhooks_are_refused_outside_local_mode(api, monkeypatch):
    from anemonefish_services.settings import get_settings

    monkeypatch.setenv("ANEMONEFISH_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_settings.cache_clear()
    for url in ("https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook"):
        status, body = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 5, "webhook": {"url": url}})
        assert status == 400, url
        assert body["error"]["details"] == {"field": "webhook.url"}


def test_small_files_get_one_put_and_large_ones_a_multipart_upload(api):
    status, small = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000})
    assert status == 201 and small["upload"]["method"] == "PUT" and "X-Amz-Signature" in small["upload"]["url"]
    status, large = api("POST", "/jobs", {"filename": "b.wav", "size_bytes": 1001})
    upload = large["upload"]
    assert upload["method"] == "MULTIPART" and upload["part_size"] == 300 and upload["part_count"] == 4
    assert [p["part_number"] for p in upload["parts"]] == [1, 2, 3, 4]
    assert all("uploadId=" in p["url"] and f"partNumber={p['part_number']}" in p["url"] for p in upload["parts"])


def test_upload_urls_sign_the_length_of_the_body_each_takes(api, monkeypatch):
    """Signed over the host alone, a job declared at 100 bytes took up to 5 GiB a PUT, as often
    as its URL lived: S3 now refuses a body of another length (SignatureDoesNotMatch)."""
    from urllib.parse import parse_qs, urlsplit

    from anemonefish_services.api import handler

    s3 = handler._storage().s3
    signed: list[tuple[str, int | None, int | None]] = []
    real = s3.generate_presigned_url

    def spy(operation, Params, **kwargs):  # noqa: N803 (boto3's name)
        signed.append((operation, Params.get("PartNumber"), Params.get("ContentLength")))
        return real(operation, Params=Params, **kwargs)

    monkeypatch.setattr(s3, "generate_presigned_url", spy)
    _, small = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000})
    _, large = api("POST", "/jobs", {"filename": "b.wav", "size_bytes": 1001})  # parts of 300, 300, 300 and 101
    _, renewed = api("POST", f"/jobs/{large['job_id']}/upload/parts", {"part_numbers": [4, 2]})
    assert signed == [("put_object", None, 1000), *[("upload_part", n, b) for n, b in enumerate([300, 300, 300, 101], 1)],
                      ("upload_part", 2, 300), ("upload_part", 4, 101)]
    for url in [small["upload"]["url"], *(p["url"] for p in large["upload"]["parts"] + renewed["parts"])]:
        assert parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"] == ["content-length;host"]
    assert "Content-Length" not in small["upload"]["headers"]  # browsers refuse to set it: they send it themselves


def test_a_body_nested_past_the_recursion_limit_is_a_400_not_a_500(api):
    """It raised RecursionError: a 500 that set off the 5xx alarm."""
    deep = b"[" * 100_000 + b"]" * 100_000
    status, body = api("POST", "/jobs", deep)
    assert status == 400 and body["error"]["details"] == [{"field": "body", "message": "nested too deeply"}]


@pytest.mark.parametrize("job_id", ["x" * 3000, "unknown", "5F0C2E1A-0000-4000-8000-000000000000"])
def test_an_id_that_is_no_job_id_is_a_404_without_asking_the_table(api, monkeypatch, job_id):
    """DynamoDB refuses a key over 2048 bytes (ValidationException): a 500 on AWS, which moto
    does not model, so the table must not be asked."""
    from anemonefish_services.api import handler

    asked: list[str] = []
    monkeypatch.setattr(handler._repo(), "get", lambda job_id: asked.append(job_id))
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/upload/parts")):
        status, body = api(method, f"/jobs/{job_id}{path}")
        assert (status, body["error"]["code"]) == (404, "job_not_found")
    assert asked == []


@pytest.mark.parametrize("name", ["reef\u202ev.wav", "a\u2066b.wav", "a\u202ab.wav"])
def test_a_filename_with_a_bidirectional_override_is_refused_naming_the_field(api, name):
    """"reef\u202ev.wav" displays as "reefv.wav" reversed: another name in the console and in
    downloads (security review)."""
    status, body = api("POST", "/jobs", {"filename": name, "size_bytes": 5})
    assert status == 400 and body["error"]["details"][0]["field"] == "filename"
    assert "bidirectional" in body["error"]["message"]
    assert api("POST", "/jobs", {"filename": "récif \u05d0.wav", "size_bytes": 5})[0] == 201  # other scripts are fine


def test_errors_are_json_documents_with_codes(api):
    assert api("GET", "/nowhere")[1]["error"]["code"] == "route_not_found"
    assert api("GET", "/jobs/unknown")[0] == 404
    status, body = api("POST", "/jobs", {"filename": "a\x00.wav", "size_bytes": 5})
    assert status == 400 and "filename" in body["error"]["message"]
    status, body = api("POST", "/jobs/x/upload/complete", {"parts": []})
    assert status == 400 and body["error"]["details"][0]["field"] == "parts"


def test_a_put_upload_has_no_parts_to_sign(api):
    _, job = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 10})
    status, body = api("POST", f"/jobs/{job['job_id']}/upload/parts", {"part_numbers": [1]})
    assert status == 409 and body["error"]["code"] == "not_multipart"


def test_openapi_document_describes_routes_models_and_the_key(api):
    status, doc = api("GET", "/openapi.json", key=None)
    assert status == 200 and doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    post = doc["paths"]["/jobs"]["post"]
    assert "201" in post["responses"] and post["requestBody"]["content"]["application/json"]["schema"]
    assert {"CreateJobRequest", "JobView", "ErrorResponse"} <= set(doc["components"]["schemas"])


@pytest.mark.parametrize("position", [{"tenant_id": "t1"}, {"tenant_id": "t1", "job_id": 1.5, "created_at": "x"},
                                      {"tenant_id": "t1", "job_id": "j", "created_at": 5}, ["t1"], "t1"])
def test_a_forged_or_damaged_next_token_is_a_400_naming_it(api, position):
    import base64

    token = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
    status, body = api("GET", f"/jobs?next_token={token}")
    assert status == 400 and body["error"]["details"] == {"field": "next_token"}, body


def test_a_cancel_whose_multipart_abort_fails_still_answers_and_notifies(api, monkeypatch):
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.logic import notify

    sent = []
    monkeypatch.setattr(notify, "_notify", lambda job, *args: sent.append(job.status.value))

    def refused(self, key, upload_id):  # noqa: ANN001
        raise RuntimeError("AccessDenied")

    monkeypatch.setattr(Storage, "abort_multipart", refused)
    status, created = api("POST", "/jobs", {"filename": "b.wav", "size_bytes": 1001})
    assert status == 201 and created["upload"]["method"] == "MULTIPART"
    status, body = api("DELETE", f"/jobs/{created['job_id']}")
    assert status == 200 and body["status"] == "CANCELLED"
    assert sent == ["CANCELLED"]  # the lifecycle rule removes the upload; the client still hears of it


@pytest.mark.filterwarnings("ignore:Received multipart/form-data")  # powertools' note on the form it then refuses
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_json_is_a_415_naming_the_content_type(api, content_type):
    """curl -d sends a form; powertools had read it as missing fields (400) or failed with a 500."""
    status, body = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000}, headers={"Content-Type": content_type})
    assert status == 415 and body["error"]["code"] == "unsupported_media_type", body
    assert body["error"]["details"] == {"field": "Content-Type"}
    status, body = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000},
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 201, body


def test_the_webhook_secret_is_the_callers_own(api, monkeypatch):
    from anemonefish_services.notifications import tenant_webhook_secret
    from anemonefish_services.settings import get_settings

    status, body = api("GET", "/webhook-secret")
    # 501: it lasts until a redeploy, and the client's retries (429 and 5xx but 501) would only wait for it.
    assert status == 501 and body["error"]["code"] == "webhooks_not_configured"
    service = WEBHOOK_SECRET
    monkeypatch.setenv("ANEMONEFISH_WEBHOOK_SECRET", service)
    monkeypatch.setenv("ANEMONEFISH_API_KEYS", '{"k1": "t1", "k2": "t2"}')
    get_settings.cache_clear()
    status, mine = api("GET", "/webhook-secret")
    _, theirs = api("GET", "/webhook-secret", key="k2")
    assert status == 200 and mine["secret"] == tenant_webhook_secret(service, "t1") != theirs["secret"]
    assert api("GET", "/webhook-secret", key=None)[0] == 401


def test_a_webhook_asked_of_a_service_that_sends_none_is_refused_naming_it(api, monkeypatch):
    """It was accepted, and the job ended with no webhook and only the service's log saying why."""
    from anemonefish_services.settings import get_settings

    monkeypatch.setenv("ANEMONEFISH_ALLOW_LOOPBACK_WEBHOOKS", "true")  # this machine resolves no public name
    get_settings.cache_clear()
    request = {"filename": "a.wav", "size_bytes": 5, "webhook": {"url": "http://127.0.0.1:9/hook"}}
    status, body = api("POST", "/jobs", request)
    assert status == 501 and body["error"]["code"] == "webhooks_not_configured", body
    assert body["error"]["details"] == {"field": "webhook"} and "leave out webhook" in body["error"]["message"]
    assert api("GET", "/jobs")[1]["jobs"] == []  # nothing was created
    monkeypatch.setenv("ANEMONEFISH_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_settings.cache_clear()
    assert api("POST", "/jobs", request)[0] == 201


def test_a_target_class_the_model_lacks_is_a_400_naming_it(api):
    """The worker would only fail the job later; the card's classes are at hand in the API."""
    status, body = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000, "params": {"target_class": "shark"}})
    assert status == 400 and body["error"]["details"]["field"] == "params.target_class", body
    assert body["error"]["details"]["classes"] == ["noise", "anemonefish", "biological"]
    status, _ = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000, "params": {"target_class": "biological"}})
    assert status == 201


def test_params_that_name_no_target_class_leave_it_to_the_models_card(api, monkeypatch):
    """A model whose target is not called 'anemonefish' (its card's default names it): params
    without a target_class are fine; the worker takes the card's default, not the library's."""
    from anemonefish_services.logic import create_job

    served_classes = create_job.served_classes
    monkeypatch.setattr(create_job, "served_classes", lambda: ["noise", "clownfish"])
    assert api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000, "params": {"threshold": 0.5}})[0] == 201
    status, body = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 1000, "params": {"target_class": "anemonefish"}})
    assert status == 400 and body["error"]["details"]["classes"] == ["noise", "clownfish"]
    assert served_classes() == ["noise", "anemonefish", "biological"]  # the shipped card, untouched


def test_openapi_document_declares_the_errors_the_api_sends_and_no_defaults_it_does_not_serve(api):
    """A client generated from the document must read the API's errors, and must not fill in
    defaults that are not the served model's (the seed's 0.5 / 5 windows, where the card says 0.4 / 3)."""
    _, doc = api("GET", "/openapi.json", key=None)
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if (path, method) == ("/jobs", "post"):
                assert {"200", "201", "415", "422", "501"} <= set(responses)
                assert responses["422"]["content"]["application/json"]["schema"] == error
            else:
                assert "422" not in responses, (path, method)
            if path != "/health":
                assert responses["400"]["content"]["application/json"]["schema"] == error
                assert "500" in responses
    schemas = doc["components"]["schemas"]
    assert not {"HTTPValidationError", "ValidationError", "ResponseValidationError"} & set(schemas)
    assert all("default" not in field for field in schemas["JobParams"]["properties"].values())
    assert "served model" in schemas["JobParams"]["description"]


def test_a_replay_offers_upload_urls_only_while_the_job_awaits_its_file(api):
    """A URL for a finished or cancelled job would let a replay overwrite the recording (single
    PUT) or point at an aborted multipart upload."""
    for size in (10, 2_000_000):  # PUT, multipart
        key = {"Idempotency-Key": f"replay-{size}"}
        body = {"filename": "a.wav", "size_bytes": size}
        status, first = api("POST", "/jobs", body, headers=key)
        assert status == 201 and first["upload"]["method"] in ("PUT", "MULTIPART")
        status, again = api("POST", "/jobs", body, headers=key)
        assert status == 200 and again["upload"]["method"] == first["upload"]["method"]
        assert api("DELETE", f"/jobs/{first['job_id']}")[0] == 200
        status, closed = api("POST", "/jobs", body, headers=key)
        assert status == 200 and closed["status"] == "CANCELLED" and closed["upload"] is None


def test_a_retry_that_writes_empty_params_or_nulls_is_the_same_request(api):
    key = {"Idempotency-Key": "same-request"}
    status, first = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 10}, headers=key)
    assert status == 201
    for variant in ({"params": {}}, {"sha256": None, "webhook": None, "content_type": None}):
        status, again = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 10, **variant}, headers=key)
        assert (status, again["job_id"]) == (200, first["job_id"]), variant
    status, other = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 10, "params": {"threshold": 0.4}}, headers=key)
    assert status == 422 and other["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(("body", "field"), [
    ({"filename": "a.wav", "size_bytes": "100"}, "size_bytes"),
    ({"filename": "a.wav", "size_bytes": 100, "params": {"threshold": True}}, "params.threshold"),
    ({"filename": "a.wav", "size_bytes": 100, "params": {"threshold": "0.5"}}, "params.threshold"),
    ({"filename": "a.wav", "size_bytes": 100, "params": {"smoothing_windows": "3"}}, "params.smoothing_windows"),
])
def test_a_value_of_the_wrong_json_type_is_a_400_naming_it_not_coerced(api, body, field):
    status, answer = api("POST", "/jobs", body)
    assert status == 400 and [d["field"] for d in answer["error"]["details"]] == [field], answer


def test_a_body_that_is_not_json_is_a_400_blaming_the_body(api):
    status, answer = api("POST", "/jobs", b'{"filename": "a.wav", "size_bytes": 1')
    assert status == 400 and answer["error"]["code"] == "invalid_request"
    assert [d["field"] for d in answer["error"]["details"]] == ["body"], answer


@pytest.mark.parametrize("raw", [b"\xff\xfe{", '{"filename": "caf\u00e9.wav", "size_bytes": 10}'.encode("latin-1")])
def test_a_body_that_is_not_utf8_is_a_400_blaming_the_body(api, raw):
    status, answer = api("POST", "/jobs", raw)
    assert status == 400 and answer["error"]["code"] == "invalid_request", answer
    assert [d["field"] for d in answer["error"]["details"]] == ["body"] and "UTF-8" in answer["error"]["message"]


def test_a_misspelt_list_parameter_is_a_400_naming_it_not_ignored(api):
    status, answer = api("GET", "/jobs?limt=5")
    assert status == 400 and answer["error"]["details"] == {"field": "limt"}, answer
    assert api("GET", "/jobs?limit=5")[0] == 200


@pytest.mark.parametrize("content_type", ["audio/wav\r\nX-Evil: 1", "audio wav", "wav", "audio/wav; rate=48000 x"])
def test_a_content_type_no_client_could_send_is_a_400_naming_it(api, content_type):
    """The presigned upload requires the job's Content-Type: one no HTTP client can send left the
    job unuploadable until it expired."""
    status, answer = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 10, "content_type": content_type})
    assert status == 400 and [d["field"] for d in answer["error"]["details"]] == ["content_type"], answer
    for fine in ("audio/wav", "audio/x-wav", "audio/flac", 'audio/wav; codecs="1"', "audio/wav;", "application/octet-stream",
                 "", " "):  # a browser's File.type is "" for a type it does not know: no type
        assert api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 10, "content_type": fine})[0] == 201, fine


@pytest.mark.parametrize("key", ["", " ", " padded", "tab\tkey"])
def test_a_blank_or_padded_idempotency_key_is_a_400_naming_it(api, key):
    """An unset variable sent as an empty key made every such request of a tenant one job."""
    status, answer = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 10}, headers={"Idempotency-Key": key})
    assert status == 400 and [d["field"] for d in answer["error"]["details"]] == ["idempotency-key"], answer
    assert "Idempotency-Key must be visible ASCII" in answer["error"]["message"]


def test_an_idempotent_retry_after_the_served_model_changed_gets_a_new_job(api, monkeypatch):
    """The key named the request, not the model: after a fine-tuned bundle was deployed, rerunning
    the same submit got the old model's job, and its results, back. GET /health names the model."""
    from anemonefish_services.logic import create_job

    body = {"filename": "reef.wav", "size_bytes": 1000}
    key = {"Idempotency-Key": "submit-rerun"}
    status, health = api("GET", "/health", key=None)
    assert status == 200 and health["model"]["name"] and len(health["model"]["card_sha256"]) == 64
    first, again = (api("POST", "/jobs", body, headers=key) for _ in range(2))
    assert (first[0], again[0]) == (201, 200) and first[1]["job_id"] == again[1]["job_id"]
    monkeypatch.setattr(create_job, "served_model", lambda: {**health["model"], "card_sha256": "b" * 64})
    status, after = api("POST", "/jobs", body, headers=key)
    assert status == 201 and after["job_id"] != first[1]["job_id"]


def test_a_request_without_a_valid_key_hears_that_first_whatever_else_is_wrong_with_it(api):
    """Validation ran before the key was looked at: a keyless request with a bad body, header or
    query got the 400 of a caller the service knows, telling a stranger what it accepts."""
    bad = [
        ("POST", "/jobs", {"size_bytes": 5}, {}),  # no filename
        ("POST", "/jobs", {"filename": "a.wav", "size_bytes": 5}, {"Idempotency-Key": " "}),
        ("GET", "/jobs?limt=5", None, {}),
        ("GET", "/jobs?limit=0", None, {}),
        ("POST", "/jobs", b"filename=a.wav", {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for method, path, body, headers in bad:
        status, answer = api(method, path, body, key=None, headers=headers)
        assert (status, answer["error"]["code"]) == (401, "unauthorized"), (path, headers)
        status, answer = api(method, path, body, key="not-a-key", headers=headers)
        assert (status, answer["error"]["code"]) == (403, "forbidden"), (path, headers)
        status, _ = api(method, path, body, headers=headers)
        assert status in (400, 415), (path, headers)  # the caller known: what is wrong with it


def test_another_tenant_s_job_is_a_404_on_every_route(api, monkeypatch):
    """Tenant isolation (a mutation test found no test failing without it): another key's job
    is indistinguishable from a missing one."""
    from anemonefish_services.settings import get_settings

    monkeypatch.setenv("ANEMONEFISH_API_KEYS", '{"k1": "t1", "k2": "t2"}')
    get_settings.cache_clear()
    _, job = api("POST", "/jobs", {"filename": "b.wav", "size_bytes": 1001})  # multipart: every route applies
    path = f"/jobs/{job['job_id']}"
    for method, route, body in (("GET", "", None), ("DELETE", "", None), ("GET", "/upload/parts", None),
                                ("POST", "/upload/parts", {"part_numbers": [1]}),
                                ("POST", "/upload/complete", {"parts": [{"part_number": n, "etag": '"e"'} for n in range(1, 5)]})):
        status, answer = api(method, path + route, body, key="k2")
        assert (status, answer["error"]["code"]) == (404, "job_not_found"), (method, route)
    assert api("GET", "/jobs", key="k2")[1]["jobs"] == []
    assert api("GET", path)[1]["status"] == "AWAITING_UPLOAD"  # untouched, and its owner's still


def test_the_listing_gives_at_most_the_limit_asked_for(api):
    for n in range(3):
        api("POST", "/jobs", {"filename": f"{n}.wav", "size_bytes": 5})
    status, page = api("GET", "/jobs?limit=2")
    assert status == 200 and len(page["jobs"]) == 2 and page["next_token"]


def test_the_largest_upload_is_taken_and_one_byte_more_refused(api, monkeypatch):
    from anemonefish_services.settings import get_settings

    monkeypatch.setenv("ANEMONEFISH_MAX_UPLOAD_BYTES", "5000")
    get_settings.cache_clear()
    assert api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 5000})[0] == 201
    status, body = api("POST", "/jobs", {"filename": "a.wav", "size_bytes": 5001})
    assert status == 400 and body["error"]["details"] == {"field": "size_bytes", "max": 5000}


def test_part_numbers_past_the_plan_and_a_part_listed_twice_are_refused(api):
    _, job = api("POST", "/jobs", {"filename": "b.wav", "size_bytes": 1001})  # 4 parts
    path = f"/jobs/{job['job_id']}/upload"
    assert api("POST", f"{path}/parts", {"part_numbers": [4]})[0] == 200
    status, body = api("POST", f"{path}/parts", {"part_numbers": [5]})
    assert status == 400 and body["error"]["details"]["field"] == "part_numbers"
    twice = [{"part_number": n, "etag": '"e"'} for n in (1, 2, 3, 4, 4)]
    status, body = api("POST", f"{path}/complete", {"parts": twice})
    assert status == 400 and "twice" in body["error"]["message"]


def test_a_cancel_aborts_the_job_s_open_multipart_upload(api):
    """Its parts would otherwise be kept (and billed) until the bucket's abort rule."""
    import boto3

    from anemonefish_services.settings import get_settings

    _, job = api("POST", "/jobs", {"filename": "b.wav", "size_bytes": 1001})
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = get_settings().input_bucket
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [job["upload"]["upload_id"]]
    assert api("DELETE", f"/jobs/{job['job_id']}")[0] in (200, 202)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
