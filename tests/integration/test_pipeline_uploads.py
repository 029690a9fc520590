"""Uploads through presigned URLs with a plain HTTP client, all the way to results."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from anemonefish_services.settings import Settings

pytestmark = pytest.mark.integration


def test_presigned_put_runs_through_worker_to_results(pipeline, short_wav):
    created = pipeline.call("POST", "/jobs", json={"filename": "reef.wav", "size_bytes": len(short_wav)})
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "AWAITING_UPLOAD" and body["upload"]["method"] == "PUT"
    pipeline.upload_put(body, short_wav)

    job = pipeline.wait_for(body["job_id"], {"SUCCEEDED", "FAILED"})
    assert job["status"] == "SUCCEEDED", job
    assert job["progress"] == {"fraction": 1.0}
    result = job["result"]
    assert set(result["links"]) == {"json", "csv", "raven", "audacity", "scores"}
    assert result["links_expire_in_s"] == Settings.model_fields["presign_expires_s"].default  # the stack's setting
    assert result["audio_duration_s"] == pytest.approx(12.0, abs=0.01)
    document = requests.get(result["links"]["json"], timeout=30).json()
    assert document["job_id"] == body["job_id"]
    assert document["audio"]["filename"] == "reef.wav"
    assert len(document["events"]) == result["events_count"]
    # The contract's key layout: results/{job_id}/events.json in the output bucket.
    s3 = pipeline.boto("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="anemonefish-local-output", Prefix=f"results/{body['job_id']}/")["Contents"]}
    assert f"results/{body['job_id']}/events.json" in keys and len(keys) == 5


def test_multipart_upload_with_more_part_urls_resume_listing_and_complete(pipeline, medium_wav):
    created = pipeline.call("POST", "/jobs", json={"filename": "long reef.wav", "size_bytes": len(medium_wav)}).json()
    upload = created["upload"]
    assert upload["method"] == "MULTIPART"
    part_size, part_count = upload["part_size"], upload["part_count"]
    assert part_count == -(-len(medium_wav) // part_size) and part_count > 2
    job_id = created["job_id"]

    def put_part(number: int, url: str) -> str:
        chunk = medium_wav[(number - 1) * part_size : number * part_size]
        response = requests.put(url, data=chunk, timeout=30)
        assert response.status_code == 200, response.text
        return response.headers["ETag"]

    # Upload part 1 from the first batch, then "crash" and resume from the listing.
    first = {p["part_number"]: p["url"] for p in upload["parts"]}
    etags = {1: put_part(1, first[1])}
    listed = pipeline.call("GET", f"/jobs/{job_id}/upload/parts").json()
    assert [(p["part_number"], p["etag"], p["size"]) for p in listed["parts"]] == [(1, etags[1], part_size)]

    rest = list(range(2, part_count + 1))
    fresh = pipeline.call("POST", f"/jobs/{job_id}/upload/parts", json={"part_numbers": rest})
    assert fresh.status_code == 200
    for part in fresh.json()["parts"]:
        etags[part["part_number"]] = put_part(part["part_number"], part["url"])

    beyond = pipeline.call("POST", f"/jobs/{job_id}/upload/parts", json={"part_numbers": [part_count + 1]})
    assert beyond.status_code == 400 and beyond.json()["error"]["details"]["field"] == "part_numbers"

    incomplete = pipeline.call("POST", f"/jobs/{job_id}/upload/complete",
                               json={"parts": [{"part_number": 1, "etag": etags[1]}]})
    assert incomplete.status_code == 400 and "parts" in incomplete.json()["error"]["message"]

    done = pipeline.call("POST", f"/jobs/{job_id}/upload/complete",
                         json={"parts": [{"part_number": n, "etag": e} for n, e in etags.items()]})
    assert done.status_code == 202, done.text
    job = pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"})
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["audio_duration_s"] == pytest.approx(30.0, abs=0.01)
    # A client that timed out on its complete sends it again: it gets the job, not a 409.
    again = pipeline.call("POST", f"/jobs/{job_id}/upload/complete",
                          json={"parts": [{"part_number": n, "etag": e} for n, e in etags.items()]})
    assert again.status_code == 202 and again.json()["status"] == "SUCCEEDED", again.text
    # The upload is closed now.
    closed = pipeline.call("GET", f"/jobs/{job_id}/upload/parts")
    assert closed.status_code == 409


def test_filenames_with_spaces_and_non_ascii(pipeline, short_wav):
    name = "récif du matin 1+1 (été) 珊瑚.wav"
    job_id = pipeline.submit_bytes(name, short_wav)
    job = pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"})
    assert job["status"] == "SUCCEEDED", job
    assert job["filename"] == name
    document = requests.get(job["result"]["links"]["json"], timeout=30).json()
    assert document["audio"]["filename"] == name
    disposition = requests.get(job["result"]["links"]["csv"], timeout=30).headers.get("Content-Disposition", "")
    # The recording's own name for browsers (RFC 6266 filename*), an ASCII one for the rest.
    from urllib.parse import unquote

    assert 'filename="recif_du_matin_1_1_ete_.events.csv"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "récif du matin 1+1 (été) 珊瑚.events.csv"


def test_cancel_during_upload_aborts_the_multipart_upload(pipeline, medium_wav):
    created = pipeline.call("POST", "/jobs", json={"filename": "half.wav", "size_bytes": len(medium_wav)}).json()
    upload = created["upload"]
    part = upload["parts"][0]
    assert requests.put(part["url"], data=medium_wav[: upload["part_size"]], timeout=30).status_code == 200

    cancelled = pipeline.call("DELETE", f"/jobs/{created['job_id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    s3 = pipeline.boto("s3")
    open_uploads = s3.list_multipart_uploads(Bucket="anemonefish-local-input").get("Uploads", [])
    assert upload["upload_id"] not in {u["UploadId"] for u in open_uploads}
    again = requests.put(upload["parts"][1]["url"], data=b"x" * 10, timeout=30)
    assert again.status_code >= 400  # AWS: 404 NoSuchUpload; moto answers 500 -- refused either way
    assert pipeline.call("GET", f"/jobs/{created['job_id']}").json()["status"] == "CANCELLED"
    assert pipeline.call("DELETE", f"/jobs/{created['job_id']}").status_code == 409
    events = pipeline.notifications_for(created["job_id"])
    assert [json.loads(e["Message"])["data"]["status"] for e in events] == ["CANCELLED"]


def test_submit_client_resumes_an_interrupted_multipart_upload_and_downloads_results(pipeline, medium_wav, tmp_path):
    from rich.console import Console

    from anemonefish_services.client.api import ApiClient
    from anemonefish_services.client.submit import idempotency_key, submit_files

    recording = tmp_path / "clip one.wav"
    recording.write_bytes(medium_wav)
    client = ApiClient(pipeline.api_url, "key-a")
    # An earlier run created the job and sent part 1, then was interrupted.
    digest = hashlib.sha256(medium_wav).hexdigest()
    earlier = client.create_job(recording.name, len(medium_wav), content_type="audio/x-wav", sha256=digest,
                                idempotency_key=idempotency_key(recording, None, None, digest))
    first = earlier["upload"]["parts"][0]
    assert requests.put(first["url"], data=medium_wav[: earlier["upload"]["part_size"]], timeout=30).status_code == 200

    outdir = tmp_path / "out"
    [sub] = submit_files(client, [recording], outdir, part_workers=3, console=Console(quiet=True))
    assert sub.job_id == earlier["job_id"], "the rerun resumed the same job"
    assert sub.status == "SUCCEEDED", sub.error
    assert {p.name for p in outdir.iterdir()} == {
        "clip one.events.json", "clip one.events.csv", "clip one.Table.1.selections.txt",
        "clip one.labels.txt", "clip one.scores.csv"}
    document = json.loads((outdir / "clip one.events.json").read_text())
    assert document["job_id"] == sub.job_id and sub.events == document["events"]
    # The object in S3 is byte-identical to the file (parts reassembled in order).
    s3 = pipeline.boto("s3")
    body = s3.get_object(Bucket="anemonefish-local-input", Key=f"uploads/{sub.job_id}/clip_one.wav")["Body"].read()
    assert body == medium_wav
    # The job carries the file's digest, so the worker checked the upload against it.
    item = pipeline.boto("dynamodb").get_item(TableName="anemonefish-local-jobs", Key={"job_id": {"S": sub.job_id}})["Item"]
    assert item["sha256"]["S"] == digest


def test_submit_command_reads_its_settings_from_the_environment(pipeline, short_wav, tmp_path, monkeypatch, capsys):
    from anemonefish_services.cli import main

    recording = tmp_path / "cli reef.wav"
    recording.write_bytes(short_wav)
    monkeypatch.setenv("ANEMONEFISH_API_URL", pipeline.api_url)
    monkeypatch.setenv("ANEMONEFISH_API_KEY", "key-a")
    assert main(["submit", str(recording), "-o", str(tmp_path / "out"), "--params", '{"threshold": 0.7}']) == 0
    out = capsys.readouterr().out
    assert "cli reef.wav" in out and "SUCCEEDED" in out
    document = json.loads((tmp_path / "out" / "cli reef.events.json").read_text())
    assert document["params"]["threshold"] == 0.7
    monkeypatch.setenv("ANEMONEFISH_API_KEY", "wrong")
    capsys.readouterr()
    # A refused key is the caller's option, the same for every file: one line, exit 2.
    assert main(["submit", str(recording), "-o", str(tmp_path / "out2"), "--new"]) == 2
    said = capsys.readouterr()
    assert said.err.endswith("\nerror: 403 forbidden: invalid API key\n") and "calls" not in said.out  # no table


def _upload_parts(pipeline, created, data):
    upload = created["upload"]
    size, urls = upload["part_size"], {p["part_number"]: p["url"] for p in upload["parts"]}
    missing = [n for n in range(1, upload["part_count"] + 1) if n not in urls]
    if missing:
        more = pipeline.call("POST", f"/jobs/{created['job_id']}/upload/parts", json={"part_numbers": missing}).json()
        urls.update({p["part_number"]: p["url"] for p in more["parts"]})
    etags = []
    for number in range(1, upload["part_count"] + 1):
        response = requests.put(urls[number], data=data[(number - 1) * size : number * size], timeout=30)
        assert response.status_code == 200, response.text
        etags.append({"part_number": number, "etag": response.headers["ETag"]})
    return etags


def test_a_digest_computed_while_uploading_comes_with_the_complete_and_is_checked(pipeline, medium_wav):
    """A browser hashes a multi-GB file while its parts go up, so its SHA-256 arrives with
    upload/complete; the worker checks it as one given at POST /jobs."""
    right = hashlib.sha256(medium_wav).hexdigest()
    table = pipeline.boto("dynamodb")

    def create(name, **extra):
        created = pipeline.call("POST", "/jobs", json={"filename": name, "size_bytes": len(medium_wav), **extra}).json()
        assert created["upload"]["method"] == "MULTIPART"
        return created

    good = create("hashed late.wav")
    done = pipeline.call("POST", f"/jobs/{good['job_id']}/upload/complete",
                         json={"parts": _upload_parts(pipeline, good, medium_wav), "sha256": right.upper()})
    assert done.status_code == 202, done.text
    assert pipeline.wait_for(good["job_id"], {"SUCCEEDED", "FAILED"})["status"] == "SUCCEEDED"
    item = table.get_item(TableName="anemonefish-local-jobs", Key={"job_id": {"S": good["job_id"]}})["Item"]
    assert item["sha256"]["S"] == right  # kept in lower case

    wrong = create("other file.wav")
    done = pipeline.call("POST", f"/jobs/{wrong['job_id']}/upload/complete",
                         json={"parts": _upload_parts(pipeline, wrong, medium_wav), "sha256": "0" * 64})
    assert done.status_code == 202, done.text
    job = pipeline.wait_for(wrong["job_id"], {"SUCCEEDED", "FAILED"})
    assert job["status"] == "FAILED" and job["error"]["code"] == "checksum_mismatch", job

    # A digest at complete that contradicts the one given at creation is refused, naming it,
    # and the upload stays open for a complete with the right one.
    both = create("two digests.wav", sha256=right)
    parts = _upload_parts(pipeline, both, medium_wav)
    refused = pipeline.call("POST", f"/jobs/{both['job_id']}/upload/complete", json={"parts": parts, "sha256": "1" * 64})
    assert refused.status_code == 400 and refused.json()["error"]["details"]["field"] == "sha256", refused.text
    assert pipeline.call("GET", f"/jobs/{both['job_id']}").json()["status"] == "AWAITING_UPLOAD"
    done = pipeline.call("POST", f"/jobs/{both['job_id']}/upload/complete", json={"parts": parts, "sha256": right})
    assert done.status_code == 202, done.text
    assert pipeline.wait_for(both["job_id"], {"SUCCEEDED", "FAILED"})["status"] == "SUCCEEDED"


def test_the_emulator_answers_another_site_no_cors_headers_beyond_the_buckets_own(pipeline, short_wav):
    """moto's global CORS answered any Origin: a web page the user visited could list the stack's
    input bucket (security review). Only the buckets' own rules apply now: PUTs to the input."""
    bucket = "anemonefish-local-input"
    evil = {"Origin": "https://evil.example"}
    listing = requests.get(f"{pipeline.endpoint_url}/{bucket}?list-type=2", headers=evil, timeout=30)
    assert "Access-Control-Allow-Origin" not in listing.headers
    preflight = requests.options(f"{pipeline.endpoint_url}/{bucket}/uploads/x/a.wav", timeout=30, headers={
        **evil, "Access-Control-Request-Method": "PUT"})
    assert preflight.headers.get("Access-Control-Allow-Origin") in ("*", "https://evil.example")  # the bucket's rule
