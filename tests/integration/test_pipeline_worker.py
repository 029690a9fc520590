"""The S3 -> SQS -> worker path: duplicates, test events, bad audio, takeover, cancel, DLQ."""

from __future__ import annotations

import json
import time
from urllib.parse import quote_plus

import pytest
import requests

pytestmark = pytest.mark.integration


def _s3_event(key: str, size: int, name: str = "ObjectCreated:Put") -> str:
    # The shape S3 (and moto) send: URL-encoded key with '+' for spaces.
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": name,
        "s3": {"bucket": {"name": "anemonefish-local-input"}, "object": {"key": quote_plus(key), "size": size}},
    }]})


def test_same_s3_event_three_times_gives_one_result_and_one_notification(pipeline, short_wav):
    created = pipeline.call("POST", "/jobs", json={
        "filename": "dup licate.wav", "size_bytes": len(short_wav), "webhook": {"url": pipeline.receiver.url}}).json()
    job_id = created["job_id"]
    pipeline.upload_put(created, short_wav)
    key = f"uploads/{job_id}/dup_licate.wav"
    sqs = pipeline.boto("sqs")
    for _ in range(3):  # on top of the real one
        sqs.send_message(QueueUrl=pipeline.stack.env["ANEMONEFISH_JOBS_QUEUE_URL"], MessageBody=_s3_event(key, len(short_wav)))
    job = pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"})
    assert job["status"] == "SUCCEEDED"
    pipeline.queue_drained()

    s3 = pipeline.boto("s3")
    listing = s3.list_objects_v2(Bucket="anemonefish-local-output", Prefix=f"results/{job_id}/")["Contents"]
    assert len(listing) == 5
    events = pipeline.notifications_for(job_id)
    assert len(events) == 1
    assert events[0]["MessageAttributes"]["status"]["Value"] == "SUCCEEDED"
    hooks = [h for h in pipeline.receiver.received if h.payload and h.payload["data"]["job_id"] == job_id]
    assert len(hooks) == 1 and hooks[0].verified
    dlq = pipeline.boto("sqs").get_queue_attributes(QueueUrl=pipeline.stack.env["ANEMONEFISH_DLQ_URL"],
                                                    AttributeNames=["ApproximateNumberOfMessages"])
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_s3_test_event_is_consumed_and_the_queue_keeps_working(pipeline, short_wav):
    sqs = pipeline.boto("sqs")
    sqs.send_message(QueueUrl=pipeline.stack.env["ANEMONEFISH_JOBS_QUEUE_URL"], MessageBody=json.dumps({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-01-01T00:00:00.000Z",
        "Bucket": "anemonefish-local-input", "RequestId": "x", "HostId": "y"}))
    job_id = pipeline.submit_bytes("after-test-event.wav", short_wav)
    assert pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"})["status"] == "SUCCEEDED"
    pipeline.queue_drained()
    dlq = sqs.get_queue_attributes(QueueUrl=pipeline.stack.env["ANEMONEFISH_DLQ_URL"], AttributeNames=["ApproximateNumberOfMessages"])
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_corrupt_empty_and_non_audio_uploads_fail_with_codes_without_blocking_others(pipeline, short_wav):
    corrupt = short_wav[:44] + bytes(range(256)) * 40  # a WAV header over garbage that is too short
    bad = {
        "corrupt.wav": corrupt,
        "empty.wav": b"",
        "notes.txt": b"these are field notes, not audio\n" * 50,
        "truncated.flac": b"fLaC\x00\x00\x00\x22" + b"\x00" * 30,
    }
    ids = {name: pipeline.submit_bytes(name, data) for name, data in bad.items()}
    good = pipeline.submit_bytes("good.wav", short_wav)
    assert pipeline.wait_for(good, {"SUCCEEDED", "FAILED"})["status"] == "SUCCEEDED"
    codes = {}
    for name, job_id in ids.items():
        job = pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"})
        assert job["status"] == "FAILED", (name, job)
        assert job["error"]["message"]
        codes[name] = job["error"]["code"]
    assert codes["empty.wav"] == "empty_audio"
    assert codes["notes.txt"] in {"unsupported_audio", "corrupt_audio"}
    assert codes["truncated.flac"] in {"unsupported_audio", "corrupt_audio"}
    assert codes["corrupt.wav"] in {"corrupt_audio", "audio_too_short", "unsupported_audio"}
    # Permanent failures are not retried: one notification each, nothing dead-lettered.
    for job_id in ids.values():
        assert [json.loads(e["Message"])["data"]["status"] for e in pipeline.notifications_for(job_id, 0.3)] == ["FAILED"]


