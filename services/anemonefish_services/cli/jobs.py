"""``anemonefish jobs list|show|fetch|cancel``: jobs created earlier, elsewhere or by the console."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from anemonefish_services.cli.pipeline import add_api_options, api_client


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    jobs = subparsers.add_parser("jobs", help="list, follow, fetch and cancel pipeline jobs")
    add_api_options(jobs)  # before the subcommand too: `jobs --api URL list`
    sub = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", help="the key's recent jobs, newest first")
    listing.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    listing.add_argument("--json", action="store_true", help="print the jobs as JSON")
    add_api_options(listing, under_group=True)
    listing.set_defaults(func=_list)

    show = sub.add_parser("show", help="one job: status, progress, result or error")
    show.add_argument("job_id", metavar="JOB_ID")
    show.add_argument("--json", action="store_true", help="print the job as the API returns it")
    add_api_options(show, under_group=True)
    show.set_defaults(func=_show)

    fetch = sub.add_parser("fetch", help="download finished jobs' result documents")
    fetch.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    fetch.add_argument("-o", "--outdir", type=Path, default=Path("results"),
                       help="where result documents go, named after each job's recording (default: results)")
    fetch.add_argument("--wait", action="store_true", help="wait for jobs that have not finished yet")
    fetch.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="with --wait, give up on a job after this long (default: no limit)")
    fetch.add_argument("--overwrite", action="store_true",
                       help="replace files in OUTDIR that are not earlier results of the same recording")
    add_api_options(fetch, under_group=True)
    fetch.set_defaults(func=_fetch)

    cancel = sub.add_parser("cancel", help="cancel jobs that have not finished (aborts an open upload)")
    cancel.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    add_api_options(cancel, under_group=True)
    cancel.set_defaults(func=_cancel)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _reason(exc: Exception, args: argparse.Namespace) -> str:
    """The API's refusal as it gave it; a network failure as one line naming the API."""
    import requests

    if isinstance(exc, requests.RequestException):
        return f"cannot reach the API at {args.api}: {type(exc).__name__}"
    return str(exc)


def _list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from anemonefish_services.client.api import ApiError
    from anemonefish_services.client.jobs import recent_jobs

    client = api_client(args)
    if client is None:
        return 2
    try:
        jobs = recent_jobs(client, args.limit)
    except (ApiError, OSError) as exc:  # requests' connection errors are OSErrors
        _error(_reason(exc, args))
        return 1
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    header = ("job id", "created (UTC)", "status", "file", "calls", "error")
    rows = [_row(job) for job in jobs]
    if not sys.stdout.isatty():  # piped: one tab-separated line a job, for cut, awk and scripts
        print("\t".join(header))
        for row in rows:
            print("\t".join(" ".join(cell.split()) if cell else cell for cell in row))  # no tab or newline inside
        return 0
    # On a terminal: two lines a job, readable at any width (a six-column table is not at 80):
    # the id whole (it is copied into the other commands), how the job stands, and its file.
    console = Console(highlight=False)
    if not jobs:
        console.print("no jobs for this key")
    colours = {"SUCCEEDED": "green", "FAILED": "red", "CANCELLED": "yellow", "EXPIRED": "yellow"}
    for job_id, created, status, filename, calls, error in rows:
        outcome = f"{status}, {calls} call(s)" if calls else f"{status} ({error})" if error else status
        console.print(f"{job_id}  [{colours.get(status, 'cyan')}]{escape(outcome)}[/]")
        console.print(f"    {created[:16]} UTC  {escape(filename)}", soft_wrap=True)
    return 0


def _row(job: dict[str, Any]) -> tuple[str, ...]:
    result, error = job.get("result") or {}, job.get("error") or {}
    return (job["job_id"], job["created_at"][:19].replace("T", " "), job["status"], job["filename"],
            str(result["events_count"]) if "events_count" in result else "", error.get("code", ""))


def _show(args: argparse.Namespace) -> int:
    from anemonefish_services.client.api import ApiError

    client = api_client(args)
    if client is None:
        return 2
    try:
        job = client.get_job(args.job_id)
    except (ApiError, OSError) as exc:
        _error(f"{args.job_id}: {_reason(exc, args)}")
        return 1
    print(json.dumps(job, indent=2) if args.json else describe(job))
    return 0


