"""``anemonefish local up``, ``anemonefish submit`` and ``anemonefish demo``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anemonefish_services.client.api import ApiClient


def register(subparsers: argparse._SubParsersAction) -> None:
    local = subparsers.add_parser("local", help="run the pipeline on this machine (embedded AWS emulator)")
    local_sub = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)
    up = local_sub.add_parser("up", help="start the local stack: moto server, resources, API, worker")
    up.add_argument("--port", type=int, default=8080, help="API port on 127.0.0.1 (default 8080)")
    up.add_argument("--api-key", default=None, help="API key to accept (default: ANEMONEFISH_API_KEY or a random one)")
    up.add_argument("--moto-port", type=int, default=None, help="AWS emulator port (default: a free one)")
    up.add_argument("--existing", action="store_true",
                    help="use resources that already exist (named by ANEMONEFISH_* variables, e.g. from Terraform)")
    up.set_defaults(func=_local_up)

    submit = subparsers.add_parser("submit", help="submit recordings to the pipeline and fetch the results")
    submit.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add_api_options(submit)
    submit.add_argument("-o", "--outdir", type=Path, default=Path("results"),
                        help="where result documents go (default: results)")
    submit.add_argument("--webhook", default=None, help="https URL to call when each job finishes")
    submit.add_argument("--params", default=None, help='detection parameters as JSON, e.g. \'{"threshold": 0.6}\'')
    submit.add_argument("--new", action="store_true", help="always create new jobs (default: a rerun resumes)")
    submit.add_argument("--checksum", action=argparse.BooleanOptionalAction, default=True,
                        help="send each file's SHA-256, so the worker fails a job whose upload differs from "
                             "the file (reads each file once more before uploading; default: on)")
    submit.add_argument("--overwrite", action="store_true",
                        help="replace files in OUTDIR that an earlier run of submit did not download (a rerun "
                        "replaces its own results without it)")
    submit.set_defaults(func=_submit)

    demo = subparsers.add_parser("demo", help="the whole async pipeline end to end on the local stack")
    demo.add_argument("-o", "--outdir", type=Path, default=Path("demo-results"))
    demo.add_argument("--duration", type=float, default=489.0, help="seconds of generated recording")
    demo.add_argument("--stay", action=argparse.BooleanOptionalAction, default=None,
                      help="keep the stack and its browser console up afterwards until Ctrl-C "
                           "(default: when run from a terminal)")
    demo.set_defaults(func=_demo)


def add_api_options(parser: argparse.ArgumentParser, *, under_group: bool = False) -> None:
    """``--api`` and ``--api-key``, defaulting to the environment (the local stack prints both).

    ``under_group``: the subcommand of a group that has them too (``jobs --api URL list``, as
    ``aws --region R s3 ls``): given here they win, and left out they keep the group's, which
    a subparser's own defaults would otherwise overwrite."""
    api_default = os.environ.get("ANEMONEFISH_API_URL", "http://127.0.0.1:8080")
    key_default = os.environ.get("ANEMONEFISH_API_KEY")
    parser.add_argument("--api", default=argparse.SUPPRESS if under_group else api_default,
                        help="API URL (default: env ANEMONEFISH_API_URL, else the local stack's http://127.0.0.1:8080)")
    parser.add_argument("--api-key", default=argparse.SUPPRESS if under_group else key_default,
                        help="API key (env ANEMONEFISH_API_KEY)")