def test_worker_killed_mid_job_is_taken_over_after_lease_expiry(pipeline, short_wav):
    from anemonefish_services.dal.jobs import JobsRepository
    from anemonefish_services.settings import get_settings

    stack = pipeline.stack
    stack.worker.stop()  # no worker running while we stage the crash
    try:
        job_id = pipeline.submit_bytes("takeover.wav", short_wav)
        sqs = pipeline.boto("sqs")
        queue_url = stack.env["ANEMONEFISH_JOBS_QUEUE_URL"]
        messages = []
        deadline = time.monotonic() + 10
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, VisibilityTimeout=2).get("Messages", [])
        assert messages, "the S3 event did not arrive"
        # The "dead" worker received the message and claimed the job with a 1 s lease, then died.
        repo = JobsRepository(get_settings())
        repo.mark_queued(job_id)
        assert repo.claim(job_id, "worker-that-died", lease_s=1.0) is not None
        assert pipeline.call("GET", f"/jobs/{job_id}").json()["status"] == "RUNNING"
    finally:
        stack.worker = stack.new_worker().start()
        stack._parts.append(stack.worker)
    job = pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout_s=60)
    assert job["status"] == "SUCCEEDED"
    record = JobsRepository(get_settings()).get(job_id)
    assert record is not None and record.attempts == 2 and record.lease_owner is None
    # The dead worker can no longer write: its lease is gone.
    assert JobsRepository(get_settings()).heartbeat(job_id, "worker-that-died", progress=0.5, lease_s=5) is None
    assert len(pipeline.notifications_for(job_id)) == 1


def test_cancel_during_processing_stops_between_blocks_and_writes_no_results(pipeline, wav_factory):
    long_wav = wav_factory(600.0, sample_rate=8000, seed=3)
    created = pipeline.call("POST", "/jobs", json={"filename": "long.wav", "size_bytes": len(long_wav)}).json()
    job_id = created["job_id"]
    upload = created["upload"]
    etags = []
    for part in pipeline.call("POST", f"/jobs/{job_id}/upload/parts",
                              json={"part_numbers": list(range(1, upload["part_count"] + 1))}).json()["parts"]:
        chunk = long_wav[(part["part_number"] - 1) * upload["part_size"] : part["part_number"] * upload["part_size"]]
        etags.append({"part_number": part["part_number"], "etag": requests.put(part["url"], data=chunk, timeout=30).headers["ETag"]})
    assert pipeline.call("POST", f"/jobs/{job_id}/upload/complete", json={"parts": etags}).status_code == 202
    pipeline.wait_for(job_id, {"RUNNING"}, timeout_s=30)
    cancelled = pipeline.call("DELETE", f"/jobs/{job_id}")
    assert cancelled.status_code == 200, cancelled.text
    pipeline.queue_drained(timeout_s=60)
    job = pipeline.call("GET", f"/jobs/{job_id}").json()
    assert job["status"] == "CANCELLED" and job["result"] is None
    listing = pipeline.boto("s3").list_objects_v2(Bucket="anemonefish-local-output", Prefix=f"results/{job_id}/")
    assert listing.get("KeyCount", 0) == 0
    assert [json.loads(e["Message"])["data"]["status"] for e in pipeline.notifications_for(job_id)] == ["CANCELLED"]
    # Nor does it keep the recording: a cancel is often of a wrong (or private) file.
    uploads = pipeline.boto("s3").list_objects_v2(Bucket="anemonefish-local-input", Prefix=f"uploads/{job_id}/")
    assert uploads.get("KeyCount", 0) == 0


