"""The jobs table. Every state transition is a conditional write, so duplicate deliveries and
races (two workers, a cancel during processing) can never move a job backwards or twice."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from anemonefish_services import aws
from anemonefish_services.exceptions import InvalidRequestError
from anemonefish_services.models.job import ACTIVE_STATES, JobError, JobRecord, JobResult, JobStatus
from anemonefish_services.settings import Settings

TENANT_INDEX = "tenant-created-index"
# A sparse index of the jobs still in progress: ``open_status`` mirrors ``status`` while a job is
# active and is removed when it ends, so the sweeper queries a handful of live jobs instead of
# scanning every job the table keeps until its TTL.
OPEN_INDEX = "open-status-index"
OPEN_STATUS = "open_status"
LEASE_FIELDS = ["lease_owner", "lease_expires_at", "lease_message_id"]


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def epoch_of(iso: str) -> float:
    """Seconds since the epoch of a time :func:`utc_now_iso` wrote."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _to_dynamo(value: Any) -> Any:
    # DynamoDB rejects Python floats; Decimal(str(x)) keeps the value as printed.
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class JobsRepository:
    def __init__(self, settings: Settings, table: Any | None = None) -> None:
        self.settings = settings
        self.table = table or aws.resource("dynamodb", settings).Table(settings.jobs_table)

    # --- reads ----------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        item = self.table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return JobRecord.model_validate(_from_dynamo(item)) if item else None

    def list_for_tenant(
        self, tenant_id: str, *, limit: int, next_token: str | None
    ) -> tuple[list[JobRecord], str | None]:
        kwargs: dict[str, Any] = {
            "IndexName": TENANT_INDEX,
            "KeyConditionExpression": "tenant_id = :t",
            "ExpressionAttributeValues": {":t": tenant_id},
            "ScanIndexForward": False,  # newest first
            "Limit": limit,
        }
        if next_token:
            start = _decode_token(next_token)
            if start.get("tenant_id") != tenant_id:
                raise InvalidRequestError("next_token does not belong to this listing", details={"field": "next_token"})
            kwargs["ExclusiveStartKey"] = start
        page = self.table.query(**kwargs)
        jobs = [JobRecord.model_validate(_from_dynamo(i)) for i in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return jobs, (_encode_token(last) if last else None)

    def _open_jobs(self, status: JobStatus, *, updated_before: str | None = None, filter_: str | None = None,
                   values: dict[str, Any] | None = None) -> Iterator[JobRecord]:
        """Active jobs in ``status`` from the sparse open-jobs index, optionally last touched
        before ``updated_before`` (the index's sort key) and filtered further."""
        condition = f"{OPEN_STATUS} = :status"
        expr_values: dict[str, Any] = {":status": status.value, **{k: _to_dynamo(v) for k, v in (values or {}).items()}}
        if updated_before is not None:
            condition += " AND updated_at < :before"
            expr_values[":before"] = updated_before
        kwargs: dict[str, Any] = {"IndexName": OPEN_INDEX, "KeyConditionExpression": condition,
                                  "ExpressionAttributeValues": expr_values}
        if filter_:
            kwargs["FilterExpression"] = filter_
        while True:
            page = self.table.query(**kwargs)
            for item in page.get("Items", []):
                yield JobRecord.model_validate(_from_dynamo(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def uploads_overdue(self, now: float) -> Iterator[JobRecord]:
        """Jobs still waiting for their upload after its deadline (for the sweeper)."""
        return self._open_jobs(JobStatus.AWAITING_UPLOAD, filter_="upload_expires_at < :now", values={":now": now})

    def stalled(self, now: float, grace_s: float) -> Iterator[JobRecord]:
        """RUNNING jobs whose lease expired more than ``grace_s`` ago, and QUEUED jobs untouched
        for ``grace_s``: no worker is on them and no message may be left to bring one."""
        cutoff_iso = datetime.fromtimestamp(now - grace_s, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        yield from self._open_jobs(JobStatus.RUNNING, filter_="lease_expires_at < :cutoff", values={":cutoff": now - grace_s})
        yield from self._open_jobs(JobStatus.QUEUED, updated_before=cutoff_iso)

    # --- writes -----------------------------------------------------------------------

    def create(self, record: JobRecord) -> bool:
        """Put a new job; False if a job with that id exists already (an idempotent retry)."""
        item = _to_dynamo(record.model_dump(mode="json", exclude_none=True))
        if not record.status.is_terminal:
            item[OPEN_STATUS] = record.status.value
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(job_id)")
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def _update(
        self,
        job_id: str,
        *,
        set_: dict[str, Any],
        condition: str,
        values: dict[str, Any] | None = None,
        remove: list[str] | None = None,
        add: dict[str, int] | None = None,
        touch: bool = True,
    ) -> JobRecord | None:
        """One conditional update; the new record, or None when the condition did not hold.

        A change of ``status`` keeps the open-jobs index in step: an active status is mirrored
        into ``open_status``, a terminal one removes it (the job leaves the index). ``touch``
        stamps ``updated_at`` (not for bookkeeping a client does not see)."""
        set_ = {**set_, "updated_at": utc_now_iso()} if touch else dict(set_)
        if "status" in set_:
            if JobStatus(set_["status"]).is_terminal:
                remove = [*(remove or []), OPEN_STATUS]
            else:
                set_[OPEN_STATUS] = set_["status"]
        names = {"#s": "status"}
        expr_values: dict[str, Any] = {}
        parts = []
        for i, (name, value) in enumerate(set_.items()):
            names[f"#f{i}"] = name
            expr_values[f":v{i}"] = _to_dynamo(value)
            parts.append(f"#f{i} = :v{i}")
        expression = "SET " + ", ".join(parts)
        if add:
            adds = []
            for i, (name, amount) in enumerate(add.items()):
                names[f"#a{i}"] = name
                expr_values[f":a{i}"] = amount
                adds.append(f"#a{i} :a{i}")
            expression += " ADD " + ", ".join(adds)
        if remove:
            rems = []
            for i, name in enumerate(remove):
                names[f"#r{i}"] = name
                rems.append(f"#r{i}")
            expression += " REMOVE " + ", ".join(rems)
        for key, value in (values or {}).items():
            expr_values[key] = _to_dynamo(value)
        try:
            out = self.table.update_item(
                Key={"job_id": job_id},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(job_id) AND ({condition})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=expr_values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return JobRecord.model_validate(_from_dynamo(out["Attributes"]))

    def mark_queued(self, job_id: str) -> JobRecord | None:
        """AWAITING_UPLOAD -> QUEUED (the upload is complete or its S3 event arrived)."""
        return self._update(
            job_id,
            set_={"status": JobStatus.QUEUED.value},
            condition="#s = :waiting",
            values={":waiting": JobStatus.AWAITING_UPLOAD.value},
        )

    def claim(
        self, job_id: str, owner: str, *, lease_s: float, now: float | None = None, message_id: str | None = None
    ) -> JobRecord | None:
        """Take the job for processing: QUEUED (or AWAITING_UPLOAD whose object is there), or a
        RUNNING job whose worker's lease has expired (the worker died: take it over).
        ``message_id`` is the SQS message the claim came with: if it reappears while the lease
        is live, it is the holder's own message, not a duplicate."""
        now = time.time() if now is None else now
        fields: dict[str, Any] = {
            "status": JobStatus.RUNNING.value,
            "lease_owner": owner,
            "lease_expires_at": now + lease_s,
            "progress": 0.0,
            "started_at": utc_now_iso(),
        }
        if message_id:
            fields["lease_message_id"] = message_id
        return self._update(
            job_id,
            set_=fields,
            add={"attempts": 1},
            condition="#s IN (:waiting, :queued) OR (#s = :running AND lease_expires_at < :now)",
            values={
                ":waiting": JobStatus.AWAITING_UPLOAD.value,
                ":queued": JobStatus.QUEUED.value,
                ":running": JobStatus.RUNNING.value,
                ":now": now,
            },
        )

    def heartbeat(self, job_id: str, owner: str, *, progress: float, lease_s: float) -> JobRecord | None:
        """Write progress and renew the lease, only while we still own the running job."""
        return self._update(
            job_id,
            set_={"progress": round(progress, 4), "lease_expires_at": time.time() + lease_s},
            condition="#s = :running AND lease_owner = :owner",
            values={":running": JobStatus.RUNNING.value, ":owner": owner},
        )

    def release(
        self, job_id: str, owner: str, reason: str | None = None, *, timed_out_attempt: int | None = None
    ) -> JobRecord | None:
        """RUNNING -> QUEUED after a transient failure, so the retry can claim it at once.
        ``timed_out_attempt``: this attempt had a whole invocation and ran out of it."""
        fields: dict[str, Any] = {"status": JobStatus.QUEUED.value}
        if reason:
            fields["last_error"] = reason[:500]
        if timed_out_attempt is not None:
            fields["timed_out_attempt"] = timed_out_attempt
        return self._update(
            job_id,
            set_=fields,
            remove=LEASE_FIELDS,
            condition="#s = :running AND lease_owner = :owner",
            values={":running": JobStatus.RUNNING.value, ":owner": owner},
        )

    def succeed(self, job_id: str, owner: str, result: JobResult) -> JobRecord | None:
        return self._update(
            job_id,
            set_={
                "status": JobStatus.SUCCEEDED.value,
                "result": result.model_dump(mode="json"),
                "progress": 1.0,
                "finished_at": utc_now_iso(),
            },
            remove=LEASE_FIELDS,
            condition="#s = :running AND lease_owner = :owner",
            values={":running": JobStatus.RUNNING.value, ":owner": owner},
        )

    def fail(
        self, job_id: str, error: JobError, *, owner: str | None = None, attempts: int | None = None
    ) -> JobRecord | None:
        """-> FAILED: by the worker that owns the job, or (owner None) from any active state;
        with ``attempts``, only if no worker has claimed it since it was read with that many
        (a give-up must not fail a job another worker has just taken over)."""
        set_ = {"status": JobStatus.FAILED.value, "error": error.model_dump(), "finished_at": utc_now_iso()}
        if owner is not None:
            return self._update(
                job_id,
                set_=set_,
                remove=LEASE_FIELDS,
                condition="#s = :running AND lease_owner = :owner",
                values={":running": JobStatus.RUNNING.value, ":owner": owner},
            )
        condition = "#s IN (:a0, :a1, :a2)"
        values: dict[str, Any] = {f":a{i}": s.value for i, s in enumerate(sorted(ACTIVE_STATES))}
        if attempts is not None:
            unclaimed = " OR attribute_not_exists(attempts)" if attempts == 0 else ""
            condition += f" AND (attempts = :attempts{unclaimed})"
            values[":attempts"] = attempts
        return self._update(job_id, set_=set_, remove=LEASE_FIELDS, condition=condition, values=values)

    def cancel(self, job_id: str) -> JobRecord | None:
        """Any active state -> CANCELLED (a running worker notices between blocks)."""
        return self._update(
            job_id,
            set_={"status": JobStatus.CANCELLED.value, "finished_at": utc_now_iso()},
            condition="#s IN (:a0, :a1, :a2)",
            values={f":a{i}": s.value for i, s in enumerate(sorted(ACTIVE_STATES))},
        )

    def record_sha256(self, job_id: str, sha256: str) -> JobRecord | None:
        """Give a job still awaiting its upload the file's digest, unless it has another one."""
        return self._update(
            job_id,
            set_={"sha256": sha256},
            condition="#s = :waiting AND (attribute_not_exists(sha256) OR sha256 = :sha)",
            values={":waiting": JobStatus.AWAITING_UPLOAD.value, ":sha": sha256},
            touch=False,
        )

    def note_redrive(self, job_id: str, status: JobStatus, expected_updated_at: str) -> JobRecord | None:
        """Count a re-drive of a job found stalled in ``status`` (RUNNING: a lost worker;
        QUEUED: an event perhaps lost), only if nothing touched the job since. The two are
        counted apart, so that waiting in a backlog does not use up a lost worker's re-drives."""
        counter = {JobStatus.RUNNING: "redrives", JobStatus.QUEUED: "queued_redrives"}[status]
        return self._update(
            job_id,
            set_={},
            add={counter: 1},
            condition="#s = :status AND updated_at = :seen",
            values={":status": status.value, ":seen": expected_updated_at},
        )

    def mark_notified(self, job_id: str) -> JobRecord | None:
        """Record that a finished job's notifications went out (once)."""
        terminal = [status for status in JobStatus if status.is_terminal]
        return self._update(
            job_id,
            set_={"notified_at": utc_now_iso()},
            condition=f"#s IN ({', '.join(f':t{i}' for i in range(len(terminal)))}) AND attribute_not_exists(notified_at)",
            values={f":t{i}": status.value for i, status in enumerate(terminal)},
            touch=False,
        )

    def expire(self, job_id: str, now: float) -> JobRecord | None:
        """AWAITING_UPLOAD past its deadline -> EXPIRED."""
        return self._update(
            job_id,
            set_={
                "status": JobStatus.EXPIRED.value,
                "error": {"code": "upload_expired", "message": "the upload did not arrive in time"},
                "finished_at": utc_now_iso(),
            },
            condition="#s = :waiting AND upload_expires_at < :now",
            values={":waiting": JobStatus.AWAITING_UPLOAD.value, ":now": now},
        )


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(_from_dynamo(key)).encode()).decode().rstrip("=")


# A listing page's LastEvaluatedKey on the tenant index: the table's key and the index's.
_LISTING_KEY = frozenset({"job_id", "tenant_id", "created_at"})


def _decode_token(token: str) -> dict[str, Any]:
    """The start key a ``next_token`` carries; anything else is the caller's 400, never DynamoDB's 500."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
        if not isinstance(key, dict) or set(key) != _LISTING_KEY or not all(isinstance(v, str) for v in key.values()):
            raise ValueError("not a listing position")
        return key
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequestError("next_token is not valid", details={"field": "next_token"}) from exc
