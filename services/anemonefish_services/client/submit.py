"""``anemonefish submit``: files in, result documents out, through the async pipeline."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from anemonefish_services.client.api import ApiClient, ApiError
from anemonefish_services.client.jobs import TERMINAL, download_results
from anemonefish_services.client.upload import UploadStopped, file_fingerprint, upload_multipart, upload_single


# How long submit waits on an API it cannot reach at all before leaving its jobs to
# `jobs fetch --wait` (a stopped local stack left it polling for the hour's timeout).
UNREACHABLE_GIVE_UP_S = 60.0


class RequestRefusedError(Exception):
    """The API refused the request every file's job makes (its key, params or webhook): an option is wrong."""


class ResultsTakenError(Exception):
    """The results of the file would replace another recording's: it gets no job."""


@dataclass
class Submission:
    path: Path
    job_id: str = ""
    status: str = "NEW"
    job: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, Path] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    submitted_at: float = 0.0
    finished_at: float = 0.0
    earlier: bool = False  # the job an earlier run of submit created for this file and request


def _ended_meanwhile(client: ApiClient, job_id: str) -> str | None:
    """The job's terminal status, when it ended while its upload was failing; else None."""
    try:
        status = client.get_job(job_id)["status"]
    except (ApiError, OSError, KeyError, TypeError, ValueError):  # the upload's own error stands
        return None
    return status if status in TERMINAL else None


def job_filename(path: Path) -> str:
    """The name a job carries for ``path``: the API refuses control characters (a tab or a line
    break can be in a local name, which detect accepts) and bidirectional overrides, and JSON text cannot hold bytes that
    are not UTF-8; they become spaces and U+FFFD. The API strips spaces at either end, so they
    go here already (the job's name is then this one). Results are still saved under the local name."""
    from anemonefish.audio import display_name

    from anemonefish_services.models.api import BIDI_CONTROLS

    name = re.sub(r"[\x00-\x1f\x7f]", " ", display_name(path))
    return "".join(" " if ch in BIDI_CONTROLS else ch for ch in name).strip()


def idempotency_key(path: Path, params: dict[str, Any] | None, webhook: str | None, sha256: str | None = None) -> str:
    """Same file, same request -> same key: a rerun after an interruption resumes that job.
    The digest is part of the request, so of the key (the API refuses a key reused with
    another body); without one the key is what it was before digests were sent."""
    material = json.dumps([file_fingerprint(path), params or {}, webhook] + ([sha256] if sha256 else []), sort_keys=True)
    return "submit-" + hashlib.sha256(material.encode()).hexdigest()[:40]


