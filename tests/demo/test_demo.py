"""`make demo` (``anemonefish demo``) end to end: its own local stack, a generated recording,
upload, detection, downloaded documents, a verified webhook, and a clean shutdown.

Its own folder: the demo starts (and empties) an in-process moto server, so it must not
run while the integration suite's session stack is alive."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest

from rich.console import Console


def test_demo_runs_the_whole_async_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from anemonefish_services.local.demo import run_demo

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = io.StringIO()
    code = run_demo(tmp_path / "results", duration_s=40.0, console=Console(file=out, width=200))
    text = out.getvalue()
    assert code == 0, text
    documents = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert "demo reef recording.events.json" in documents and "demo reef recording.Table.1.selections.txt" in documents
    doc = json.loads((tmp_path / "results" / "demo reef recording.events.json").read_text())
    assert doc["audio"]["duration_s"] == 40.0 and doc["job_id"]
    assert "SUCCEEDED" in text and "verified (standardwebhooks)" in text
    assert "calls planted in the recording" in text
    assert text.rstrip().endswith("local stack stopped")
    # The generated recording was scratch: nothing is left behind in the temp folder.
    assert not list(scratch.iterdir())
