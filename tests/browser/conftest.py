"""Headless Chromium (Debian's package, driven by playwright) against the local stack."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO / "test-output" / "browser"
CHROMIUM = os.environ.get("ANEMONEFISH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

MIB = 1024 * 1024
API_KEY = "console-test-key"
# Each test has a key, so a tenant, of its own: the console names a file's job by its contents
# and settings (Idempotency-Key), and the tests send the same recordings to one stack.
TEST_KEYS = {f"{API_KEY}-{i:03d}": f"console-test-{i:03d}" for i in range(400)}
_unused_keys = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Stack:
    base_url: str  # the API, which also serves the console at /
    api_key: str
    max_upload_bytes: int


def _model_available() -> bool:
    from anemonefish.model import DEFAULT_BUNDLE

    bundle = Path(os.environ.get("ANEMONEFISH_MODEL_DIR") or DEFAULT_BUNDLE)
    return (bundle / "card.json").is_file()


def _wait_ready(ready_file: Path, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> dict:
    """What the stack wrote to ``ready_file`` once it serves."""
    deadline = time.monotonic() + timeout_s
    while not ready_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the local stack exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the local stack did not start in {timeout_s} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    return json.loads(ready_file.read_text())


@pytest.fixture
def stack(stack_server: Stack) -> Stack:
    """The stack, with an API key (a tenant) of this test's own."""
    return replace(stack_server, api_key=list(TEST_KEYS)[next(_unused_keys)])


@pytest.fixture(scope="session")
def stack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The real local stack in its own process: moto server over HTTP, the API handler, the
    worker with the shipped model. The console is served at / by the same HTTP front."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    log = OUTPUT_DIR / "stack.log"
    ready_file = tmp_path_factory.mktemp("stack") / "ready.json"  # per session: runs may overlap
    cmd = [sys.executable, str(Path(__file__).parent / "serve_stack.py"), str(free_port()), API_KEY, str(ready_file)]
    # A clean configuration: other tests' in-process stacks leave ANEMONEFISH_* settings (API
    # keys, endpoints) in os.environ. Only the choice of model carries over.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANEMONEFISH_") or k == "ANEMONEFISH_MODEL_DIR"}
    # moto's server adds permissive CORS headers to every answer unless told not to; without
    # them the page works only if the buckets' own CORS rules (resources.py) are right.
    env.update(PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1", MOTO_DISABLE_GLOBAL_CORS="true",
               ANEMONEFISH_API_KEYS=json.dumps(TEST_KEYS))
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                start_new_session=True)
    try:
        ready = _wait_ready(ready_file, proc, log)
        requests.get(ready["api_url"] + "/health", timeout=10).raise_for_status()
        yield Stack(base_url=ready["api_url"], api_key=API_KEY, max_upload_bytes=ready["max_upload_bytes"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def model() -> None:
    """Tests that wait for detection need a model bundle (the worker loads it per job)."""
    if not _model_available():
        pytest.fail("no model bundle (shared/anemonefish/models/default or ANEMONEFISH_MODEL_DIR)")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    # A reload mid-upload asks "leave the page?": the tests mean to leave. A confirm (cancel,
    # discard) is each test's to answer.
    page.on("dialog", lambda d: d.accept() if d.type == "beforeunload" else None)
    yield page
    name = request.node.name
    (OUTPUT_DIR / f"{name}.console.log").write_text("\n".join(messages))
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        page.screenshot(path=str(OUTPUT_DIR / f"{name}.failed.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def recording() -> Path:
    """A synthetic reef recording with anemonefish calls, a few MB (several upload parts)."""
    import soundfile as sf
    from anemonefish.synth import SynthConfig, synthesize

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUTPUT_DIR / "reef-console.wav"
    if not path.exists():
        scape = synthesize(SynthConfig(duration_s=60.0, sample_rate=48000, snr_db=15.0,
                                       anemonefish_per_min=12.0, boat_probability=0.0), seed=7)
        tmp = path.with_suffix(f".{os.getpid()}.part")  # another run may be writing it too
        sf.write(tmp, scape.signal, scape.sample_rate, subtype="PCM_16", format="WAV")
        tmp.replace(path)
    assert path.stat().st_size > 4 * MIB  # several 1 MiB parts (serve_stack.py)
    return path


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under test-output/browser/; with
    ANEMONEFISH_UPDATE_SCREENSHOT=1 (`make console-screenshot`) also as docs/console.png,
    the README's picture of the console."""

    def take(name: str, *, for_docs: bool = False) -> Path:
        shot = OUTPUT_DIR / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        if for_docs and os.environ.get("ANEMONEFISH_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, REPO / "docs" / "console.png")
        return shot

    return take
