"""``anemonefish detect``: files, folders and globs; one error line per bad input; others still processed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from anemonefish_services.cli import main
from support import write_tone_wav


@pytest.fixture()
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    (folder / "deep").mkdir(parents=True)
    write_tone_wav(folder / "one.wav", 3.0)
    write_tone_wav(folder / "deep" / "two.flac", 2.5, fmt="FLAC")
    (folder / "readme.txt").write_text("not audio, and not picked up by folder expansion")
    return folder


def test_folder_is_searched_recursively_and_all_formats_written(tmp_path: Path, recordings: Path, tiny_bundle: Path) -> None:
    out = tmp_path / "out"
    code = main(["detect", str(recordings), "-o", str(out), "--model", str(tiny_bundle), "--format", "json,csv,raven,audacity,scores", "-q"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert "one.events.json" in names and "two.Table.1.selections.txt" in names and "two.scores.csv" in names
    doc = json.loads((out / "one.events.json").read_text())
    assert doc["audio"]["filename"] == "one.wav" and doc["model"]["name"] == "tiny-test"


def test_bad_inputs_each_get_one_error_line_and_the_rest_is_processed(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notaudio.wav").write_text("hello" * 100)
    write_tone_wav(tmp_path / "short.wav", 0.3)
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + b"\x00" * 200)
    out = tmp_path / "out"
    args = ["detect", str(tmp_path / "empty.wav"), str(tmp_path / "notaudio.wav"), str(tmp_path / "short.wav"),
            str(corrupt), str(tmp_path / "missing.wav"), str(recordings / "one.wav"), "-o", str(out),
            "--model", str(tiny_bundle), "-q"]
    assert main(args) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 5, err
    for name in ("empty.wav", "notaudio.wav", "short.wav", "corrupt.flac", "missing.wav"):
        assert sum(name in line for line in lines) == 1, (name, lines)
    assert "5 input(s) failed, 1 processed" in err
    assert (out / "one.events.json").exists()
    assert not (out / "empty.events.json").exists()


def test_glob_and_overrides(tmp_path: Path, recordings: Path, tiny_bundle: Path) -> None:
    out = tmp_path / "out"
    code = main(["detect", str(recordings / "**" / "*.flac"), "-o", str(out), "--model", str(tiny_bundle),
                 "--threshold", "0.0", "--target-class", "noise", "--format", "json", "-q"])
    assert code == 0
    doc = json.loads((out / "two.events.json").read_text())
    assert doc["params"]["threshold"] == 0.0 and len(doc["events"]) == 1
    assert [p.name for p in out.iterdir()] == ["two.events.json"]


def test_peak_threshold_can_be_set_and_switched_off(tmp_path: Path, recordings: Path, tiny_bundle: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)  # the fixture is shared: change a copy
    card_path = bundle / "card.json"
    card = json.loads(card_path.read_text())
    card["detection_defaults"] = {**card.get("detection_defaults", {}), "peak_threshold": 0.97}
    card_path.write_text(json.dumps(card))
    runs = {"default": [], "set": ["--peak-threshold", "0.9"], "off": ["--peak-threshold", "off"]}
    seen = {}
    for name, extra in runs.items():
        out = tmp_path / name
        assert main(["detect", str(recordings / "one.wav"), "-o", str(out), "--model", str(bundle),
                     "--format", "json", "-q", *extra]) == 0
        seen[name] = json.loads((out / "one.events.json").read_text())["params"]["peak_threshold"]
    assert seen == {"default": 0.97, "set": 0.9, "off": None}


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--threshold", "2"], "--threshold"), (["--peak-threshold", "2"], "--peak-threshold"),
     (["--format", "json,xlsx"], "xlsx"), (["--target-class", "whale"], "whale")],
)
def test_bad_options_are_named(tmp_path: Path, tiny_bundle: Path, extra: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", str(tmp_path), "--model", str(tiny_bundle), *extra]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("preset", [None, "2"])
def test_the_command_keeps_numpys_blas_to_one_thread_unless_told_otherwise(preset: str | None) -> None:
    """BLAS threads would compete with LiteRT's for the cores (the hour's detect took 3.5-4.2 s
    with them, 2.6 s without), so the command sets this itself, before numpy loads OpenBLAS."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    probe = ("import anemonefish_services.cli, numpy; from threadpoolctl import threadpool_info; "
             "print([i['num_threads'] for i in threadpool_info() if i['internal_api'] == 'openblas'])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ("[1]" if preset is None else f"[{preset}]")  # the user's own value wins