def _sha256_with_progress(path: Path, advance: Callable[[int], None], stop: threading.Event, chunk: int = 8 << 20) -> str:
    """The file's SHA-256, moving its progress bar (hashlib.file_digest has no progress hook;
    a 10 GB recording takes several seconds), and stopping when told to."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(chunk):
            if stop.is_set():
                raise UploadStopped("stopped")
            hasher.update(piece)
            advance(len(piece))
    return hasher.hexdigest()


def _refuses_the_request(exc: Exception) -> bool:
    """The API refused what every file's job would ask for (its key, params or webhook): the
    same answer awaits the other files, so they are not hashed and sent for it."""
    if isinstance(exc, ApiError) and exc.status in (401, 403):
        return True
    if not isinstance(exc, ApiError) or exc.status not in (400, 501):
        return False
    details = exc.details if isinstance(exc.details, list) else [exc.details]
    fields = [str(d.get("field", "")) for d in details if isinstance(d, dict)]
    return any(f == "params" or f.startswith(("params.", "webhook")) for f in fields)


def submit_files(
    client: ApiClient,
    paths: Sequence[Path],
    outdir: Path,
    *,
    params: dict[str, Any] | None = None,
    webhook_url: str | None = None,
    new: bool = False,
    checksum: bool = True,
    check_target: Callable[[Path, str], str | None] | None = None,
    part_workers: int = 4,
    poll_interval_s: float = 0.25,
    timeout_s: float = 3600.0,
    console: Console | None = None,
) -> list[Submission]:
    console = console or Console(stderr=True)
    outdir.mkdir(parents=True, exist_ok=True)
    subs = [Submission(path=Path(p)) for p in paths]
    # Set by Ctrl-C (every upload stops at its next read, and stays open for a rerun to resume)
    # or by the API refusing the request itself (the other files would meet the same refusal).
    stop = threading.Event()
    refusal: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[stage]}"),
               DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bars:
        tasks: dict[int, TaskID] = {
            i: bars.add_task(escape(s.path.name[:40]), total=s.path.stat().st_size, stage="upload") for i, s in enumerate(subs)
        }

        def upload_one(index: int) -> None:
            sub = subs[index]
            task = tasks[index]
            try:
                if stop.is_set():
                    raise UploadStopped(refusal[0] if refusal else "stopped")
                size = sub.path.stat().st_size
                digest = None
                if checksum:  # the worker checks the upload against it: damage on the way fails the job
                    bars.update(task, stage="hashing")
                    digest = _sha256_with_progress(sub.path, lambda n: bars.advance(task, n), stop)
                    # Results under its name in OUTDIR may be of another file of that name: the
                    # digest tells, where the name alone could not (checked before any upload).
                    if check_target is not None and (why := check_target(sub.path, digest)):
                        raise ResultsTakenError(why)
                    bars.update(task, completed=0, stage="upload")
                key = str(uuid.uuid4()) if new else idempotency_key(sub.path, params, webhook_url, digest)
                created = client.create_job(
                    job_filename(sub.path), size, params=params, webhook_url=webhook_url,
                    content_type=mimetypes.guess_type(sub.path.name)[0], idempotency_key=key, sha256=digest,
                )
                sub.job_id, sub.status = created["job_id"], created["status"]
                sub.submitted_at = time.monotonic()

                def advance(n: int) -> None:
                    bars.advance(task, n)

                if created["status"] != "AWAITING_UPLOAD":
                    sub.earlier = True
                    bars.update(task, completed=size)  # already uploaded by an earlier run
                elif created["upload"]["method"] == "PUT":
                    upload_single(sub.path, created["upload"], advance, stop=stop.is_set)
                else:
                    upload_multipart(client, sub.job_id, sub.path, created["upload"], advance, workers=part_workers,
                                     stop=stop.is_set)
                bars.update(task, completed=size, stage="uploaded")
            except Exception as exc:  # one file's failure never stops the others (but a refused request does)
                # Before the job exists the API refused the request (a key, a webhook): no upload was tried.
                sub.status = "UPLOAD_FAILED" if sub.job_id else "NOT_CREATED"
                sub.error = (f"cannot reach the API at {client.api_url} ({type(exc).__name__})"
                             if isinstance(exc, requests.ConnectionError) and not sub.job_id else str(exc))
                if _refuses_the_request(exc):
                    refusal.append(str(exc))
                    stop.set()
                elif sub.job_id and not stop.is_set() and (ended := _ended_meanwhile(client, sub.job_id)):
                    # Cancelled elsewhere (jobs cancel, the console) while its parts went up: S3 then
                    # refuses the parts (NoSuchUpload), which says nothing of why.
                    sub.error = f"the job was {ended} while its file was uploading ({sub.error})"
                bars.update(task, stage="[red]upload failed" if sub.job_id else "[red]job not created")

        with ThreadPoolExecutor(max_workers=min(4, len(subs)) or 1) as pool:
            try:
                list(pool.map(upload_one, range(len(subs))))
            except KeyboardInterrupt:
                stop.set()  # the uploads under way end at their next read; the pool's exit waits that long
                raise
        if refusal:
            raise RequestRefusedError(refusal[0])

        deadline = time.monotonic() + timeout_s
        pending = {i for i, s in enumerate(subs) if s.job_id and s.status != "UPLOAD_FAILED"}
        last_answer = {i: time.monotonic() for i in pending}
        while pending and time.monotonic() < deadline:
            for i in sorted(pending):
                sub = subs[i]
                try:
                    job = client.get_job(sub.job_id)
                except (ApiError, requests.RequestException) as exc:
                    if isinstance(exc, ApiError) and exc.status in (401, 403, 404):
                        # Will not clear up (a local stack restarted empty, say).
                        sub.status, sub.error = "LOST", f"the API no longer answers for the job: {exc}"
                        bars.update(tasks[i], stage="[red]job lost")
                        pending.discard(i)
                    elif time.monotonic() - last_answer[i] > UNREACHABLE_GIVE_UP_S:
                        # Refused, hung (a suspended stack times out) or failing (5xx) all this while.
                        sub.status = "UNREACHABLE"
                        what = (f"answered {exc.status}" if isinstance(exc, ApiError)
                                else f"could not be reached ({type(exc).__name__})")
                        sub.error = (f"the API at {client.api_url} {what} for over {UNREACHABLE_GIVE_UP_S:.0f} s; "
                                     f"the job may still finish: `anemonefish jobs fetch {sub.job_id} -o {outdir} "
                                     "--wait` saves its results")
                        bars.update(tasks[i], stage="[red]API unreachable")
                        pending.discard(i)
                    else:  # keep polling the others
                        bars.update(tasks[i], stage=f"[yellow]poll error: {str(exc)[:40]}")
                    continue
                last_answer[i] = time.monotonic()
                sub.job, sub.status = job, job["status"]
                fraction = (job.get("progress") or {}).get("fraction")
                stage = sub.status.lower() + (f" {fraction:.0%}" if fraction is not None and sub.status == "RUNNING" else "")
                if sub.status == "AWAITING_UPLOAD":  # its upload is done: the job waits for S3's event
                    stage = "uploaded, waiting for S3"  # ("awaiting upload" read as an upload lost)
                bars.update(tasks[i], stage=stage if sub.status != "FAILED" else f"[red]failed: {job['error']['code']}")
                if sub.status in TERMINAL:
                    sub.finished_at = time.monotonic()
                    pending.discard(i)
                    if sub.status == "SUCCEEDED":
                        try:
                            _fetch_results(sub, outdir)
                        except (OSError, ValueError) as exc:  # requests' errors are OSErrors too
                            # The job's results are safe in S3: say so, and go on with the others'.
                            sub.status = "DOWNLOAD_FAILED"
                            sub.error = (f"the job succeeded, but saving its results in {outdir} failed ({exc}); "
                                         f"`anemonefish jobs fetch {sub.job_id} -o {outdir}` downloads them again")
                    elif job.get("error"):
                        sub.error = f"{job['error']['code']}: {job['error']['message']}"
                    if sub.status not in ("SUCCEEDED", "DOWNLOAD_FAILED") and sub.earlier:
                        # The same file and request find the same job again: say how to retry it.
                        sub.error = (f"{sub.error}; " if sub.error else "") + (
                            f"this is the job an earlier submit of this file created, which ended {sub.status}: "
                            "--new submits the file again as a new job")
            if pending:
                time.sleep(poll_interval_s)
        for i in pending:
            subs[i].error = "timed out waiting for the job"
    return subs


def _fetch_results(sub: Submission, outdir: Path) -> None:
    sub.documents = download_results(sub.job, sub.path.stem, outdir)
    if "json" in sub.documents:
        sub.events = json.loads(sub.documents["json"].read_text()).get("events", [])


def events_table(subs: Sequence[Submission], max_rows: int = 25) -> Table:
    table = Table(title="Anemonefish calls")
    for name in ("file", "start (s)", "end (s)", "label", "confidence"):
        table.add_column(name, justify="right" if "(" in name or name == "confidence" else "left")
    for sub in subs:
        name = escape(sub.path.name)  # "[site A].wav" is not markup
        if sub.status != "SUCCEEDED":  # the reason under label, the widest column, not under confidence
            table.add_row(name, "", "", f"[red]{sub.status}[/]" + (f": {escape(sub.error)}" if sub.error else ""), "")
            continue
        for event in sub.events[:max_rows]:
            conf = event.get("confidence")
            table.add_row(name, f"{event['start']:.2f}", f"{event['end']:.2f}", escape(str(event.get("label", ""))),
                          f"{conf:.2f}" if isinstance(conf, (int, float)) else "")
        if len(sub.events) > max_rows:
            table.add_row(name, "", "", f"... {len(sub.events) - max_rows} more", "")
        if not sub.events:
            table.add_row(name, "", "", "(no calls found)", "")
    return table
