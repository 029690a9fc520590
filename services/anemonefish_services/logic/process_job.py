"""The worker's use case: one uploaded recording -> detection -> result documents -> SUCCEEDED.

Order matters and every step is guarded:
1. claim the job with a conditional write and a lease (a duplicate delivery finds it
   terminal, or RUNNING under a live lease, and stops);
2. stream the object from S3 with ranged reads through the detector (bounded memory);
3. between blocks: write progress and renew the lease, notice a cancel or a lost lease,
   extend the SQS message's visibility, and stop before the Lambda runs out of time;
4. write *all* result documents, then mark SUCCEEDED (conditional on still owning the lease);
5. notify (the worker whose terminal write succeeded does, and records it; a redelivered
   message for a finished job that was never notified sends the notifications again).
Permanent failures (the audio itself) fail the job and are not retried; anything else
releases the lease and is raised, so SQS retries it and finally dead-letters it.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from anemonefish.detect import Detector
from anemonefish.exceptions import AudioError, DetectionCancelled
from anemonefish.formats import FORMATS, MEDIA_TYPES, render_document
from anemonefish.params import DetectionParams
from botocore.exceptions import ClientError
from pydantic import ValidationError

from anemonefish_services.dal.jobs import JobsRepository
from anemonefish_services.dal.storage import Storage, result_key
from anemonefish_services.exceptions import (
    LeaseLostError,
    LeaseStillLiveError,
    UploadChecksumMismatchError,
    WorkerTimeRunningOutError,
)
from anemonefish_services.logic.notify import notify_terminal, notify_unnotified
from anemonefish_services.logic.results import discard_results, discard_upload
from anemonefish_services.models.job import JobError, JobRecord, JobResult, JobStatus
from anemonefish_services.observability import MetricUnit, logger, metrics
from anemonefish_services.s3io import S3SeekableReader
from anemonefish_services.settings import Settings

class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # permanently: the message is done
    CANCELLED = "cancelled"
    DUPLICATE = "duplicate"  # the job is already finished (or someone else's) -- nothing to do
    IGNORED = "ignored"  # the object is not a job's upload


@dataclass
class WorkerDeps:
    settings: Settings
    repo: JobsRepository
    storage: Storage
    detector: Callable[[], Detector]  # loaded once per process/thread (cold start)
    sns_client: Any | None = None


@dataclass
class Invocation:
    """What the worker knows of its Lambda invocation and its SQS message."""

    remaining_ms: Callable[[], int] = lambda: 15 * 60 * 1000
    budget_ms: int | None = None  # what the whole invocation started with (default: the remaining time at the job's start)
    extend_visibility: Callable[[int], None] | None = None
    message_id: str | None = None
    owner: str = field(default_factory=lambda: f"worker-{uuid.uuid4()}")


class _StopReason(StrEnum):
    CANCELLED = "cancelled"
    LEASE_LOST = "lease_lost"
    TIME = "time"
    TOO_LONG = "too_long"  # at its rate so far, the recording cannot finish in any invocation


# A recording whose first minute projects to more than twice what a whole invocation holds
# stops then, not at the time limit: no attempt could finish it unless it ran twice as fast
# (each starts from the beginning). A minute covers the decoder's and read-ahead's start-up.
PROJECTION_AFTER_S = 60.0
PROJECTION_FACTOR = 2.0
# An attempt that started with at least this share of its invocation had a whole one (a job
# late in a batch did not, and its running out of time says nothing of the recording).
WHOLE_ATTEMPT_SHARE = 0.9
# How much of what one attempt managed the advice to split leaves for each part: the rate
# varies, and start-up, the safety margin and writing the results take time too.
SPLIT_HEADROOM = 0.8
# A message refused for want of time is visible again after this (s).
RETRY_SOON_S = 5


class _JobMonitor:
    """Progress, lease, cancel and visibility bookkeeping between detection blocks."""

    def __init__(self, job_id: str, deps: WorkerDeps, invocation: Invocation) -> None:
        self.job_id = job_id
        self.deps = deps
        self.invocation = invocation
        self.stop_reason: _StopReason | None = None
        self.fraction = 0.0  # of the recording decoded so far
        self.started_with_s = invocation.remaining_ms() / 1000  # this job's start, maybe mid-batch
        # What an attempt of its own would have: the invocation's start.
        self.budget_s = max(self.started_with_s, (invocation.budget_ms or 0) / 1000)
        self.elapsed_s = 0.0
        self.projected_s = 0.0  # the whole recording's time at the rate so far, once known
        self._last_write = 0.0
        self._last_visibility = float("-inf")  # extend at the first block, then every half-lease

    def progress(self, fraction: float) -> None:
        settings = self.deps.settings
        self.fraction = fraction
        now = time.monotonic()
        # On the interval only: the end is written by _finish, whose heartbeat checks ownership.
        if now - self._last_write >= settings.progress_interval_s:
            self._last_write = now
            if self.deps.repo.heartbeat(self.job_id, self.invocation.owner, progress=fraction, lease_s=settings.lease_s) is None:
                current = self.deps.repo.get(self.job_id)
                cancelled = current is not None and current.status is JobStatus.CANCELLED
                self.stop_reason = _StopReason.CANCELLED if cancelled else _StopReason.LEASE_LOST
        # Keep the message invisible while we work: well past the lease, renewed each half-lease.
        if self.invocation.extend_visibility and now - self._last_visibility >= settings.lease_s / 2:
            self._last_visibility = now
            self.invocation.extend_visibility(int(settings.lease_s * 3))

    def should_stop(self) -> bool:
        if self.stop_reason is None:
            remaining_s = self.invocation.remaining_ms() / 1000
            self.elapsed_s = self.started_with_s - remaining_s
            if remaining_s < self.deps.settings.worker_safety_margin_s:
                self.stop_reason = _StopReason.TIME
            elif self.elapsed_s >= PROJECTION_AFTER_S and self.fraction > 0:
                self.projected_s = self.elapsed_s / self.fraction
                if self.projected_s > PROJECTION_FACTOR * self.budget_s:
                    self.stop_reason = _StopReason.TOO_LONG
        return self.stop_reason is not None

    def between_blocks(self) -> None:
        """For work after detection (hashing what the decoder left unread): the lease, a
        cancel and the invocation's time are watched as between detection's blocks."""
        self.progress(self.fraction)
        if self.should_stop():
            raise DetectionCancelled(f"job {self.job_id}: stopped while checking the upload's digest")

    @property
    def whole_attempt(self) -> bool:
        return self.started_with_s >= WHOLE_ATTEMPT_SHARE * self.budget_s


# On an audio error, the upload's digest is still checked if this little is left to fetch.
AUDIO_ERROR_DIGEST_BYTES = 64 * 1024 * 1024


def _record_input_read(source: S3SeekableReader) -> None:
    """What reading the upload cost this attempt, whatever its end: more bytes than the object
    holds means re-reads (a decoder seeking back); GETs are what S3 bills."""
    metrics.add_metric(name="InputBytesRead", unit=MetricUnit.Bytes, value=source.bytes_fetched)
    metrics.add_metric(name="InputGetRequests", unit=MetricUnit.Count, value=source.get_requests)
    logger.info("input read", extra={"bytes_read": source.bytes_fetched, "get_requests": source.get_requests,
                                     "object_bytes": source.size})


def _check_upload_digest(job: JobRecord, source: S3SeekableReader, monitor: _JobMonitor) -> None:
    """The upload is the file the client hashed (``sha256`` given at ``POST /jobs``)."""
    if not job.sha256:
        return
    actual = source.hexdigest(between_blocks=monitor.between_blocks)
    if actual != job.sha256.lower():
        raise UploadChecksumMismatchError(
            f"the uploaded {job.filename} has SHA-256 {actual}, not the {job.sha256.lower()} given for it: it "
            "was damaged or replaced on its way; upload it again as a new job"
        )


def _out_of_time(job: JobRecord, monitor: _JobMonitor, deps: WorkerDeps, owner: str) -> Outcome:
    """The attempt stopped for time (at the limit, or projected past twice it). Retried once;
    two whole attempts in a row fail the job, since each starts from the beginning."""
    if monitor.stop_reason is _StopReason.TOO_LONG:
        why = (f"at the rate of its first {monitor.elapsed_s:.0f} s ({monitor.fraction:.1%} of it) it would take "
               f"about {monitor.projected_s / 60:.0f} min, and an invocation has {monitor.budget_s / 60:.0f} min")
        fits = monitor.budget_s / monitor.projected_s
    else:
        why = f"the invocation ran out of time at {monitor.fraction:.0%} of the recording"
        fits = monitor.fraction
    if monitor.whole_attempt and job.timed_out_attempt == job.attempts - 1:
        parts = max(2, math.ceil(1 / (max(fits, 0.01) * SPLIT_HEADROOM)))
        return _fail(
            job, "recording_too_long",
            f"{job.filename} is too long for one worker: two attempts in a row ran out of time (the last: {why}). "
            f"Each attempt starts from the beginning, so split the recording into at least {parts} parts and "
            "submit each as a job", deps, owner,
        )
    deps.repo.release(
        job.job_id, owner, f"{WorkerTimeRunningOutError.code}: {why}",
        timed_out_attempt=job.attempts if monitor.whole_attempt else None,
    )
    raise WorkerTimeRunningOutError(f"job {job.job_id}: {why}; retrying") from None  # the stop was asked for: no error to chain


def _fail(job: JobRecord, code: str, message: str, deps: WorkerDeps, owner: str) -> Outcome:
    failed = deps.repo.fail(job.job_id, JobError(code=code, message=message), owner=owner)
    if failed is None:
        return Outcome.DUPLICATE  # cancelled or taken over meanwhile
    if job.attempts > 1:  # this attempt wrote nothing (results come last); an earlier one may have, then died
        discard_results(job.job_id, deps.storage, why="failed")
    logger.warning("job failed", extra={"code": code, "reason": message})
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    notify_terminal(failed, deps.settings, sns_client=deps.sns_client, repo=deps.repo)
    return Outcome.FAILED


def _resolve_params(job: JobRecord, detector: Detector) -> DetectionParams:
    params = detector.default_params.model_copy(update=job.params)
    DetectionParams.model_validate(params.model_dump())  # overrides were validated by the API; re-check limits
    if params.target_class not in detector.bundle.classes:
        raise ValueError(f"target_class {params.target_class!r} is not one of the model's classes {detector.bundle.classes}")
    return params


def process_upload(
    job_id: str, key: str, deps: WorkerDeps, invocation: Invocation
) -> Outcome:
    outcome = _process_upload(job_id, key, deps, invocation)
    if outcome is Outcome.CANCELLED:  # however the worker found out, the recording goes
        discard_upload(key, deps.storage, why="cancelled")
    return outcome


def _process_upload(job_id: str, key: str, deps: WorkerDeps, invocation: Invocation) -> Outcome:
    job = deps.repo.get(job_id)
    if job is None or job.input_key != key:
        logger.warning("object is not a job's upload; ignored", extra={"key": key})
        return Outcome.IGNORED
    if job.status.is_terminal:
        if job.status in (JobStatus.CANCELLED, JobStatus.EXPIRED):
            # Queued before its cancel, or PUT after its job ended by a URL still valid.
            discard_upload(key, deps.storage, why=job.status.value)
        if job.notified_at is None:
            notify_unnotified(job, deps.settings, sns_client=deps.sns_client, repo=deps.repo)
        logger.info("job already finished; duplicate event ignored", extra={"status": job.status.value})
        return Outcome.DUPLICATE
    if job.status is JobStatus.AWAITING_UPLOAD:
        deps.repo.mark_queued(job_id)
    settings = deps.settings
    # Load the model before claiming: a broken deployment must not leave jobs RUNNING.
    detector = deps.detector()
    if invocation.remaining_ms() < 2 * settings.worker_safety_margin_s * 1000:
        # Late in a batch: an attempt now would stop at once and count against the job. The
        # message comes back in seconds for another invocation, not after its long visibility.
        if invocation.extend_visibility:
            invocation.extend_visibility(RETRY_SOON_S)
        raise WorkerTimeRunningOutError(f"job {job_id}: too little of the invocation is left to start it; retrying")
    claimed = deps.repo.claim(job_id, invocation.owner, lease_s=settings.lease_s, message_id=invocation.message_id)
    if claimed is None:
        current = deps.repo.get(job_id)
        if current is None or current.status.is_terminal:
            return Outcome.DUPLICATE
        if invocation.message_id and current.lease_message_id == invocation.message_id:
            # The holder's own message came back (its visibility lapsed): keep it, and look again
            # when the lease would expire -- if the holder died, that retry takes the job over.
            wait_s = max(1, int((current.lease_expires_at or 0) - time.time()) + 1)
            if invocation.extend_visibility:
                invocation.extend_visibility(wait_s)
            raise LeaseStillLiveError(f"job {job_id} is running under a live lease; retry in {wait_s} s")
        # A duplicate delivery (another message for the same upload) during a live lease: drop
        # it. Retrying would spend its receives and dead-letter it while the job is healthy; the
        # holder's own message is the retry if that worker dies, and the sweeper re-drives a
        # job whose lease expired long ago with no message left (logic/stalled.py).
        logger.info("job is running under another worker's lease; duplicate delivery dropped",
                    extra={"lease_owner": current.lease_owner})
        return Outcome.DUPLICATE
    if claimed.attempts > 1:
        logger.info("job taken over or retried", extra={"attempt": claimed.attempts})
    metrics.add_metric(name="JobsStarted", unit=MetricUnit.Count, value=1)
    owner = invocation.owner
    try:
        params = _resolve_params(claimed, detector)
    except (ValueError, ValidationError) as exc:
        return _fail(claimed, "invalid_params", str(exc), deps, owner)

    monitor = _JobMonitor(job_id, deps, invocation)
    try:
        source = S3SeekableReader(
            deps.storage.s3, settings.input_bucket, key, digest="sha256" if claimed.sha256 else None
        )
        if source.size != claimed.size_bytes:
            # The object read, not the event's size: a second PUT to the same URL replaces the
            # object under an earlier event (either may be the right one), and a re-drive
            # carries the job's own size.
            source.close()
            outcome = _fail(claimed, "upload_size_mismatch",
                            f"the uploaded object has {source.size} bytes, the job declared {claimed.size_bytes}",
                            deps, owner)
            if outcome is Outcome.FAILED:  # not the recording declared: no one will analyse these bytes
                discard_upload(key, deps.storage, why="failed: upload_size_mismatch")
            return outcome
        try:
            try:
                result = detector.run(
                    source,
                    params=params,
                    filename=claimed.filename,
                    progress=monitor.progress,
                    should_stop=monitor.should_stop,
                )
            except AudioError:
                # A read failure inside libsndfile looks like a truncated/corrupt file: if the
                # reader failed, it is a transient S3 error, not bad audio; if the bytes are
                # not the ones the client hashed, that is the reason, not the audio -- when
                # telling costs little: a file refused at its header is not fetched whole
                # (up to 50 GiB, past the invocation's time) just to hash it.
                source.raise_if_failed()
                if source.unhashed_bytes <= AUDIO_ERROR_DIGEST_BYTES:
                    _check_upload_digest(claimed, source, monitor)
                raise
            source.raise_if_failed()
            _check_upload_digest(claimed, source, monitor)  # before any result is written
        finally:
            source.close()
            _record_input_read(source)
    except DetectionCancelled:
        if monitor.stop_reason in (_StopReason.TIME, _StopReason.TOO_LONG):
            return _out_of_time(claimed, monitor, deps, owner)
        logger.info("job stopped between blocks", extra={"reason": str(monitor.stop_reason)})
        return Outcome.CANCELLED if monitor.stop_reason is _StopReason.CANCELLED else Outcome.DUPLICATE
    except UploadChecksumMismatchError as exc:
        return _fail(claimed, exc.code, exc.message, deps, owner)
    except AudioError as exc:
        return _fail(claimed, exc.code, _in_the_clients_words(str(exc), claimed, settings), deps, owner)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return _fail(claimed, "upload_missing", f"the uploaded recording {claimed.filename} is gone", deps, owner)
        deps.repo.release(job_id, owner, _reason(exc, claimed, settings))
        raise
    except Exception as exc:
        deps.repo.release(job_id, owner, _reason(exc, claimed, settings))
        raise

    try:
        return _finish(claimed, result, deps, owner)
    except LeaseLostError:
        return Outcome.DUPLICATE
    except Exception as exc:
        deps.repo.release(job_id, owner, _reason(exc, claimed, settings))
        raise


def _reason(exc: Exception, job: JobRecord, settings: Settings) -> str:
    """A transient failure as the client may read it once retries run out (logic/dlq.py).

    An AWS refusal's message names the worker's role, the account id and key ARNs
    ("User: arn:aws:sts::…:assumed-role/… is not authorized to perform: kms:Decrypt on
    resource: arn:aws:kms:…"): the client is told its code and operation, and the log the
    whole text (the raise after the release). The S3 reader wraps the refusal in its own
    error (S3ReadError, its text quoting AWS's), so the whole chain is looked at."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ClientError):
            return f"AWS answered {cause.response.get('Error', {}).get('Code') or 'an error'} to {cause.operation_name}"
        cause = cause.__cause__ or cause.__context__
    return _in_the_clients_words(f"{type(exc).__name__}: {exc}", job, settings)


_ARN = re.compile(r"arn:aws[a-z-]*:[^\s'\"),]+")


def _in_the_clients_words(text: str, job: JobRecord, settings: Settings) -> str:
    """An error for the job's client: the recording's name for its S3 address (the library
    names its source s3://bucket/key), and no bucket names."""
    text = text.replace(f"s3://{settings.input_bucket}/{job.input_key}", job.filename)
    text = _ARN.sub("(an AWS resource)", text)  # roles, keys and the account id AWS's messages name
    named = ((settings.input_bucket, "the input bucket"), (settings.output_bucket, "the output bucket"))
    for bucket, called in sorted(named, key=lambda pair: -len(pair[0])):  # a name inside the other's goes last
        if bucket:
            text = text.replace(bucket, called)
    return text


def _finish(job: JobRecord, result: Any, deps: WorkerDeps, owner: str) -> Outcome:
    # Still ours? (a cancel or a takeover during the last block) -- before writing anything.
    if deps.repo.heartbeat(job.job_id, owner, progress=1.0, lease_s=deps.settings.lease_s) is None:
        current = deps.repo.get(job.job_id)
        if current is not None and current.status is JobStatus.CANCELLED:
            return Outcome.CANCELLED
        raise LeaseLostError(f"job {job.job_id}: lease lost before writing results")
    if job.sha256:  # checked against the upload before this (_check_upload_digest)
        result.audio = dataclasses.replace(result.audio, sha256=job.sha256)
    documents: dict[str, str] = {}
    for fmt in FORMATS:
        key = result_key(job.job_id, fmt)
        text = render_document(result, fmt, job_id=job.job_id)
        deps.storage.put_result(key, text, MEDIA_TYPES.get(fmt, "text/plain") + "; charset=utf-8")
        documents[fmt] = key
    job_result = JobResult(
        events_count=len(result.events),
        audio_duration_s=round(float(result.audio.duration_s), 3),
        processing_time_s=round(float(result.processing_time_s), 3),
        documents=documents,
        warnings=result.warnings,
    )
    done = deps.repo.succeed(job.job_id, owner, job_result)
    if done is None:
        current = deps.repo.get(job.job_id)
        if current is not None and current.status.is_terminal and current.status is not JobStatus.SUCCEEDED:
            # It ended while they were being written (cancelled, or given up by the sweeper or
            # the dead-letter consumer while this worker ran late): such a job has no results.
            # (A job taken over keeps them: its new worker writes the same documents under the same keys.)
            discard_results(job.job_id, deps.storage, why=f"{current.status.value} while they were written")
            if current.status is JobStatus.CANCELLED:
                return Outcome.CANCELLED
            return Outcome.DUPLICATE
        raise LeaseLostError(f"job {job.job_id}: lease lost before marking SUCCEEDED")
    duration = float(result.audio.duration_s)
    for warning in result.warnings:  # e.g. cut short (its events.json says so too): the results stand
        logger.warning("recording analysed with a warning", extra={"job_id": job.job_id, "warning": warning})
    logger.info(
        "job succeeded",
        extra={
            "events": len(result.events),
            "audio_duration_s": duration,
            "processing_time_s": result.processing_time_s,
            "real_time_factor": round(result.real_time_factor, 1),
        },
    )
    metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="AudioSecondsProcessed", unit=MetricUnit.Seconds, value=duration)
    metrics.add_metric(name="RealTimeFactor", unit=MetricUnit.NoUnit, value=float(result.real_time_factor))
    notify_terminal(done, deps.settings, sns_client=deps.sns_client, repo=deps.repo)
    return Outcome.SUCCEEDED