def _is_this_machine(host: str) -> bool:
    import ipaddress

    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_client(args: argparse.Namespace) -> ApiClient | None:
    """The client for ``add_api_options``' values; None (said on stderr) without a key, or with
    a URL that names no HTTP server."""
    from urllib.parse import urlsplit

    from anemonefish_services.client.api import ApiClient

    if not args.api_key:
        print("error: no API key: pass --api-key or set ANEMONEFISH_API_KEY", file=sys.stderr)
        return None
    # "127.0.0.1:8080" was read as a URL of scheme "127.0.0.1", then reported as a network failure.
    try:
        parts = urlsplit(args.api)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        print(f"error: --api (or ANEMONEFISH_API_URL): {args.api!r} is not an http:// or https:// URL "
              "(e.g. http://127.0.0.1:8080)", file=sys.stderr)
        return None
    if parts.scheme == "http" and not _is_this_machine(parts.hostname or ""):
        print(f"warning: --api {args.api} is plain http: the API key crosses the network unencrypted "
              "(a deployed API is https)", file=sys.stderr)
    return ApiClient(args.api, args.api_key)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def _local_settings_problem(existing: bool) -> str | None:
    """What in the environment keeps ``local up`` from starting, said in one line, or None."""
    # The services' own settings model reads them (one parser: ANEMONEFISH_API_KEYS and the rest).
    from pydantic import ValidationError

    from anemonefish_services.settings import Settings

    try:
        Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "ANEMONEFISH_" + str(first["loc"][0]).upper() if first["loc"] else "ANEMONEFISH_*"
        return f"{name}: {first['msg']}"
    if existing:
        # Without them the stack would talk to real AWS with made-up credentials.
        missing = [name for name in ("ANEMONEFISH_AWS_ENDPOINT_URL", "ANEMONEFISH_JOBS_QUEUE_URL")
                   if not os.environ.get(name)]
        if missing:
            return (f"--existing serves resources the environment names, and {', '.join(missing)} "
                    "is not set (see docs/local-stack.md)")
    return None


def _local_up(args: argparse.Namespace) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from anemonefish.exceptions import ModelBundleError

    from anemonefish_services.local.moto_server import free_port
    from anemonefish_services.local.stack import local_up, serve_existing

    # Asked for by number: say so in one line if it is taken (the server's bind would end in a
    # traceback, after moto had started).
    for flag, port in (("--port", args.port), ("--moto-port", args.moto_port)):
        if port is not None and not 1 <= port <= 65535:
            print(f"error: {flag}: {port} is not a port (1-65535)", file=sys.stderr)
            return 2
    if not args.existing and args.moto_port is not None and args.moto_port == args.port:
        print("error: --moto-port: the API and the AWS emulator need ports of their own", file=sys.stderr)
        return 2
    problem = _local_settings_problem(args.existing)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for flag, port in (("--port", args.port), ("--moto-port", None if args.existing else args.moto_port)):
        if port and free_port(port) != port:
            print(f"error: port {port} on 127.0.0.1 is in use; choose another with {flag}", file=sys.stderr)
            return 1
    try:
        if args.existing:
            stack = serve_existing(port=args.port, api_key=args.api_key)
        else:
            stack = local_up(port=args.port, api_key=args.api_key, moto_port=args.moto_port)
    except ModelBundleError as exc:
        return _unservable_model(exc)
    print(f"API:      {stack.api_url}", flush=True)
    print(f"API key:  {stack.api_key}")
    print(f"Console:  {stack.api_url}/")
    if stack.endpoint_url:
        print(f"AWS:      {stack.endpoint_url}  (moto; any credentials)")
    print(f"\nexport ANEMONEFISH_API_URL={stack.api_url} ANEMONEFISH_API_KEY={stack.api_key}")
    print("anemonefish submit recording.wav -o results/\n\nCtrl-C stops everything.", flush=True)
    try:
        _wait_for_interrupt()
    finally:
        stack.stop()
        print("stopped", file=sys.stderr)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from anemonefish_services.cli import stdout_console

    from anemonefish_services.client.api import ApiError
    from anemonefish_services.client.submit import RequestRefusedError, events_table, job_filename, submit_files

    client = api_client(args)
    if client is None:
        return 2
    folders = [str(f) for f in args.files if f.is_dir()]
    missing = [str(f) for f in args.files if not f.is_file() and not f.is_dir()]
    if folders:  # each file goes up as its own job: the files are named, as a shell glob names them
        print(f"error: a folder, not a file: {', '.join(folders)} (submit takes files: name its recordings, "
              f"e.g. {folders[0].rstrip('/')}/*.wav)", file=sys.stderr)
    if missing:
        print(f"error: not a file: {', '.join(missing)}", file=sys.stderr)
    if folders or missing:
        return 2
    from anemonefish_services.cli.detect import Input, distinct_results, naming_path

    inputs, clashes = distinct_results([Input(path, path.stem) for path in args.files])  # results: OUTDIR/<stem>.*
    for first, other in clashes:
        print(f"error: {other.source}: its results would replace those of {first.source} in {args.outdir} (both "
              f"are named {other.stem!r}); submit it with another -o", file=sys.stderr)
    if clashes:
        return 2
    files = [item.source for item in inputs]
    taken = [(path, why) for path in files if (why := replacement_refusal(
        args.outdir, path.stem, {path.name, job_filename(path)}, overwrite=args.overwrite))]
    for path, why in taken:
        print(f"error: {path}: {why}", file=sys.stderr)
    if taken:
        return 2
    try:
        params = json.loads(args.params) if args.params else None
    except json.JSONDecodeError as exc:
        print(f"error: --params is not JSON: {exc}", file=sys.stderr)
        return 2
    if params is not None and not isinstance(params, dict):
        print(f"error: --params must be a JSON object of detection parameters, e.g. '{{\"threshold\": 0.5}}', "
              f"not {args.params}", file=sys.stderr)
        return 2
    from anemonefish_services.cli.detect import unusable_outdir

    if (problem := unusable_outdir(args.outdir)) is not None:
        print(f"error: -o {args.outdir}: {problem}", file=sys.stderr)
        return 2
    console = stdout_console()
    try:
        subs = submit_files(client, files, args.outdir, params=params,
                            webhook_url=args.webhook, new=args.new, checksum=args.checksum,
                            check_target=lambda path, digest: replacement_refusal(
                                args.outdir, path.stem, {path.name, job_filename(path)},
                                overwrite=args.overwrite, sha256=digest))
    except RequestRefusedError as exc:  # the params or webhook every job would carry
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    console.print(events_table(subs))
    for sub in subs:
        where = f"-> {args.outdir}/" if sub.documents else (sub.error or "")
        console.print(f"{sub.path.name}: job {sub.job_id or '-'} {sub.status} {where}", markup=False, highlight=False,
                      soft_wrap=True)
        for warning in (sub.job.get("result") or {}).get("warnings") or []:
            print(f"warning: {naming_path(warning, sub.path)}", file=sys.stderr)
    return 0 if all(s.status == "SUCCEEDED" for s in subs) else 1


