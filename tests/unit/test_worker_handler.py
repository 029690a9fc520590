"""The worker Lambda's failure semantics (worker.handler), on in-process moto: a transient
error is a partial batch failure (retried by SQS) and releases the job; a permanent audio
error fails the job and the message succeeds."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import boto3
import pytest
from anemonefish.exceptions import CorruptAudioError
from anemonefish.params import DetectionParams
from moto import mock_aws

from anemonefish_services.dal.jobs import JobsRepository, utc_now_iso
from anemonefish_services.local.lambda_context import LocalLambdaContext
from anemonefish_services.local.resources import create_resources
from anemonefish_services.models.job import JobError, JobRecord, JobStatus


class _DetectorDouble:
    """Stands in for the model: fails the way the test needs, before any inference."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.default_params = DetectionParams()
        self.bundle = SimpleNamespace(classes=["noise", "anemonefish", "biological"])

    def run(self, source, **kwargs):  # noqa: ANN001, ANN003
        source.read(16)
        raise self.error


@pytest.fixture
def worker(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("ANEMONEFISH_TOPIC_ARN", "")
    monkeypatch.delenv("ANEMONEFISH_AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("ANEMONEFISH_JOBS_QUEUE_URL", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with mock_aws():
        create_resources(endpoint_url=None)  # type: ignore[arg-type]
        from anemonefish_services.settings import get_settings
        from anemonefish_services.worker import deps, handler

        get_settings.cache_clear()
        deps.worker_deps.cache_clear()
        deps.sqs_client.cache_clear()
        yield handler, deps
        get_settings.cache_clear()
        deps.worker_deps.cache_clear()
        deps.sqs_client.cache_clear()


def _stage_job(job_id: str) -> str:
    key = f"uploads/{job_id}/a.wav"
    boto3.client("s3", region_name="us-east-1").put_object(Bucket="anemonefish-local-input", Key=key, Body=b"RIFF" + b"\0" * 100)
    now = utc_now_iso()
    from anemonefish_services.settings import get_settings

    JobsRepository(get_settings()).create(JobRecord(
        job_id=job_id, tenant_id="t", status=JobStatus.AWAITING_UPLOAD, filename="a.wav", size_bytes=104,
        input_key=key, upload_mode="PUT", created_at=now, updated_at=now, upload_expires_at=time.time() + 60,
        expires_at_epoch=int(time.time()) + 3600))
    return key


def _event(key: str) -> dict:
    body = json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                    "s3": {"bucket": {"name": "anemonefish-local-input"}, "object": {"key": key, "size": 104}}}]})
    return {"Records": [{"messageId": "m1", "receiptHandle": "r1", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:anemonefish-local-jobs", "awsRegion": "us-east-1"}]}


def test_transient_error_is_a_batch_item_failure_and_releases_the_job(worker, monkeypatch, caplog):
    handler, deps = worker
    key = _stage_job("job-transient")
    monkeypatch.setattr(deps, "thread_detector", lambda: _DetectorDouble(ConnectionResetError("network blip")))
    deps.worker_deps.cache_clear()
    from anemonefish_services.logic import process_job

    emitted = []
    monkeypatch.setattr(process_job.metrics, "add_metric", lambda **metric: emitted.append(metric))
    response = handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    job = deps.worker_deps().repo.get("job-transient")
    assert job.status is JobStatus.QUEUED and job.lease_owner is None and job.attempts == 1
    # What reading the upload cost is recorded for a failed attempt too: one GET of its 104 bytes.
    read = {m["name"]: m["value"] for m in emitted if m["name"].startswith("Input")}
    assert read == {"InputBytesRead": 104, "InputGetRequests": 1}
    # Logged with its trace: powertools' batch processor logs a record's failure at debug only,
    # so a worker failing every record (a denied S3 call) once wrote nothing at all.
    (failed,) = [r for r in caplog.records if r.getMessage().startswith("record failed")]
    assert failed.levelname == "ERROR" and "network blip" in str(failed.exc_info[1])


def test_permanent_audio_error_fails_the_job_and_the_message_succeeds(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-corrupt")

    class _Corrupt(_DetectorDouble):
        def run(self, source, **kwargs):  # noqa: ANN001, ANN003
            source.read(16)
            raise CorruptAudioError(f"{source.name}: cannot decode audio")  # as the library names a source

    monkeypatch.setattr(deps, "thread_detector", lambda: _Corrupt(RuntimeError()))
    deps.worker_deps.cache_clear()
    response = handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker"))
    assert response == {"batchItemFailures": []}
    job = deps.worker_deps().repo.get("job-corrupt")
    assert job.status is JobStatus.FAILED and job.error.code == "corrupt_audio"
    # The client knows its recording by its name, not by the bucket it went to.
    assert job.error.message == "a.wav: cannot decode audio"
    # A redelivery of the same event changes nothing.
    assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    assert deps.worker_deps().repo.get("job-corrupt").attempts == 1


class _ScriptedContext(LocalLambdaContext):
    """An invocation whose clock moves only when the detector double says a block took time."""

    def __init__(self, remaining_s: float, after_first_look_s: float | None = None) -> None:
        super().__init__(function_name="worker")
        self.remaining_s = remaining_s
        self._after_first_look_s = after_first_look_s  # e.g. earlier records of the batch took the rest

    def get_remaining_time_in_millis(self) -> int:
        remaining_ms = int(self.remaining_s * 1000)
        if self._after_first_look_s is not None:
            self.remaining_s, self._after_first_look_s = self._after_first_look_s, None
        return remaining_ms


class _Steady(_DetectorDouble):
    """Decodes 1 % of the recording per block, each block taking ``block_s`` of the invocation.

    In the detector's order: ``should_stop`` before each block, progress after it."""

    def __init__(self, context: _ScriptedContext, block_s: float) -> None:
        super().__init__(RuntimeError())
        self.context, self.block_s = context, block_s

    def run(self, source, progress=None, should_stop=None, **kwargs):  # noqa: ANN001, ANN003
        from anemonefish.exceptions import DetectionCancelled

        for block in range(1, 101):
            if should_stop():
                raise DetectionCancelled("stop")
            self.context.remaining_s -= self.block_s
            progress(block / 100)
        raise AssertionError("the double finished: the test expected a stop")


def _attempt(handler, deps, monkeypatch, key: str, block_s: float, starts_with_s: float = 900.0) -> dict:  # noqa: ANN001
    """One invocation of 900 s in which the job starts with ``starts_with_s`` left."""
    context = _ScriptedContext(900.0, after_first_look_s=starts_with_s)
    monkeypatch.setattr(deps, "thread_detector", lambda: _Steady(context, block_s=block_s))
    deps.worker_deps.cache_clear()
    return handler.lambda_handler(_event(key), context)


RETRY = {"batchItemFailures": [{"itemIdentifier": "m1"}]}
DONE = {"batchItemFailures": []}


def test_time_running_out_releases_the_job_for_a_retry(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-late")
    # 15 s a block: 1500 s for the file, under twice the 900 s, so it runs to the safety margin.
    assert _attempt(handler, deps, monkeypatch, key, block_s=15.0) == RETRY
    job = deps.worker_deps().repo.get("job-late")
    assert job.status is JobStatus.QUEUED and job.lease_owner is None
    assert job.last_error == "worker_timeout: the invocation ran out of time at 59% of the recording"
    assert job.timed_out_attempt == 1


def test_two_whole_attempts_in_a_row_out_of_time_fail_the_job_as_too_long(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-too-long")
    assert _attempt(handler, deps, monkeypatch, key, block_s=15.0) == RETRY
    # The retry starts from the beginning and runs out again: that is the recording, not a slow
    # moment, so the job fails with its reason and the message is done.
    assert _attempt(handler, deps, monkeypatch, key, block_s=15.0) == DONE
    job = deps.worker_deps().repo.get("job-too-long")
    assert job.status is JobStatus.FAILED and job.attempts == 2 and job.error.code == "recording_too_long"
    assert job.error.message == (
        "a.wav is too long for one worker: two attempts in a row ran out of time (the last: the invocation ran "
        "out of time at 59% of the recording). Each attempt starts from the beginning, so split the recording "
        "into at least 3 parts and submit each as a job"
    )


def test_a_recording_that_cannot_fit_stops_after_its_first_minute_and_fails_on_the_retry(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-hopeless")
    # 20 s a block (1 % of the file): 2000 s for all of it, over twice the 900 s an attempt has.
    context = _ScriptedContext(900.0)
    monkeypatch.setattr(deps, "thread_detector", lambda: _Steady(context, block_s=20.0))
    deps.worker_deps.cache_clear()
    assert handler.lambda_handler(_event(key), context) == RETRY  # a slow first minute gets a second chance
    assert context.remaining_s == 840.0  # it stopped at the first look after a minute
    why = "at the rate of its first 60 s (3.0% of it) it would take about 33 min, and an invocation has 15 min"
    assert deps.worker_deps().repo.get("job-hopeless").last_error == f"worker_timeout: {why}"
    assert _attempt(handler, deps, monkeypatch, key, block_s=20.0) == DONE
    job = deps.worker_deps().repo.get("job-hopeless")
    assert job.status is JobStatus.FAILED and job.error.code == "recording_too_long" and job.attempts == 2
    assert f"two attempts in a row ran out of time (the last: {why})" in job.error.message
    assert "split the recording into at least 3 parts" in job.error.message


def test_a_job_late_in_a_batch_never_counts_its_time_out_against_the_recording(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-late-in-batch")
    # It starts with 300 s of the invocation's 900 left. At 10 s a block the file needs 1000 s:
    # over twice what is left, but not twice what an invocation of its own would have.
    for attempt in (1, 2):
        assert _attempt(handler, deps, monkeypatch, key, block_s=10.0, starts_with_s=300.0) == RETRY
        job = deps.worker_deps().repo.get("job-late-in-batch")
        assert job.status is JobStatus.QUEUED and job.attempts == attempt and job.timed_out_attempt is None
        assert job.last_error == "worker_timeout: the invocation ran out of time at 28% of the recording"
    # Its first whole invocation (1000 s of work in 900 s) is its first time-out that counts.
    assert _attempt(handler, deps, monkeypatch, key, block_s=10.0) == RETRY
    job = deps.worker_deps().repo.get("job-late-in-batch")
    assert job.status is JobStatus.QUEUED and job.timed_out_attempt == 3
    # Late in a batch again right after it: still not two whole attempts in a row.
    assert _attempt(handler, deps, monkeypatch, key, block_s=10.0, starts_with_s=300.0) == RETRY
    job = deps.worker_deps().repo.get("job-late-in-batch")
    assert job.status is JobStatus.QUEUED and job.attempts == 4 and job.timed_out_attempt == 3


def test_a_job_is_not_started_with_less_than_twice_the_safety_margin_left(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-no-time")
    assert _attempt(handler, deps, monkeypatch, key, block_s=1.0, starts_with_s=50.0) == RETRY
    job = deps.worker_deps().repo.get("job-no-time")
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and job.last_error is None
    # Its message is made visible again in seconds, for another invocation to take.
    from anemonefish_services.exceptions import WorkerTimeRunningOutError
    from anemonefish_services.logic.process_job import RETRY_SOON_S, Invocation, process_upload

    visibility = []
    with pytest.raises(WorkerTimeRunningOutError):
        process_upload("job-no-time", key, deps.worker_deps(), Invocation(remaining_ms=lambda: 50_000, extend_visibility=visibility.append))
    assert visibility == [RETRY_SOON_S]


def test_only_consecutive_whole_time_outs_fail_the_job(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-interrupted")
    assert _attempt(handler, deps, monkeypatch, key, block_s=15.0) == RETRY
    # Attempt 2's worker dies without releasing (its lease lapses); attempt 3 takes the job over.
    repo = deps.worker_deps().repo
    assert repo.claim("job-interrupted", "worker-that-dies", lease_s=-1.0) is not None
    assert _attempt(handler, deps, monkeypatch, key, block_s=15.0) == RETRY
    job = repo.get("job-interrupted")
    assert job.status is JobStatus.QUEUED and job.attempts == 3 and job.timed_out_attempt == 3


def test_a_time_out_after_another_transient_error_is_still_retried(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-blip-then-late")
    monkeypatch.setattr(deps, "thread_detector", lambda: _DetectorDouble(ConnectionResetError("network blip")))
    deps.worker_deps.cache_clear()
    assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker")) == RETRY
    assert _attempt(handler, deps, monkeypatch, key, block_s=15.0) == RETRY
    assert deps.worker_deps().repo.get("job-blip-then-late").status is JobStatus.QUEUED


def test_long_jobs_extend_message_visibility_and_write_progress(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-long")
    progress_seen = []

    class _Long(_DetectorDouble):
        def run(self, source, progress=None, should_stop=None, **kwargs):  # noqa: ANN001, ANN003
            for i in range(1, 4):
                progress(i / 4)
                progress_seen.append(deps.worker_deps().repo.get("job-long").progress)
                assert not should_stop()
                time.sleep(0.6)
            raise CorruptAudioError("end the test here")

    monkeypatch.setenv("ANEMONEFISH_LEASE_S", "1")
    monkeypatch.setenv("ANEMONEFISH_PROGRESS_INTERVAL_S", "0")
    from anemonefish_services.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setattr(deps, "thread_detector", lambda: _Long(RuntimeError()))
    deps.worker_deps.cache_clear()
    extensions = []
    monkeypatch.setattr(handler, "_visibility_extender", lambda record, url: extensions.append)
    monkeypatch.setenv("ANEMONEFISH_JOBS_QUEUE_URL", "http://queue")
    get_settings.cache_clear()
    deps.worker_deps.cache_clear()
    handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker"))
    assert progress_seen == [0.25, 0.5, 0.75]
    assert len(extensions) >= 2 and all(timeout == 3 for timeout in extensions)  # 3 x the 1 s lease


def test_a_duplicate_delivery_during_a_live_lease_is_dropped_not_retried(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-busy")
    repo = deps.worker_deps().repo
    assert repo.claim("job-busy", "other-worker", lease_s=600) is not None
    monkeypatch.setattr(deps, "thread_detector", lambda: _DetectorDouble(AssertionError("must not run")))
    deps.worker_deps.cache_clear()
    response = handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker"))
    assert response == {"batchItemFailures": []}  # not retried: it would only burn the message's receives
    job = deps.worker_deps().repo.get("job-busy")
    assert job.status is JobStatus.RUNNING and job.lease_owner == "other-worker" and job.attempts == 1


def test_the_lease_holders_own_message_coming_back_is_kept_for_a_takeover(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-own")
    repo = deps.worker_deps().repo
    assert repo.claim("job-own", "holder", lease_s=600, message_id="m1") is not None
    monkeypatch.setattr(deps, "thread_detector", lambda: _DetectorDouble(AssertionError("must not run")))
    deps.worker_deps.cache_clear()
    response = handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # retried once the lease may have lapsed
    assert deps.worker_deps().repo.get("job-own").lease_owner == "holder"


def test_dead_letters_fail_released_jobs_and_redrive_jobs_that_lost_their_worker(worker, monkeypatch):
    _, deps = worker
    from anemonefish_services.worker import dlq

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.get_queue_url(QueueName="anemonefish-local-jobs")["QueueUrl"]
    monkeypatch.setenv("ANEMONEFISH_JOBS_QUEUE_URL", queue_url)
    from anemonefish_services.settings import get_settings

    get_settings.cache_clear()
    deps.worker_deps.cache_clear()
    repo = deps.worker_deps().repo
    released, lost = _stage_job("job-released"), _stage_job("job-lost")
    repo.claim("job-released", "w", lease_s=60)
    repo.release("job-released", "w")  # after a transient failure
    repo.claim("job-lost", "w", lease_s=60, now=time.time() - 120)  # its worker died long ago
    for key in (released, lost):
        assert dlq.lambda_handler(_event(key), LocalLambdaContext(function_name="dlq")) == {"batchItemFailures": []}
    assert repo.get("job-released").status is JobStatus.FAILED
    assert repo.get("job-released").error.code == "processing_failed"
    assert repo.get("job-lost").status is JobStatus.RUNNING and repo.get("job-lost").redrives == 1
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]]
    assert any("job-lost" in b and "ObjectCreated:Redrive" in b for b in bodies)  # (beside moto's s3:TestEvent)


def test_a_finished_job_whose_notifications_were_lost_is_notified_when_its_message_returns(worker, monkeypatch):
    """The finisher can be killed between its terminal write and the end of its notifications
    (a slow webhook receiver near the Lambda's deadline): its message comes back, and the
    notifications must go out then -- once."""
    handler, deps = worker
    from anemonefish_services.logic import notify
    from anemonefish_services.models.job import JobResult

    sent = []
    monkeypatch.setattr(notify, "_notify", lambda job, *args: sent.append((job.job_id, job.status.value)))
    key = _stage_job("job-quiet")
    repo = deps.worker_deps().repo
    repo.claim("job-quiet", "w", lease_s=60)
    finished = repo.succeed("job-quiet", "w", JobResult(events_count=0, audio_duration_s=1, processing_time_s=1, documents={}))
    context = LocalLambdaContext(function_name="worker")
    # Moments after the terminal write the finisher may still be notifying: retried later, not dropped.
    assert handler.lambda_handler(_event(key), context) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert sent == [] and repo.get("job-quiet").notified_at is None
    monkeypatch.setattr(notify, "NOTIFY_GRACE_S", 0.0)
    assert handler.lambda_handler(_event(key), context) == {"batchItemFailures": []}
    assert sent == [("job-quiet", "SUCCEEDED")] and repo.get("job-quiet").notified_at is not None
    assert repo.get("job-quiet").updated_at == finished.updated_at  # bookkeeping, not a change clients see
    assert handler.lambda_handler(_event(key), context) == {"batchItemFailures": []}
    assert sent == [("job-quiet", "SUCCEEDED")]  # recorded: not again


class _TickingContext(LocalLambdaContext):
    """An invocation whose every look at the clock costs ``tick_s``."""

    def __init__(self, remaining_s: float, tick_s: float) -> None:
        super().__init__(function_name="worker")
        self.remaining_s, self.tick_s = remaining_s, tick_s

    def get_remaining_time_in_millis(self) -> int:
        remaining_ms = int(self.remaining_s * 1000)
        self.remaining_s -= self.tick_s
        return remaining_ms


def test_hashing_a_long_unread_tail_stops_for_time_like_detection(worker, monkeypatch):
    """The digest fetches what the decoder never read (here 32 MiB after a refused header): it
    watches the invocation's time between blocks instead of running past it."""
    import hashlib
    import os

    handler, deps = worker
    key = "uploads/job-tail/a.wav"
    body = os.urandom(40 * 1024 * 1024)
    boto3.client("s3", region_name="us-east-1").put_object(Bucket="anemonefish-local-input", Key=key, Body=body)
    now = utc_now_iso()
    from anemonefish_services.settings import get_settings

    JobsRepository(get_settings()).create(JobRecord(
        job_id="job-tail", tenant_id="t", status=JobStatus.AWAITING_UPLOAD, filename="a.wav", size_bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(), input_key=key, upload_mode="PUT", created_at=now, updated_at=now,
        upload_expires_at=time.time() + 60, expires_at_epoch=int(time.time()) + 3600))

    class _Corrupt(_DetectorDouble):
        def run(self, source, **kwargs):  # noqa: ANN001, ANN003
            source.read(16)
            raise CorruptAudioError("not audio")

    monkeypatch.setattr(deps, "thread_detector", lambda: _Corrupt(RuntimeError()))
    deps.worker_deps.cache_clear()
    event = _event(key)
    event["Records"][0]["body"] = event["Records"][0]["body"].replace('"size": 104', f'"size": {len(body)}')
    assert handler.lambda_handler(event, _TickingContext(100.0, tick_s=15.0)) == RETRY
    job = deps.worker_deps().repo.get("job-tail")
    assert job.status is JobStatus.QUEUED and job.last_error.startswith("worker_timeout:")


def test_a_recording_cut_short_succeeds_with_what_it_holds_and_its_document_says_what_was_declared(worker, tmp_path):
    """Hashes and sizes only prove the upload is the file; a file half-copied before the upload is
    still analysed as far as it goes, and its result says how long its header promised."""
    from support import write_tone_wav

    handler, deps = worker
    whole = write_tone_wav(tmp_path / "a.wav", 8.0, sr=16000).read_bytes()
    cut = whole[: len(whole) // 2]
    key = _stage_job("job-cut")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket="anemonefish-local-input", Key=key, Body=cut)
    repo = deps.worker_deps().repo
    table = boto3.client("dynamodb", region_name="us-east-1")
    table.update_item(TableName=deps.worker_deps().settings.jobs_table, Key={"job_id": {"S": "job-cut"}},
                      UpdateExpression="SET size_bytes = :n", ExpressionAttributeValues={":n": {"N": str(len(cut))}})
    event = _event(key)
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["size"] = len(cut)
    event["Records"][0]["body"] = json.dumps(body)
    assert handler.lambda_handler(event, LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    job = repo.get("job-cut")
    assert job.status is JobStatus.SUCCEEDED, job.error
    document = json.loads(s3.get_object(Bucket=deps.worker_deps().settings.output_bucket,
                                        Key=job.result.documents["json"])["Body"].read())
    assert document["audio"]["declared_duration_s"] == 8.0
    assert document["audio"]["duration_s"] == pytest.approx(4.0, abs=0.01)
    # The job says so too, for clients that read only GET /jobs/{id} (the console shows it).
    [warning] = job.result.warnings
    assert warning.startswith("a.wav: its header declares 8.0 s of audio but the file ends after 4.0 s")
    from anemonefish_services.logic.views import job_view

    assert job_view(job, None).result.warnings == [warning]
    from anemonefish_services.logic.notify import job_event

    assert job_event(job).data.result.warnings == (warning,)  # webhooks and SNS carry it as well


def _staged_recording(deps, tmp_path, job_id: str, seconds: float = 3.0) -> tuple[str, dict]:  # noqa: ANN001
    """A job whose upload is a real short WAV (its declared size the file's), and its S3 event."""
    from support import write_tone_wav

    body = write_tone_wav(tmp_path / f"{job_id}.wav", seconds, sr=16000).read_bytes()
    key = _stage_job(job_id)
    boto3.client("s3", region_name="us-east-1").put_object(Bucket="anemonefish-local-input", Key=key, Body=body)
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=deps.worker_deps().settings.jobs_table, Key={"job_id": {"S": job_id}},
        UpdateExpression="SET size_bytes = :n", ExpressionAttributeValues={":n": {"N": str(len(body))}})
    event = _event(key)
    message = json.loads(event["Records"][0]["body"])
    message["Records"][0]["s3"]["object"]["size"] = len(body)
    event["Records"][0]["body"] = json.dumps(message)
    return key, event


@pytest.mark.parametrize("ended_by", ["cancel", "given up"])
def test_a_job_that_ends_while_its_results_are_written_keeps_none_of_them(worker, tmp_path, monkeypatch, ended_by):
    """Cancelled by its client, or failed by the sweeper or the dead-letter consumer while
    this worker ran late: either way the job has no results, and its state stands."""
    handler, deps = worker
    _, event = _staged_recording(deps, tmp_path, "job-late-end")
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.logic.cancel import cancel_job
    from anemonefish_services.models.job import JobError

    settings = deps.worker_deps().settings
    repo = deps.worker_deps().repo
    put_result = Storage.put_result

    def end_after_the_first_document(self, key, body, content_type):  # noqa: ANN001
        put_result(self, key, body, content_type)
        if repo.get("job-late-end").status is JobStatus.RUNNING:  # DELETE /jobs/{id}, or a give-up, lands now
            if ended_by == "cancel":
                cancel_job(repo.get("job-late-end"), settings=settings, repo=repo, storage=self)
            else:
                repo.fail("job-late-end", JobError(code="worker_lost", message="given up"))

    monkeypatch.setattr(Storage, "put_result", end_after_the_first_document)
    assert handler.lambda_handler(event, LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    expected = JobStatus.CANCELLED if ended_by == "cancel" else JobStatus.FAILED
    assert repo.get("job-late-end").status is expected
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=settings.output_bucket, Prefix="results/job-late-end/")
    assert listing.get("KeyCount", 0) == 0


def test_the_size_checked_is_the_object_read_not_the_one_the_event_names(worker, tmp_path):
    """A second PUT to the job's URL replaces the object under the first PUT's event."""
    handler, deps = worker
    key, event = _staged_recording(deps, tmp_path, "job-replaced")
    other = (tmp_path / "job-replaced.wav").read_bytes()[:-4000]  # another, shorter recording
    boto3.client("s3", region_name="us-east-1").put_object(Bucket="anemonefish-local-input", Key=key, Body=other)
    assert handler.lambda_handler(event, LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    job = deps.worker_deps().repo.get("job-replaced")
    assert job.status is JobStatus.FAILED and job.error.code == "upload_size_mismatch"
    assert f"has {len(other)} bytes" in job.error.message
    # Not the recording declared: its bytes are not kept for the failed job's week.
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="anemonefish-local-input", Prefix=key)
    assert listing.get("KeyCount", 0) == 0


def test_a_job_given_up_says_how_often_it_ran_and_why_without_naming_buckets(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-unlucky")
    settings = deps.worker_deps().settings
    error = ConnectionResetError(f"reading s3://{settings.input_bucket}/{key}: reset; writing to {settings.output_bucket}")
    monkeypatch.setattr(deps, "thread_detector", lambda: _DetectorDouble(error))
    deps.worker_deps.cache_clear()
    assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker"))["batchItemFailures"]
    from anemonefish_services.worker import dlq

    from anemonefish_services.dal.storage import result_key

    s3 = boto3.client("s3", region_name="us-east-1")
    # An earlier attempt wrote a document, then died before SUCCEEDED.
    s3.put_object(Bucket=settings.output_bucket, Key=result_key("job-unlucky", "json"), Body=b"{}")
    dead = _event(key)
    dead["Records"][0]["attributes"]["ApproximateReceiveCount"] = "4"  # the DLQ's receive counts too
    assert dlq.lambda_handler(dead, LocalLambdaContext(function_name="dlq")) == {"batchItemFailures": []}
    job = deps.worker_deps().repo.get("job-unlucky")
    assert job.status is JobStatus.FAILED and job.error.code == "processing_failed"
    assert s3.list_objects_v2(Bucket=settings.output_bucket, Prefix="results/job-unlucky/").get("KeyCount", 0) == 0
    message = job.error.message
    assert message.startswith("processing kept failing after 1 attempt;")
    assert "reading a.wav: reset; writing to the output bucket" in message
    assert settings.input_bucket not in message and settings.output_bucket not in message


def test_a_job_given_up_on_an_aws_refusal_tells_its_code_not_the_role_account_or_key(worker, monkeypatch):
    """AccessDenied's message names the worker's role, the account id and the key's ARN."""
    from botocore.exceptions import ClientError

    handler, deps = worker
    key = _stage_job("job-denied")
    from anemonefish_services.s3io import S3ReadError

    message = ("User: arn:aws:sts::123456789012:assumed-role/anemonefish-prod-worker/x is not authorized to "
               "perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:123456789012:key/1111-2222")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "GetObject")
    try:  # as the S3 reader raises it: its own error, quoting AWS's
        raise S3ReadError(f"reading bytes 0-999 of a.wav: {denied}") from denied
    except S3ReadError as wrapped:
        error = wrapped
    monkeypatch.setattr(deps, "thread_detector", lambda: _DetectorDouble(error))
    deps.worker_deps.cache_clear()
    assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker"))["batchItemFailures"]
    from anemonefish_services.worker import dlq

    assert dlq.lambda_handler(_event(key), LocalLambdaContext(function_name="dlq")) == {"batchItemFailures": []}
    job = deps.worker_deps().repo.get("job-denied")
    assert job.status is JobStatus.FAILED
    assert job.error.message.endswith("(last error: AWS answered AccessDenied to GetObject)")
    assert "123456789012" not in job.error.message and "arn:" not in job.error.message


def test_an_s3_event_whose_size_a_later_put_outdated_still_runs_on_the_right_object(worker, tmp_path):
    """A first PUT of the wrong file, then the right one: the first event's size is stale, the object right."""
    handler, deps = worker
    _, event = _staged_recording(deps, tmp_path, "job-second-put")
    message = json.loads(event["Records"][0]["body"])
    message["Records"][0]["s3"]["object"]["size"] -= 4000  # what the first, wrong PUT had
    event["Records"][0]["body"] = json.dumps(message)
    assert handler.lambda_handler(event, LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    job = deps.worker_deps().repo.get("job-second-put")
    assert job.status is JobStatus.SUCCEEDED, job.error


def test_results_s3_refuses_to_delete_are_reported_and_the_job_stays_cancelled(worker, tmp_path, monkeypatch):
    """DeleteObjects answers 200 and lists what it could not delete: that is an error, not success."""
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.exceptions import ResultsNotDeletedError
    from anemonefish_services.logic.cancel import cancel_job

    handler, deps = worker
    settings, repo = deps.worker_deps().settings, deps.worker_deps().repo
    storage = Storage(settings)
    monkeypatch.setattr(storage.s3, "delete_objects", lambda **kwargs: {
        "Errors": [{"Key": "results/j/events.json", "Code": "AccessDenied", "Message": "denied"}]})
    with pytest.raises(ResultsNotDeletedError, match="results/j/events.json \\(AccessDenied\\)"):
        storage.delete_results(["results/j/events.json"])

    # In the worker: the job is cancelled either way, and the message is not retried for it.
    _, event = _staged_recording(deps, tmp_path, "job-undeletable")
    put_result = Storage.put_result

    def cancel_after_the_first_document(self, key, body, content_type):  # noqa: ANN001
        put_result(self, key, body, content_type)
        if repo.get("job-undeletable").status is JobStatus.RUNNING:
            cancel_job(repo.get("job-undeletable"), settings=settings, repo=repo, storage=self)

    monkeypatch.setattr(Storage, "put_result", cancel_after_the_first_document)
    monkeypatch.setattr(Storage, "delete_results", lambda self, keys: (_ for _ in ()).throw(ResultsNotDeletedError("denied")))
    assert handler.lambda_handler(event, LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    assert repo.get("job-undeletable").status is JobStatus.CANCELLED


def test_a_worker_that_cannot_start_says_so_for_every_record(worker, monkeypatch, caplog):
    """Settings the model refuses (a presign expiry past the 6 h cap, set before the cap) made
    every record a batch failure logged at debug level only: nothing in the logs."""
    handler, deps = worker
    from anemonefish_services.settings import get_settings
    from anemonefish_services.worker import dlq

    key = _stage_job("job-misconfigured")
    monkeypatch.setenv("ANEMONEFISH_PRESIGN_EXPIRES_S", str(12 * 3600))
    get_settings.cache_clear()
    deps.worker_deps.cache_clear()
    for lambda_handler, who in ((handler.lambda_handler, "worker"), (dlq.lambda_handler, "DLQ consumer")):
        assert lambda_handler(_event(key), LocalLambdaContext(function_name=who)) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        (failed,) = [r for r in caplog.records if r.getMessage().startswith(f"the {who} cannot start")]
        assert failed.levelname == "ERROR" and "presign_expires_s" in str(failed.exc_info[1])


def _a_dead_attempts_documents(deps, job_id: str) -> tuple[object, object]:
    """A worker claimed the job, wrote every document, and died before SUCCEEDED (its lease lapsed)."""
    from anemonefish_services.dal.storage import Storage, job_result_keys

    repo, settings = deps.worker_deps().repo, deps.worker_deps().settings
    repo.mark_queued(job_id)
    repo.claim(job_id, "worker-a", lease_s=30, now=time.time() - 100)
    storage = Storage(settings)
    for key in job_result_keys(job_id):
        storage.put_result(key, "{}", "application/json")
    return repo, storage


def _documents_left(bucket: str, job_id: str) -> int:
    return boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=bucket, Prefix=f"results/{job_id}/").get("KeyCount", 0)


def test_a_job_that_the_next_attempt_fails_keeps_no_documents_of_the_dead_one(worker, monkeypatch):
    handler, deps = worker
    key = _stage_job("job-taken-over")
    repo, _ = _a_dead_attempts_documents(deps, "job-taken-over")
    monkeypatch.setattr(deps, "thread_detector", lambda: _DetectorDouble(CorruptAudioError("a.wav: cannot decode")))
    deps.worker_deps.cache_clear()
    assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    assert repo.get("job-taken-over").status is JobStatus.FAILED
    assert _documents_left(deps.worker_deps().settings.output_bucket, "job-taken-over") == 0


def test_a_job_cancelled_after_its_worker_died_writing_keeps_no_documents(worker):
    from anemonefish_services.logic.cancel import cancel_job

    _, deps = worker
    _stage_job("job-orphaned")
    repo, storage = _a_dead_attempts_documents(deps, "job-orphaned")
    settings = deps.worker_deps().settings
    cancel_job(repo.get("job-orphaned"), settings=settings, repo=repo, storage=storage)  # DELETE /jobs/{id}
    assert repo.get("job-orphaned").status is JobStatus.CANCELLED
    assert _documents_left(settings.output_bucket, "job-orphaned") == 0


def test_the_dead_letter_consumer_leaves_letters_it_has_no_time_for_to_come_back(worker):
    """Ten dead letters with slow webhooks could outlast its timeout: a job failed just before
    Lambda's kill was never notified. Late in an invocation a letter is returned to the queue."""
    _, deps = worker
    from anemonefish_services.logic.budget import ONE_JOB_BUDGET_S
    from anemonefish_services.worker import dlq

    key = _stage_job("job-late")
    deps.worker_deps().repo.mark_queued("job-late")
    late = LocalLambdaContext(function_name="dlq", timeout_s=ONE_JOB_BUDGET_S - 1)
    assert dlq.lambda_handler(_event(key), late) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert deps.worker_deps().repo.get("job-late").status is JobStatus.QUEUED
    assert dlq.lambda_handler(_event(key), LocalLambdaContext(function_name="dlq")) == {"batchItemFailures": []}
    assert deps.worker_deps().repo.get("job-late").status is JobStatus.FAILED


def test_the_recording_of_a_job_that_ended_unanalysed_is_deleted_when_its_event_comes(worker):
    """A job cancelled while QUEUED, or a PUT by a URL still valid after its job expired, left the
    recording in the input bucket until the lifecycle rule, though no one would analyse it."""
    _, deps = worker
    from anemonefish_services.worker import handler

    s3 = boto3.client("s3", region_name="us-east-1")
    repo = deps.worker_deps().repo
    queued, late = _stage_job("job-queued"), _stage_job("job-late-put")
    repo.mark_queued("job-queued")
    repo.cancel("job-queued")
    repo.expire("job-late-put", time.time() + 120)
    finished = _stage_job("job-done")  # a finished job's upload is its record of what was analysed: kept
    repo.fail("job-done", JobError(code="corrupt_audio", message="x"))
    for job_id in ("job-queued", "job-late-put", "job-done"):
        repo.mark_notified(job_id)  # as their enders did
    for key in (queued, late, finished):
        assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    kept = {o["Key"] for o in s3.list_objects_v2(Bucket="anemonefish-local-input").get("Contents", [])}
    assert finished in kept and queued not in kept and late not in kept
    assert repo.get("job-queued").status is JobStatus.CANCELLED and repo.get("job-late-put").status is JobStatus.EXPIRED


def test_an_error_quoting_an_arn_reaches_the_client_without_it(worker):
    """Other errors may quote AWS's text too (a decoder's, wrapping a read): ARNs are taken out."""
    from anemonefish_services.logic.process_job import _reason

    _, deps = worker
    settings = deps.worker_deps().settings
    job = JobRecord(job_id="j", tenant_id="t", status=JobStatus.RUNNING, filename="a.wav", size_bytes=1,
                    input_key="uploads/j/a.wav", upload_mode="PUT", created_at="x", updated_at="x",
                    upload_expires_at=0, expires_at_epoch=0)
    error = ConnectionResetError("denied on arn:aws:kms:eu-west-1:123456789012:key/1111-2222, reset")
    assert _reason(error, job, settings) == "ConnectionResetError: denied on (an AWS resource), reset"


def test_an_object_of_another_bucket_or_a_message_that_is_no_s3_event_is_dropped_without_a_retry(worker):
    """Neither is a job of this pipeline: retried, each would reach the DLQ as a failure."""
    handler, deps = worker
    key = _stage_job("job-elsewhere")
    elsewhere = _event(key)
    elsewhere["Records"][0]["body"] = elsewhere["Records"][0]["body"].replace("anemonefish-local-input", "someone-elses")
    garbled = _event(key)
    garbled["Records"][0]["body"] = "not an S3 notification"
    for event in (elsewhere, garbled):
        assert handler.lambda_handler(event, LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    assert deps.worker_deps().repo.get("job-elsewhere").status is JobStatus.AWAITING_UPLOAD  # not run for the other bucket


def test_a_job_whose_upload_is_gone_fails_as_upload_missing_without_retries(worker):
    handler, deps = worker
    key = _stage_job("job-gone")
    boto3.client("s3", region_name="us-east-1").delete_object(Bucket="anemonefish-local-input", Key=key)
    assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    job = deps.worker_deps().repo.get("job-gone")
    assert job.status is JobStatus.FAILED and job.error.code == "upload_missing"


def test_a_visibility_extension_asks_sqs_no_more_than_its_12_hours(monkeypatch):
    """SQS refuses a visibility timeout over 43,200 s: the extension would fail and the message
    come back to another worker while this one is still at it."""
    from anemonefish_services.worker import handler as worker_handler

    asked: list[int] = []

    class Sqs:
        def change_message_visibility(self, **kwargs: object) -> None:
            asked.append(int(kwargs["VisibilityTimeout"]))  # type: ignore[call-overload]

    monkeypatch.setattr(worker_handler, "sqs_client", lambda: Sqs())
    record = type("Record", (), {"receipt_handle": "r"})()
    extend = worker_handler._visibility_extender(record, "https://queue")
    extend(900)
    extend(50_000)
    assert asked == [900, 43_200]


class _CancelledMidway(_DetectorDouble):
    """Reads a block, then the job is cancelled (DELETE /jobs/{id}) before the next."""

    def __init__(self, job_id: str) -> None:
        super().__init__(RuntimeError("unused"))
        self.job_id = job_id

    def run(self, source, *, progress, should_stop, **kwargs):  # noqa: ANN001, ANN003
        from anemonefish.exceptions import DetectionCancelled

        from anemonefish_services.dal.jobs import JobsRepository
        from anemonefish_services.settings import get_settings

        source.read(16)
        JobsRepository(get_settings()).cancel(self.job_id)
        progress(0.5)
        if should_stop():
            raise DetectionCancelled("stopped between blocks")
        raise AssertionError("the monitor did not see the cancel")


def test_a_job_cancelled_during_detection_stops_and_its_recording_is_deleted(worker, monkeypatch):
    """Seen between blocks, a cancel was taken for a lost lease: the job stopped, but its
    recording stayed in the input bucket (only a cancel while results were written was tested)."""
    handler, deps = worker
    key = _stage_job("job-cancelled-midway")
    monkeypatch.setenv("ANEMONEFISH_PROGRESS_INTERVAL_S", "0")
    from anemonefish_services.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setattr(deps, "thread_detector", lambda: _CancelledMidway("job-cancelled-midway"))
    deps.worker_deps.cache_clear()
    assert handler.lambda_handler(_event(key), LocalLambdaContext(function_name="worker")) == {"batchItemFailures": []}
    assert deps.worker_deps().repo.get("job-cancelled-midway").status is JobStatus.CANCELLED
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="anemonefish-local-input", Prefix=key)
    assert listing.get("KeyCount", 0) == 0
