"""Headless Chromium (Debian's package, driven by playwright) against the local stack."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO / "test-output" / "browser"
CHROMIUM = os.environ.get("ANEMONEFISH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

MIB = 1024 * 1024
# Small enough that a few-MB recording goes multipart in several parts.
MULTIPART_THRESHOLD_BYTES = 1 * MIB
PART_BYTES = 1 * MIB
MAX_UPLOAD_BYTES = 12 * MIB
API_KEY = "console-test-key"


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
    base_url: str
    api_key: str
    max_upload_bytes: int


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the local stack exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the local stack did not answer at {url} in {timeout_s} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = OUTPUT_DIR / "stack.log"
    # TEMPORARY: the fake API until the real local stack lands.
    cmd = [sys.executable, str(Path(__file__).parent / "fake_api.py"), str(port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                                start_new_session=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/", proc, log)
        yield Stack(base_url=f"http://127.0.0.1:{port}", api_key="good-key", max_upload_bytes=50 * MIB)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
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
    # A reload mid-upload asks "leave the page?": the tests mean to leave.
    page.on("dialog", lambda d: d.accept())
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
        tmp = path.with_suffix(".part")
        sf.write(tmp, scape.signal, scape.sample_rate, subtype="PCM_16", format="WAV")
        tmp.replace(path)
    assert path.stat().st_size > 4 * PART_BYTES
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