def test_dead_lettered_job_is_marked_failed(pipeline, short_wav):
    created = pipeline.call("POST", "/jobs", json={"filename": "never.wav", "size_bytes": 10}).json()
    job_id = created["job_id"]
    pipeline.boto("sqs").send_message(QueueUrl=pipeline.stack.env["ANEMONEFISH_DLQ_URL"],
                                      MessageBody=_s3_event(f"uploads/{job_id}/never.wav", 10))
    job = pipeline.wait_for(job_id, {"FAILED"}, timeout_s=30)
    assert job["error"]["code"] == "processing_failed"
    assert [json.loads(e["Message"])["data"]["status"] for e in pipeline.notifications_for(job_id)] == ["FAILED"]


def test_uploads_that_never_arrive_expire(pipeline):
    from anemonefish_services.dal.jobs import JobsRepository
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.logic.expire import expire_overdue_uploads
    from anemonefish_services.settings import get_settings

    created = pipeline.call("POST", "/jobs", json={"filename": "lost.wav", "size_bytes": 10}).json()
    settings = get_settings()
    # The sweeper (scheduled in AWS, a timer locally) run as if the upload deadline had passed.
    expired = expire_overdue_uploads(settings=settings, repo=JobsRepository(settings), storage=Storage(settings),
                                     now=time.time() + settings.upload_expires_s + 1)
    assert created["job_id"] in expired
    job = pipeline.call("GET", f"/jobs/{created['job_id']}").json()
    assert job["status"] == "EXPIRED" and job["error"]["code"] == "upload_expired"
    assert [json.loads(e["Message"])["data"]["status"] for e in pipeline.notifications_for(created["job_id"])] == ["EXPIRED"]


def test_transient_failures_are_retried_then_dead_lettered_and_the_job_fails(pipeline, short_wav, monkeypatch):
    """A fault injected into the running stack's S3 reads: every attempt fails transiently,
    SQS redelivers up to maxReceiveCount, the DLQ consumer then marks the job FAILED."""
    from anemonefish_services.logic import process_job

    real_reader = process_job.S3SeekableReader
    attempts = []

    def flaky_reader(client, bucket, key, **kwargs):  # noqa: ANN001, ANN003
        if "flaky" in key:
            attempts.append(key)
            raise ConnectionResetError("injected: connection reset by peer")
        return real_reader(client, bucket, key, **kwargs)

    monkeypatch.setattr(process_job, "S3SeekableReader", flaky_reader)
    job_id = pipeline.submit_bytes("flaky.wav", short_wav)
    job = pipeline.wait_for(job_id, {"FAILED", "SUCCEEDED"}, timeout_s=60)
    assert job["status"] == "FAILED" and job["error"]["code"] == "processing_failed"
    assert "connection reset by peer" in job["error"]["message"]  # the last transient error, for the user
    assert len(attempts) == 3  # maxReceiveCount of the test queue
    assert [json.loads(e["Message"])["data"]["status"] for e in pipeline.notifications_for(job_id)] == ["FAILED"]


def test_an_object_of_another_size_than_declared_fails_its_job(pipeline, short_wav):
    created = pipeline.call("POST", "/jobs", json={"filename": "liar.wav", "size_bytes": len(short_wav) + 1}).json()
    pipeline.upload_put(created, short_wav)
    job = pipeline.wait_for(created["job_id"], {"FAILED", "SUCCEEDED"})
    assert job["status"] == "FAILED" and job["error"]["code"] == "upload_size_mismatch"


