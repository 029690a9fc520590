"""``anemonefish jobs``: paging through the key's jobs, and the listing on a narrow terminal
(the commands against a live API are in tests/integration/test_pipeline_jobs_cli.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from anemonefish_services.client.jobs import recent_jobs


class _PagedApi:
    """The API's GET /jobs: pages of at most ``limit``, a token while more remain."""

    def __init__(self, total: int) -> None:
        self.jobs = [{"job_id": f"job-{i:03d}"} for i in range(total)]
        self.asked: list[tuple[int, str | None]] = []

    def list_jobs(self, limit: int = 20, next_token: str | None = None) -> dict[str, Any]:
        assert 1 <= limit <= 100, "the API refuses a page over 100"
        self.asked.append((limit, next_token))
        start = int(next_token or 0)
        end = start + limit
        return {"jobs": self.jobs[start:end], "next_token": str(end) if end < len(self.jobs) else None}


@pytest.mark.parametrize(("total", "limit", "pages"), [(250, 230, [(100, None), (100, "100"), (30, "200")]),
                                                       (5, 20, [(20, None)]), (100, 100, [(100, None)])])
def test_recent_jobs_pages_until_the_limit_or_the_last_page(total: int, limit: int, pages: list) -> None:
    api = _PagedApi(total)
    jobs = recent_jobs(api, limit)  # type: ignore[arg-type]
    assert [j["job_id"] for j in jobs] == [j["job_id"] for j in api.jobs[:limit]]
    assert api.asked == pages


def test_on_a_terminal_each_job_is_two_lines_that_fit_with_nothing_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import rich.console

    from anemonefish_services.cli import jobs as jobs_cli

    job = {"job_id": "0b6c2f7e-3a43-4a8e-9a55-1c6f1f0d7e21", "created_at": "2026-12-07T06:00:00.123456Z",
           "status": "AWAITING_UPLOAD", "filename": "a rather long recording name from site B.wav"}
    monkeypatch.setattr(jobs_cli, "api_client", lambda args: object())
    monkeypatch.setattr("anemonefish_services.client.jobs.recent_jobs", lambda client, limit: [job] * 2)
    screen = io.StringIO()
    real_console = rich.console.Console
    monkeypatch.setattr(rich.console, "Console", lambda **kwargs: real_console(file=screen, width=80, **kwargs))
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert jobs_cli._list(argparse.Namespace(limit=2, json=False, api="http://api", api_key="k")) == 0
    lines = screen.getvalue().splitlines()
    # Two lines a job, none wider than the terminal, nothing cut: id and state, then time and file.
    assert lines == [f"{job['job_id']}  AWAITING_UPLOAD", f"    2026-12-07 06:00 UTC  {job['filename']}"] * 2


def test_results_are_downloaded_all_or_none(tmp_path, monkeypatch):
    """A download that failed half way left a new JSON beside the earlier run's CSV: the pair then
    read as someone's edited files, and every later fetch (with --overwrite too) was refused."""
    from anemonefish_services.client import jobs

    out = tmp_path / "out"
    out.mkdir()
    (out / "reef.events.csv").write_text("earlier\n")

    def download(url, path):  # noqa: ANN001
        if url.endswith("csv"):
            raise OSError("connection reset")
        path.write_text(url)

    monkeypatch.setattr(jobs, "_download", download)
    job = {"result": {"links": {"json": "https://s3/json", "csv": "https://s3/csv", "scores": "https://s3/scores"}}}
    with pytest.raises(OSError, match="connection reset"):
        jobs.download_results(job, "reef", out)
    assert sorted(p.name for p in out.iterdir()) == ["reef.events.csv"]  # nothing new, no temp file left
    assert (out / "reef.events.csv").read_text() == "earlier\n"
    monkeypatch.setattr(jobs, "_download", lambda url, path: path.write_text(url))
    saved = jobs.download_results(job, "reef", out)
    assert {fmt: path.read_text() for fmt, path in saved.items()} == {f: f"https://s3/{f}" for f in ("json", "csv", "scores")}
    assert sorted(p.name for p in out.iterdir()) == ["reef.events.csv", "reef.events.json", "reef.scores.csv"]