def replacement_refusal(
    outdir: Path, stem: str, recordings: set[str], *, overwrite: bool, sha256: str | None = None
) -> str | None:
    """Why the results of a recording named one of ``recordings`` (whose SHA-256 is ``sha256``,
    if known) may not go to ``outdir`` as ``<stem>.*``, or None.

    Someone's file under a result name (a Raven truth table, hand-made labels) is refused as
    ``detect`` refuses it, ``overwrite`` or not. Results of this recording (an earlier submit,
    ``jobs fetch`` or ``detect``) are a rerun's to replace; results of another recording need
    ``overwrite``. Another is one of another name, or of another SHA-256 where both are known
    (the pipeline's documents carry the one the upload was checked against)."""
    from anemonefish.formats import FORMATS, document_name, existing_documents, overlong_name, recording_name

    from anemonefish_services.cli.detect import foreign_refusal

    if why := overlong_name(stem, FORMATS):  # refused before its upload, not after its job ran
        return why
    existing = existing_documents(outdir, stem, FORMATS)
    if not existing:
        return None
    if (why := foreign_refusal(existing, overwrite=overwrite)) or overwrite:
        return why
    try:
        earlier = json.loads((outdir / document_name(stem, "json")).read_text(encoding="utf-8"))
        # By base name: a job's filename may carry a folder ("site-a/reef.wav"), kept in the document.
        name = recording_name(earlier["audio"]["filename"]).casefold()
        if name and name in {recording_name(r).casefold() for r in recordings} and "events" in earlier:
            theirs = earlier["audio"].get("sha256")
            if not (sha256 and theirs and theirs != sha256):
                return None
            return (f"{outdir / document_name(stem, 'json')} holds the results of another recording named "
                    f"{earlier['audio']['filename']} (SHA-256 {theirs[:12]}..., this one's {sha256[:12]}...); not "
                    "replacing them (another -o keeps both; --overwrite replaces them)")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return f"{existing[0]} exists; not replacing it (--overwrite replaces it)"


def _unservable_model(exc: Exception) -> int:
    print(f"error: the worker's model: {exc} (ANEMONEFISH_MODEL_DIR names it; unset, the shipped one)",
          file=sys.stderr)
    return 2


def _demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from anemonefish.exceptions import ModelBundleError

    from anemonefish_services.local.demo import run_demo

    stay = sys.stdin.isatty() if args.stay is None else args.stay
    try:
        return run_demo(args.outdir, duration_s=args.duration, stay_up=_wait_for_interrupt if stay else None)
    except ModelBundleError as exc:
        return _unservable_model(exc)