def test_an_upload_is_checked_against_the_sha256_its_job_was_created_with(pipeline, short_wav):
    """sha256 used to be kept and never checked: a file damaged on its way was analysed."""
    import hashlib

    right = hashlib.sha256(short_wav).hexdigest()
    damaged = bytearray(short_wav)
    damaged[len(damaged) // 2] ^= 0x01  # one flipped bit in the samples: still decodes
    uploads = {
        "intact.wav": (short_wav, right.upper()),  # either case of hex is the same digest
        "damaged.wav": (bytes(damaged), right),
        "garbage.wav": (short_wav[:44] + bytes(len(short_wav) - 44), right),
        # Refused as audio at its header: the digest still names the real reason (it is small).
        "notes.wav": (b"field notes, not audio\n" * 400, right),
    }
    jobs = {}
    for name, (data, digest) in uploads.items():
        created = pipeline.call("POST", "/jobs", json={"filename": name, "size_bytes": len(data), "sha256": digest}).json()
        pipeline.upload_put(created, data)
        jobs[name] = created["job_id"]
    done = {name: pipeline.wait_for(job_id, {"FAILED", "SUCCEEDED"}) for name, job_id in jobs.items()}
    assert done["intact.wav"]["status"] == "SUCCEEDED"
    for name in ("damaged.wav", "garbage.wav", "notes.wav"):  # the bytes, not the audio, are what is wrong
        job = done[name]
        assert job["status"] == "FAILED" and job["error"]["code"] == "checksum_mismatch", job
        assert f"has SHA-256 {hashlib.sha256(uploads[name][0]).hexdigest()}, not the {right}" in job["error"]["message"]
        listed = pipeline.boto("s3").list_objects_v2(Bucket="anemonefish-local-output", Prefix=f"results/{jobs[name]}/")
        assert listed.get("KeyCount", 0) == 0  # nothing written for a file that is not the one sent


def test_a_large_file_refused_as_audio_is_not_fetched_whole_to_check_its_sha256(pipeline, monkeypatch):
    """Hashing the rest of a file refused at its header could take longer than the invocation
    (uploads go up to 50 GiB): past AUDIO_ERROR_DIGEST_BYTES unread, the audio error stands."""
    import hashlib

    from anemonefish_services.logic import process_job

    import functools

    # Scaled down: 4 KiB blocks, and "large" is over 1 KiB unread.
    monkeypatch.setattr(process_job, "S3SeekableReader", functools.partial(process_job.S3SeekableReader, block_size=4096))
    monkeypatch.setattr(process_job, "AUDIO_ERROR_DIGEST_BYTES", 1024)
    data = b"field notes, not audio\n" * 400  # 9.2 kB: refused within its first block
    created = pipeline.call("POST", "/jobs", json={"filename": "big notes.wav", "size_bytes": len(data),
                                                   "sha256": hashlib.sha256(b"another file").hexdigest()}).json()
    pipeline.upload_put(created, data)
    job = pipeline.wait_for(created["job_id"], {"FAILED", "SUCCEEDED"})
    assert job["status"] == "FAILED" and job["error"]["code"] in {"unsupported_audio", "corrupt_audio"}, job


def test_worker_process_killed_mid_job_is_taken_over_and_completes_once(pipeline, wav_factory, tmp_path):
    """A second worker runs as its own process (``anemonefish local up --existing`` against
    the same resources), is SIGKILLed while the job is RUNNING, and the stack's own worker
    takes the job over when the lease and the message's visibility have expired."""
    import os
    import signal
    import subprocess
    import sys

    from anemonefish_services.dal.jobs import JobsRepository
    from anemonefish_services.local.moto_server import free_port
    from anemonefish_services.settings import get_settings

    stack = pipeline.stack
    stack.worker.stop()
    log = (tmp_path / "killed-worker.log").open("w")
    env = {**os.environ, **stack.env, "POWERTOOLS_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from anemonefish_services.cli import main; sys.exit(main())",
         "local", "up", "--existing",
         "--port", str(free_port()), "--api-key", "killed-worker-key"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        long_wav = wav_factory(240.0, sample_rate=8000, seed=5)
        created = pipeline.call("POST", "/jobs", json={"filename": "killed.wav", "size_bytes": len(long_wav)}).json()
        job_id, upload = created["job_id"], created["upload"]
        parts = pipeline.call("POST", f"/jobs/{job_id}/upload/parts",
                              json={"part_numbers": list(range(1, upload["part_count"] + 1))}).json()["parts"]
        etags = [{"part_number": p["part_number"], "etag": requests.put(
            p["url"], data=long_wav[(p["part_number"] - 1) * upload["part_size"]: p["part_number"] * upload["part_size"]],
            timeout=30).headers["ETag"]} for p in parts]
        assert pipeline.call("POST", f"/jobs/{job_id}/upload/complete", json={"parts": etags}).status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = pipeline.call("GET", f"/jobs/{job_id}").json()
            if job["status"] == "RUNNING" and (job["progress"] or {}).get("fraction", 0) > 0:
                break
            assert job["status"] in ("QUEUED", "RUNNING", "AWAITING_UPLOAD"), job
            time.sleep(0.05)
        else:
            raise AssertionError("the worker process never got going")
        os.killpg(process.pid, signal.SIGKILL)  # mid-job, no chance to release anything
        process.wait(10)
        dead_owner = JobsRepository(get_settings()).get(job_id).lease_owner
        assert dead_owner is not None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        stack.worker = stack.new_worker().start()
        stack._parts.append(stack.worker)

    job = pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout_s=90)
    assert job["status"] == "SUCCEEDED", (job["error"], log.name and open(log.name).read()[-3000:])
    record = JobsRepository(get_settings()).get(job_id)
    assert record.attempts == 2 and record.lease_owner is None
    listing = pipeline.boto("s3").list_objects_v2(Bucket="anemonefish-local-output", Prefix=f"results/{job_id}/")
    assert listing["KeyCount"] == 5
    assert [json.loads(e["Message"])["data"]["status"] for e in pipeline.notifications_for(job_id)] == ["SUCCEEDED"]


def test_a_stalled_job_whose_message_is_lost_is_redriven_by_the_sweeper(pipeline, short_wav):
    from anemonefish_services.dal.jobs import JobsRepository
    from anemonefish_services.settings import get_settings
    from anemonefish_services.worker.sweeper import sweep

    stack = pipeline.stack
    stack.worker.stop()
    try:
        job_id = pipeline.submit_bytes("stalled.wav", short_wav)
        sqs = pipeline.boto("sqs")
        queue_url = stack.env["ANEMONEFISH_JOBS_QUEUE_URL"]
        messages = []
        deadline = time.monotonic() + 10
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        assert messages
        repo = JobsRepository(get_settings())
        repo.mark_queued(job_id)
        assert repo.claim(job_id, "worker-that-died", lease_s=1.0) is not None
        for m in messages:  # the worker died and its message is gone
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    finally:
        stack.worker = stack.new_worker().start()
        stack._parts.append(stack.worker)
    time.sleep(1.5)
    assert pipeline.call("GET", f"/jobs/{job_id}").json()["status"] == "RUNNING"  # stuck without the sweeper
    settings = get_settings()
    outcome = sweep(settings, now=time.time() + settings.stall_grace_s)
    assert job_id in outcome["redriven"]
    job = pipeline.wait_for(job_id, {"SUCCEEDED", "FAILED"}, timeout_s=30)
    assert job["status"] == "SUCCEEDED"
    record = JobsRepository(settings).get(job_id)
    assert record.redrives == 1 and record.attempts == 2
    assert len(pipeline.notifications_for(job_id)) == 1