@pytest.mark.parametrize(("argv", "api", "key"), [
    (["jobs", "--api", "http://group:1", "--api-key", "g", "list"], "http://group:1", "g"),  # as `aws --region R s3 ls`
    (["jobs", "list", "--api", "http://sub:2", "--api-key", "s"], "http://sub:2", "s"),
    (["jobs", "--api", "http://group:1", "show", "J", "--api", "http://sub:2"], "http://sub:2", "from-env"),
    (["jobs", "cancel", "J"], "http://env:3", "from-env"),
])
def test_jobs_takes_the_api_options_before_or_after_its_subcommand(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], api: str, key: str
) -> None:
    """`jobs --api URL list` was refused ("invalid choice: 'URL'"), and a subcommand's defaults
    would overwrite what was given before it."""
    from anemonefish_services.cli import build_parser

    monkeypatch.setenv("ANEMONEFISH_API_URL", "http://env:3")
    monkeypatch.setenv("ANEMONEFISH_API_KEY", "from-env")
    args = build_parser().parse_args(argv)
    assert (args.api, args.api_key) == (api, key)


@pytest.mark.parametrize(("argv", "prog"), [
    (["detect", "x.wav", "--bogus"], "anemonefish detect"),
    (["jobs", "fetch", "J", "--bogus"], "anemonefish jobs fetch"),
    (["local", "up", "--bogus"], "anemonefish local up"),
    (["--bogus", "jobs", "list"], "anemonefish"),  # given before any subcommand
    (["jobs", "--bogus", "list"], "anemonefish jobs"),
])
def test_an_unknown_option_is_told_by_its_subcommand_with_its_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], prog: str
) -> None:
    """The top-level parser said "anemonefish: error: unrecognized arguments" under its own
    usage, which lists no subcommand's options."""
    from anemonefish_services.cli import main

    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"{prog}: error: unrecognized arguments: --bogus"
    assert err.startswith(f"usage: {prog} ")


def test_a_redirecting_api_gets_no_key_sent_on_and_the_command_says_where_it_pointed(
    capsys: pytest.CaptureFixture[str]
) -> None:
    """requests drops Authorization on a redirect to another host, not x-api-key: an API
    answering 301 handed the key to wherever it pointed."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from anemonefish_services.cli import main

    seen: list[str | None] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.headers.get("x-api-key"))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"jobs": []}')

        def log_message(self, *args: object) -> None:
            pass

    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    target = f"http://localhost:{elsewhere.server_address[1]}"

    class Redirecting(Elsewhere):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(301)
            self.send_header("Location", target + self.path)
            self.end_headers()

    api = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    servers = [elsewhere, api]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = main(["jobs", "list", "--api", f"http://127.0.0.1:{api.server_address[1]}", "--api-key", "k1-secret"])
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert code == 1 and seen == []
    err = capsys.readouterr().err
    assert f"answered 301, a redirect to {target}/jobs" in err and "the key was not sent there" in err


@pytest.mark.parametrize(("api", "warned"), [("http://api.example.org", True), ("https://api.example.org", False),
                                              ("http://127.0.0.1:8080", False), ("http://localhost:8080", False),
                                              ("http://127.0.0.2:8080", False), ("http://localhost.:8080", False),
                                              ("http://[::1]:8080", False), ("http://10.0.0.5:8080", True)])
def test_a_plain_http_api_beyond_this_machine_is_warned_of(capsys: pytest.CaptureFixture[str], api: str, warned: bool) -> None:
    import argparse

    from anemonefish_services.cli.pipeline import api_client

    assert api_client(argparse.Namespace(api=api, api_key="k")) is not None
    assert ("the API key crosses the network unencrypted" in capsys.readouterr().err) is warned