def describe(job: dict[str, Any]) -> str:
    """A job in a few lines for a terminal."""
    lines = [f"job       {job['job_id']}  {job['status']}",
             f"file      {job['filename']} ({job['size_bytes'] / 2**20:.1f} MiB)",
             f"created   {job['created_at']}  (updated {job['updated_at']})"]
    if job.get("params"):
        lines.append(f"params    {json.dumps(job['params'], sort_keys=True)}")
    fraction = (job.get("progress") or {}).get("fraction")
    if fraction is not None and job["status"] == "RUNNING":
        lines.append(f"progress  {fraction:.0%}")
    if result := job.get("result"):
        lines.append(f"result    {result['events_count']} call(s) in {result['audio_duration_s']:.1f} s of audio, "
                     f"detected in {result['processing_time_s']:.2f} s")
        if links := result.get("links"):
            lines.append(f"documents {', '.join(links)} (anemonefish jobs fetch {job['job_id']})")
        lines += [f"warning   {warning}" for warning in result.get("warnings") or []]
    if error := job.get("error"):
        lines.append(f"error     {error['code']}: {error['message']}")
    return "\n".join(lines)


def _fetch(args: argparse.Namespace) -> int:
    from anemonefish_services.cli.pipeline import replacement_refusal
    from anemonefish_services.client.api import ApiError
    from anemonefish_services.client.jobs import download_results, result_stem, wait_for_job

    if args.timeout is not None and not args.wait:
        _error("--timeout: it limits --wait, which was not given")
        return 2
    client = api_client(args)
    if client is None:
        return 2
    failed = 0
    saved_as: dict[str, str] = {}  # stem -> job id, within this run
    for job_id in dict.fromkeys(args.job_ids):  # each once, in the order given
        try:
            job = wait_for_job(client, job_id, timeout_s=args.timeout) if args.wait else client.get_job(job_id)
        except (ApiError, OSError) as exc:  # TimeoutError is an OSError too
            _error(f"{job_id}: {_reason(exc, args)}")
            failed += 1
            continue
        if job["status"] != "SUCCEEDED":
            error = job.get("error") or {}
            why = f" ({error['code']}: {error['message']})" if error else ""
            hint = "; --wait waits for it" if job["status"] not in {"FAILED", "CANCELLED", "EXPIRED"} else ""
            if job["status"] == "AWAITING_UPLOAD":  # no one may be uploading: waiting could last until it expires
                hint = ("; its file has not been uploaded (all of it): if a submit of it was interrupted, running "
                        "that submit again resumes the upload; --wait waits for the upload")
            _error(f"{job_id}: {job['filename']} is {job['status']}{why}, no results{hint}")
            failed += 1
            continue
        stem = result_stem(job)
        if stem in saved_as:
            _error(f"{job_id}: its results would replace those of job {saved_as[stem]} in {args.outdir} (both are "
                   f"named {stem!r}); fetch it with another -o")
            failed += 1
            continue
        if why := replacement_refusal(args.outdir, stem, {job["filename"]}, overwrite=args.overwrite,
                                      sha256=job.get("sha256")):
            _error(f"{job_id}: {why}")
            failed += 1
            continue
        try:
            documents = download_results(job, stem, args.outdir)
        except OSError as exc:  # requests' errors are OSErrors too
            _error(f"{job_id}: downloading its results: {exc}")
            failed += 1
            continue
        saved_as[stem] = job_id
        print(f"{job_id}: {job['filename']}: {job['result']['events_count']} call(s) -> "
              f"{', '.join(str(p) for p in documents.values())}")
        for warning in job["result"].get("warnings") or []:  # the results stand, but say what they miss
            print(f"warning: {job_id}: {warning}", file=sys.stderr)
    return 1 if failed else 0


def _cancel(args: argparse.Namespace) -> int:
    from anemonefish_services.client.api import ApiError

    client = api_client(args)
    if client is None:
        return 2
    failed = 0
    for job_id in dict.fromkeys(args.job_ids):
        try:
            answer = client.cancel_job(job_id)
        except (ApiError, OSError) as exc:
            status = exc.details.get("status") if isinstance(exc, ApiError) and isinstance(exc.details, dict) else None
            _error(f"{job_id}: " + (f"already {status}; only a job that has not finished can be cancelled"
                                    if status else _reason(exc, args)))
            failed += 1
            continue
        print(f"{job_id}: {answer['status']}")
    return 1 if failed else 0
