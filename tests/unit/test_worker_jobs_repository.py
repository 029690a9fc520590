"""Conditional state transitions of the jobs table (dal.jobs), on in-process moto."""

from __future__ import annotations

import time

import pytest
from moto import mock_aws

from anemonefish_services.dal.jobs import OPEN_INDEX, OPEN_STATUS, JobsRepository, utc_now_iso
from anemonefish_services.local.resources import create_resources
from anemonefish_services.models.job import JobError, JobRecord, JobResult, JobStatus
from anemonefish_services.settings import Settings


@pytest.fixture
def repo(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with mock_aws():
        create_resources(endpoint_url=None)  # type: ignore[arg-type]
        yield JobsRepository(Settings(aws_endpoint_url=None))


def _job(job_id: str = "j1", tenant: str = "t") -> JobRecord:
    now = utc_now_iso()
    return JobRecord(job_id=job_id, tenant_id=tenant, status=JobStatus.AWAITING_UPLOAD, filename="a.wav",
                     size_bytes=10, input_key=f"uploads/{job_id}/a.wav", upload_mode="PUT", created_at=now,
                     updated_at=now, upload_expires_at=time.time() + 60, expires_at_epoch=int(time.time()) + 3600)


def test_create_is_conditional(repo):
    assert repo.create(_job()) is True
    assert repo.create(_job()) is False


def test_only_one_worker_claims_a_job_until_its_lease_expires(repo):
    repo.create(_job())
    assert repo.mark_queued("j1").status is JobStatus.QUEUED
    first = repo.claim("j1", "w1", lease_s=60)
    assert first is not None and first.attempts == 1
    assert repo.claim("j1", "w2", lease_s=60) is None
    later = repo.claim("j1", "w2", lease_s=60, now=time.time() + 61)  # w1's lease has expired
    assert later is not None and later.lease_owner == "w2" and later.attempts == 2
    assert repo.heartbeat("j1", "w1", progress=0.5, lease_s=60) is None  # w1 lost it
    assert repo.succeed("j1", "w1", JobResult(events_count=0, audio_duration_s=1, processing_time_s=1, documents={})) is None
    done = repo.succeed("j1", "w2", JobResult(events_count=3, audio_duration_s=1, processing_time_s=1, documents={}))
    assert done is not None and done.status is JobStatus.SUCCEEDED and done.lease_owner is None


def test_terminal_states_never_move(repo):
    repo.create(_job())
    assert repo.cancel("j1").status is JobStatus.CANCELLED
    assert repo.cancel("j1") is None
    assert repo.claim("j1", "w", lease_s=60) is None
    assert repo.fail("j1", JobError(code="x", message="y")) is None
    assert repo.expire("j1", time.time() + 10**6) is None
    assert repo.get("j1").status is JobStatus.CANCELLED


def test_release_lets_a_retry_claim_at_once(repo):
    repo.create(_job())
    repo.claim("j1", "w1", lease_s=600)
    assert repo.release("j1", "w1").status is JobStatus.QUEUED
    assert repo.claim("j1", "w2", lease_s=600) is not None


def test_expire_only_after_the_deadline(repo):
    repo.create(_job())
    assert repo.expire("j1", time.time()) is None
    assert list(repo.uploads_overdue(time.time())) == []
    assert [j.job_id for j in repo.uploads_overdue(time.time() + 120)] == ["j1"]
    assert repo.expire("j1", time.time() + 120).status is JobStatus.EXPIRED


def test_listing_is_per_tenant_newest_first_with_tokens(repo):
    for i in range(3):
        repo.create(_job(f"a{i}", "ta"))
    repo.create(_job("b0", "tb"))
    page, token = repo.list_for_tenant("ta", limit=2, next_token=None)
    assert [j.job_id for j in page] == ["a2", "a1"] and token
    rest, token2 = repo.list_for_tenant("ta", limit=2, next_token=token)
    assert [j.job_id for j in rest] == ["a0"]
    with pytest.raises(Exception, match="next_token"):
        repo.list_for_tenant("tb", limit=2, next_token=token)


def test_overrides_keep_an_explicit_null_so_a_job_can_switch_a_default_off(repo):
    from types import SimpleNamespace

    from anemonefish.params import DetectionParams
    from anemonefish_services.logic.process_job import _resolve_params

    job = _job().model_copy(update={"params": {"peak_threshold": None, "threshold": 0.6}})
    assert repo.create(job) is True
    stored = repo.get("j1")
    assert stored.params == {"peak_threshold": None, "threshold": 0.6}
    detector = SimpleNamespace(default_params=DetectionParams(peak_threshold=0.99, threshold=0.75),
                               bundle=SimpleNamespace(classes=["noise", "anemonefish", "biological"]))
    resolved = _resolve_params(stored, detector)
    assert resolved.peak_threshold is None and resolved.threshold == 0.6


def _open_index(repo) -> dict[str, str]:
    """The open-jobs index as it stands: job id -> the status it is listed under."""
    items = repo.table.scan(IndexName=OPEN_INDEX)["Items"]
    return {item["job_id"]: item[OPEN_STATUS] for item in items}


def test_the_open_jobs_index_holds_exactly_the_active_jobs(repo):
    for job_id in ("a", "b", "c", "d"):
        repo.create(_job(job_id))
    assert _open_index(repo) == dict.fromkeys("abcd", "AWAITING_UPLOAD")
    repo.mark_queued("a")
    repo.claim("b", "w", lease_s=60)
    repo.cancel("c")
    assert _open_index(repo) == {"a": "QUEUED", "b": "RUNNING", "d": "AWAITING_UPLOAD"}
    repo.release("b", "w")
    repo.claim("a", "w", lease_s=60)
    repo.succeed("a", "w", JobResult(events_count=0, audio_duration_s=1, processing_time_s=1, documents={}))
    repo.expire("d", time.time() + 120)
    assert _open_index(repo) == {"b": "QUEUED"}
    repo.fail("b", JobError(code="x", message="y"))
    assert _open_index(repo) == {}


def test_stalled_finds_expired_leases_and_untouched_queued_jobs_only(repo):
    for job_id in ("running", "queued", "waiting", "done"):
        repo.create(_job(job_id))
    repo.claim("running", "w", lease_s=30)
    repo.mark_queued("queued")
    repo.claim("done", "w", lease_s=30)
    repo.succeed("done", "w", JobResult(events_count=0, audio_duration_s=1, processing_time_s=1, documents={}))
    now = time.time()
    assert list(repo.stalled(now, grace_s=60)) == []  # lease live, queue just touched
    later = [j.job_id for j in repo.stalled(now + 200, grace_s=60)]
    assert sorted(later) == ["queued", "running"]  # never the waiting or the finished job


class _Queue:
    """The jobs queue as the sweeper sees it: records sends, refuses those it is told to."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.sent: list[str] = []
        self.refuse = refuse or set()

    def send_message(self, QueueUrl: str, MessageBody: str) -> dict:  # noqa: N803 - boto3's names
        if any(job in MessageBody for job in self.refuse):
            raise RuntimeError("AccessDenied")
        self.sent.append(MessageBody)
        return {}


def _sweeps(repo, queue, count: int, settings: Settings) -> list[dict]:
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.logic.stalled import redrive_stalled_jobs

    start = time.time()
    return [redrive_stalled_jobs(settings=settings, repo=repo, storage=Storage(settings), sqs=queue,
                                 now=start + (k + 1) * (settings.stall_grace_s + 1))
            for k in range(count)]


def _result_documents(settings: Settings, job_id: str) -> list[str]:
    import boto3

    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=settings.output_bucket, Prefix=f"results/{job_id}/")
    return [item["Key"] for item in listing.get("Contents", [])]


def _write_some_results(settings: Settings, job_id: str) -> None:
    """What a worker that died between writing its documents and SUCCEEDED left behind."""
    import boto3

    from anemonefish_services.dal.storage import result_key

    for fmt in ("json", "csv"):
        boto3.client("s3", region_name="us-east-1").put_object(
            Bucket=settings.output_bucket, Key=result_key(job_id, fmt), Body=b"{}")
    assert len(_result_documents(settings, job_id)) == 2


def test_a_queued_job_waiting_in_a_backlog_is_redriven_a_few_times_and_never_failed(repo):
    """A multipart job is QUEUED at completion; behind a long backlog it may wait for hours."""
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q", max_redrives=3)
    repo.create(_job("waiting"))
    repo.mark_queued("waiting")
    queue = _Queue()
    outcomes = _sweeps(repo, queue, 8, settings)
    assert [o["redriven"] for o in outcomes] == [["waiting"]] * 3 + [[]] * 5
    assert not any(o["failed"] for o in outcomes)
    assert repo.get("waiting").status is JobStatus.QUEUED and len(queue.sent) == 3


def test_a_running_job_that_lost_its_worker_fails_after_its_redrives(repo):
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q", max_redrives=2)
    repo.create(_job("lost"))
    repo.claim("lost", "w", lease_s=30, now=time.time() - 100)  # its lease lapsed long ago
    _write_some_results(settings, "lost")
    outcomes = _sweeps(repo, _Queue(), 3, settings)
    assert [o["redriven"] for o in outcomes] == [["lost"], ["lost"], []] and outcomes[2]["failed"] == ["lost"]
    assert repo.get("lost").error.code == "worker_lost"
    assert _result_documents(settings, "lost") == []  # a failed job keeps no results


def test_a_give_up_does_not_fail_a_job_another_worker_took_over_since_it_was_read(repo):
    """The sweeper (or the DLQ consumer) reads a lost job, a redelivered message's worker claims it,
    then the give-up lands: it must not fail, and empty the results of, the job now running."""
    repo.create(_job("lost"))
    repo.claim("lost", "w1", lease_s=30, now=time.time() - 100)
    seen = repo.get("lost")
    assert repo.claim("lost", "w2", lease_s=60) is not None  # the takeover
    assert repo.fail("lost", JobError(code="worker_lost", message="given up"), attempts=seen.attempts) is None
    assert repo.get("lost").status is JobStatus.RUNNING and repo.get("lost").lease_owner == "w2"
    repo.create(_job("never-claimed"))  # 0 attempts: a dead letter of a job no worker started
    assert repo.fail("never-claimed", JobError(code="x", message="y"), attempts=0).status is JobStatus.FAILED


def test_a_refused_send_is_not_counted_and_does_not_stop_the_sweep(repo):
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q", max_redrives=3)
    for job_id in ("a-refused", "b-fine"):
        repo.create(_job(job_id))
        repo.claim(job_id, "w", lease_s=30, now=time.time() - 100)
    queue = _Queue(refuse={"a-refused"})
    [outcome] = _sweeps(repo, queue, 1, settings)
    assert outcome["redriven"] == ["b-fine"]
    assert repo.get("a-refused").redrives == 0 and repo.get("b-fine").redrives == 1


def test_the_dead_letter_consumer_and_the_sweeper_notify_within_a_brief_budget(repo, monkeypatch):
    """They notify their jobs one after another within their own timeouts: the worker's minute
    for a slow receiver would let a few dead receivers time them out and lose the rest."""
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.logic import notify
    from anemonefish_services.logic.dlq import fail_dead_lettered

    budgets = []
    monkeypatch.setattr(notify, "_notify", lambda job, settings, sns, policy: budgets.append(policy.total_timeout_s))
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q", max_redrives=0)
    for job_id in ("dead", "lost"):
        repo.create(_job(job_id))
    repo.mark_queued("dead")
    _write_some_results(settings, "dead")
    assert fail_dead_lettered("dead", receive_count=5, settings=settings, repo=repo, storage=Storage(settings)) is True
    assert _result_documents(settings, "dead") == []  # a failed job keeps no results
    repo.claim("lost", "w", lease_s=30, now=time.time() - 100)
    assert _sweeps(repo, _Queue(), 1, settings)[0]["failed"] == ["lost"]
    assert budgets == [notify.BRIEF_WEBHOOK_POLICY.total_timeout_s] * 2 and budgets[0] <= 10
    assert repo.get("dead").notified_at and repo.get("lost").notified_at


def test_the_deadline_sweep_queues_a_job_whose_upload_is_there_and_expires_the_others(repo, monkeypatch):
    """A PUT near the deadline whose event waits behind a backlog: the upload arrived, the job is not expired."""
    import boto3

    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.logic import expire

    monkeypatch.setattr(expire, "notify_terminal", lambda *args, **kwargs: None)
    settings = Settings(aws_endpoint_url=None)
    for job_id in ("arrived", "lost"):
        repo.create(_job(job_id))
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=settings.input_bucket, Key="uploads/arrived/a.wav", Body=b"0123456789")
    expired = expire.expire_overdue_uploads(settings=settings, repo=repo, storage=Storage(settings), now=time.time() + 61)
    assert expired == ["lost"]
    assert repo.get("lost").status is JobStatus.EXPIRED
    assert repo.get("arrived").status is JobStatus.QUEUED  # the worker's; the stalled sweep re-drives it if its event is lost


def test_a_job_whose_upload_cannot_be_looked_for_waits_and_the_others_still_expire(repo, monkeypatch):
    from botocore.exceptions import ClientError

    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.logic import expire

    monkeypatch.setattr(expire, "notify_terminal", lambda *args, **kwargs: None)
    settings = Settings(aws_endpoint_url=None)
    for job_id in ("throttled", "lost"):
        repo.create(_job(job_id))
    storage = Storage(settings)
    real_head = storage.head_input

    def head(key):  # noqa: ANN001
        if "throttled" in key:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "HeadObject")
        return real_head(key)

    monkeypatch.setattr(storage, "head_input", head)
    assert expire.expire_overdue_uploads(settings=settings, repo=repo, storage=storage, now=time.time() + 61) == ["lost"]
    assert repo.get("throttled").status is JobStatus.AWAITING_UPLOAD  # the next sweep looks again


def test_waiting_in_a_backlog_does_not_use_up_a_lost_workers_redrives(repo):
    """A QUEUED job re-sent by every sweep of a long backlog, then claimed: its first lost worker
    failed it at once as 'the worker was lost 4 times', since both counted as one."""
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q", max_redrives=3)
    repo.create(_job("patient"))
    repo.mark_queued("patient")
    _sweeps(repo, _Queue(), 5, settings)
    assert repo.get("patient").queued_redrives == 3 and repo.get("patient").redrives == 0
    repo.claim("patient", "w", lease_s=30, now=time.time() - 100)  # then its worker is lost
    outcomes = _sweeps(repo, _Queue(), 4, settings)
    assert [o["redriven"] for o in outcomes] == [["patient"]] * 3 + [[]]
    assert outcomes[3]["failed"] == ["patient"]
    assert repo.get("patient").error.message == "the worker was lost 4 times; the job was given up"


def test_the_dead_letter_consumer_notifies_a_finished_job_whose_finisher_died_first(repo, monkeypatch):
    """The finisher wrote SUCCEEDED and died before notifying; its message's last receive goes to
    the dead-letter queue, whose consumer found the job finished and dropped it: never notified."""
    from anemonefish_services.dal.storage import Storage
    from anemonefish_services.exceptions import NotificationPendingError
    from anemonefish_services.logic import notify
    from anemonefish_services.logic.dlq import fail_dead_lettered
    from anemonefish_services.models.job import JobResult

    sent = []
    monkeypatch.setattr(notify, "_notify", lambda job, *args: sent.append((job.job_id, job.status.value)))
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q")
    repo.create(_job("done"))
    repo.claim("done", "w", lease_s=60)
    repo.succeed("done", "w", JobResult(events_count=0, audio_duration_s=1, processing_time_s=1, documents={}))
    consume = lambda: fail_dead_lettered("done", receive_count=5, settings=settings, repo=repo,  # noqa: E731
                                         storage=Storage(settings))
    with pytest.raises(NotificationPendingError):  # moments after: the finisher may still be at it
        consume()
    monkeypatch.setattr(notify, "NOTIFY_GRACE_S", 0.0)
    assert consume() is False  # not failed by this call: it succeeded
    assert sent == [("done", "SUCCEEDED")] and repo.get("done").notified_at is not None
    assert consume() is False and len(sent) == 1  # once


def test_a_queued_job_is_redriven_again_before_its_last_message_outlives_the_queue(repo):
    """SQS drops a message older than the queue's retention without dead-lettering it: a job
    still QUEUED then (the worker's event source off for days) had no message left, and the
    sweeper, its re-drives used up, left it QUEUED until its record's TTL deleted it."""
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q", max_redrives=1, stall_grace_s=900,
                        jobs_queue_retention_s=4000)
    repo.create(_job("forgotten"))
    repo.mark_queued("forgotten")
    queue = _Queue()
    # Sweeps 901 s apart; the last re-drive's message (sent at the start) lives 4,000 s, and
    # is replaced one grace before it goes, at 3,100 s.
    outcomes = _sweeps(repo, queue, 4, settings)
    assert [o["redriven"] for o in outcomes] == [["forgotten"], [], [], ["forgotten"]]
    assert len(queue.sent) == 2 and repo.get("forgotten").status is JobStatus.QUEUED


def test_the_sweeper_stops_taking_jobs_while_the_one_at_hand_can_still_be_notified(repo, monkeypatch):
    """Lambda kills a sweeper at its timeout: a job expired just before that was never notified
    (no message brings it back). With its time running out the sweeper leaves the rest to the next."""
    from anemonefish_services.logic import expire
    from anemonefish_services.logic.budget import ONE_JOB_BUDGET_S
    from anemonefish_services.local.lambda_context import LocalLambdaContext
    from anemonefish_services.settings import get_settings
    from anemonefish_services.worker import sweeper

    notified = []
    monkeypatch.setattr(expire, "notify_terminal", lambda job, *args, **kwargs: notified.append(job.job_id))
    for job_id in ("a", "b", "c"):
        repo.create(_job(job_id))
    settings = Settings(aws_endpoint_url=None, jobs_queue_url="q")
    left = iter([100.0, ONE_JOB_BUDGET_S + 1, ONE_JOB_BUDGET_S - 1])
    outcome = sweeper.sweep(settings, repo=repo, sqs=_Queue(), now=time.time() + 61, time_left=lambda: next(left))
    assert len(outcome["expired"]) == 2 and notified == outcome["expired"]
    (waiting,) = {"a", "b", "c"} - set(outcome["expired"])
    assert repo.get(waiting).status is JobStatus.AWAITING_UPLOAD  # the next sweep's
    # The Lambda handler gives the sweep its context's remaining time.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.delenv("ANEMONEFISH_AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(time, "time", lambda real=time.time: real() + 61)
    get_settings.cache_clear()
    try:
        short = LocalLambdaContext(function_name="sweeper", timeout_s=ONE_JOB_BUDGET_S - 5)
        assert sweeper.lambda_handler({}, short)["expired"] == []
        assert sweeper.lambda_handler({}, LocalLambdaContext(function_name="sweeper"))["expired"] == [waiting]
    finally:
        get_settings.cache_clear()


def test_a_heartbeat_renews_the_lease_so_no_other_worker_takes_the_job_over(repo):
    """Without the renewal a worker still at work lost its job to another after one lease."""
    repo.create(_job())
    repo.claim("j1", "w1", lease_s=1)
    renewed = repo.heartbeat("j1", "w1", progress=0.5, lease_s=600)
    assert renewed is not None and renewed.lease_expires_at > time.time() + 500
    assert repo.claim("j1", "w2", lease_s=60, now=time.time() + 2) is None  # past the first lease only


def test_a_job_is_recorded_notified_once_and_only_when_finished(repo):
    repo.create(_job())
    assert repo.mark_notified("j1") is None  # not finished
    repo.cancel("j1")
    first = repo.mark_notified("j1")
    assert first is not None and first.notified_at
    assert repo.mark_notified("j1") is None  # once: the first record stands
    assert repo.get("j1").notified_at == first.notified_at


def test_a_digest_is_recorded_once_and_another_is_refused(repo):
    repo.create(_job())
    assert repo.record_sha256("j1", "a" * 64).sha256 == "a" * 64
    assert repo.record_sha256("j1", "a" * 64) is not None  # the same again: a retried complete
    assert repo.record_sha256("j1", "b" * 64) is None
    assert repo.get("j1").sha256 == "a" * 64
