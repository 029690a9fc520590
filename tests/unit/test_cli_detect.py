"""``anemonefish detect``: files, folders and globs; one error line per bad input; others still processed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
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
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    # a folder's sub-folders are kept below -o
    assert "one.events.json" in names and "deep/two.Table.1.selections.txt" in names and "deep/two.scores.csv" in names
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
        # Each named by its path as given: two recorders' files may share the bare name.
        assert sum(line.startswith(f"error: {tmp_path / name}: ") for line in lines) == 1, (name, lines)
    assert "5 input(s) failed, 1 processed" in err
    assert (out / "one.events.json").exists()
    assert not (out / "empty.events.json").exists()


def test_a_pipe_and_a_broken_link_in_a_folder_are_errors_not_empty_or_nothing(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A named pipe read as '0 bytes, empty'; a link to a moved file was skipped without a word."""
    import os

    folder = tmp_path / "deployment"
    folder.mkdir()
    shutil.copy(recordings / "one.wav", folder / "one.wav")
    (folder / "moved.wav").symlink_to(tmp_path / "elsewhere" / "moved.wav")
    os.mkfifo(tmp_path / "fifo.wav")
    assert main(["detect", str(folder), str(tmp_path / "fifo.wav"), "-o", str(tmp_path / "out"),
                 "--model", str(tiny_bundle), "-q"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {folder / 'moved.wav'}: No such file or directory",
                     f"error: {tmp_path / 'fifo.wav'}: not a regular file (a pipe or a device?); save the recording "
                     "to a file and analyse that"], lines
    assert (tmp_path / "out" / "one.events.json").exists()


def test_an_empty_path_is_an_error_not_the_working_folder(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`detect "$RECORDINGS"` with the variable unset passes "": Path("") is ".", and the
    recordings below the working folder were analysed instead."""
    monkeypatch.chdir(recordings)
    out = tmp_path / "out"
    assert main(["detect", "", "-o", str(out), "--model", str(tiny_bundle), "-q"]) == 1
    assert "error: '': an empty path names no recording" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_glob_and_overrides(tmp_path: Path, recordings: Path, tiny_bundle: Path) -> None:
    out = tmp_path / "out"
    code = main(["detect", str(recordings / "**" / "*.flac"), "-o", str(out), "--model", str(tiny_bundle),
                 "--threshold", "0.0", "--target-class", "noise", "--format", "json", "-q"])
    assert code == 0
    doc = json.loads((out / "deep" / "two.events.json").read_text())  # the path below the glob's folder
    assert doc["params"]["threshold"] == 0.0 and len(doc["events"]) == 1
    assert [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()] == ["deep/two.events.json"]


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
     (["--format", "json,xlsx"], "xlsx"), (["--target-class", "whale"], "whale"),
     (["--threshold", "nan"], "error: --threshold: Input should be a finite number"),
     (["--min-gap-s", "inf"], "error: --min-gap-s: Input should be a finite number")],
)
def test_bad_options_are_named(tmp_path: Path, tiny_bundle: Path, extra: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", str(tmp_path), "--model", str(tiny_bundle), *extra]) == 2
    assert message in capsys.readouterr().err


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]


def test_recordings_of_one_name_in_different_folders_keep_their_own_results(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recorders name files by date and time, so two sites' folders hold the same names."""
    site_a, site_b = tmp_path / "in" / "site-a", tmp_path / "in" / "site-b"
    site_a.mkdir(parents=True)
    site_b.mkdir()
    write_tone_wav(site_a / "20240101_000000.wav", 3.0)
    write_tone_wav(site_b / "20240101_000000.wav", 2.5)
    write_tone_wav(site_a / "20240101_000000.flac", 2.0, fmt="FLAC")  # same results name as its neighbour
    out = tmp_path / "out"
    assert main(["detect", str(tmp_path / "in"), "-o", str(out), "--model", str(tiny_bundle), "--format", "json", "-q"]) == 1
    durations = {p.relative_to(out).as_posix(): json.loads(p.read_text())["audio"]["duration_s"] for p in out.rglob("*.json")}
    # the first in name order keeps the name; the other is refused, naming both
    assert durations == {"site-a/20240101_000000.events.json": 2.0, "site-b/20240101_000000.events.json": 2.5}
    [line] = _errors(capsys)
    assert line.startswith(f"error: {site_a / '20240101_000000.wav'}: ") and "site-a/20240101_000000.flac" in line

    # Files named on the command line go to -o itself: the second of two same-named ones is refused.
    out2 = tmp_path / "out2"
    args = ["detect", str(site_a / "20240101_000000.wav"), str(site_b / "20240101_000000.wav"),
            str(site_a / "20240101_000000.wav"), "-o", str(out2), "--model", str(tiny_bundle), "--format", "json", "-q"]
    assert main(args) == 1
    assert json.loads((out2 / "20240101_000000.events.json").read_text())["audio"]["duration_s"] == 3.0
    [line] = _errors(capsys)  # the repeated file is analysed once, not refused
    assert "site-b" in line


def test_existing_files_are_not_replaced_without_overwrite(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Raven truth table has the very name detect writes its table under (Raven's own naming)."""
    recording = tmp_path / "one.wav"
    shutil.copy(recordings / "one.wav", recording)
    truth = tmp_path / "one.Table.1.selections.txt"
    truth.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\n1\tSpectrogram 1\t1\t1.0\t1.2\n")
    before = truth.read_text()
    assert main(["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path)]) == 1
    # Not detect's: the refusal does not point at --overwrite, and --overwrite does not replace it either.
    refusal = (f"error: {recording}: {truth} exists and is not recognisably detect's output (a truth table, or labels "
               "made or edited by hand?); not replacing it, even with --overwrite: write the results elsewhere with -o (or "
               "delete it, if it is an old result)")
    assert _errors(capsys) == [refusal]
    assert main(["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path), "--overwrite"]) == 1
    assert _errors(capsys) == [refusal]
    assert truth.read_text() == before
    assert not (tmp_path / "one.events.json").exists()  # nothing of that recording's set is written
    truth.unlink()
    assert main(["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path)]) == 0
    # detect's own earlier results: --overwrite is the way to replace them.
    assert main(["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path)]) == 1
    [line] = _errors(capsys)
    assert line == f"error: {recording}: {tmp_path / 'one.events.json'} exists; not replacing it (--overwrite replaces earlier results)"
    # An earlier run wrote only its JSON beside a truth table: the table is still not detect's.
    for made in tmp_path.glob("one.*"):
        if made != recording:
            made.unlink()
    truth.write_text(before)
    assert main(["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path), "--format", "json"]) == 0
    assert main(["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path)]) == 1
    [line] = _errors(capsys)
    assert line.startswith(f"error: {recording}: {truth} exists and is not recognisably detect's output")


def test_audacity_labels_are_replaced_only_when_they_are_what_detect_wrote(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Labels made (or corrected) by hand in Audacity bear the name detect gives its labels; beside
    an earlier run's JSON they were taken for its own, and --overwrite replaced them."""
    recording = tmp_path / "one.wav"
    shutil.copy(recordings / "one.wav", recording)
    run = ["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path), "--threshold", "0.01"]
    assert main([*run, "--format", "json,audacity"]) == 0
    labels = tmp_path / "one.labels.txt"
    assert labels.read_text()  # detect's own, events and all
    assert main([*run, "--format", "json,audacity", "--overwrite"]) == 0  # detect's: replaced on request
    capsys.readouterr()
    labels.write_text(labels.read_text().replace("anemonefish", "anemonefish (checked)"))  # corrected by hand
    for extra in ([], ["--overwrite"]):
        assert main([*run, "--format", "json,audacity", *extra]) == 1
        [line] = _errors(capsys)
        assert line.startswith(f"error: {recording}: {labels} exists and is not recognisably detect's output")
    assert "(checked)" in labels.read_text()
    # A person's labels beside a JSON-only run: theirs too.
    labels.write_text("1.227\t1.456\tanemonefish\n")
    assert main([*run, "--format", "json,audacity", "--overwrite"]) == 1
    assert labels.read_text() == "1.227\t1.456\tanemonefish\n"
    capsys.readouterr()
    # Labels alone (no document to tell them by): refused, but --overwrite replaces them, as
    # detect's own labels of an earlier `--format audacity` run must be replaceable.
    (tmp_path / "one.events.json").unlink()
    assert main([*run, "--format", "audacity"]) == 1
    [line] = _errors(capsys)
    assert line.startswith(f"error: {recording}: {labels} exists and cannot be told from detect's output")
    assert line.endswith("give --overwrite if it is an earlier result")
    assert main([*run, "--format", "audacity", "--overwrite"]) == 0
    assert main([*run, "--format", "audacity", "--overwrite"]) == 0


def test_skip_existing_resumes_a_run_over_a_folder(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An interrupted run over a deployment's folder is resumed, not redone (--overwrite) or
    refused file by file."""
    folder = tmp_path / "deployment"
    folder.mkdir()
    for name in ("a.wav", "b.wav", "c.wav"):
        shutil.copy(recordings / "one.wav", folder / name)
    out = tmp_path / "out"
    base = ["detect", "--model", str(tiny_bundle), "-o", str(out), "--format", "json,csv"]
    assert main([*base, str(folder / "a.wav"), "-q"]) == 0  # the run that was interrupted
    (out / "b.events.json").write_text("{}")  # only part of b's set: not an earlier run's result
    done = (out / "a.events.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main([*base, str(folder), "--skip-existing"]) == 1
    err = capsys.readouterr().err
    assert "a.wav" not in err.replace("1 recording(s) skipped", "")  # a: skipped, untouched
    assert (out / "a.events.json").stat().st_mtime_ns == done
    assert f"{folder / 'b.wav'}: {out / 'b.events.json'} exists; not replacing it" in err
    assert "1 recording(s) skipped: their results exist (--skip-existing)" in err
    assert "1 input(s) failed, 1 processed, 1 skipped" in err
    assert json.loads((out / "c.events.json").read_text())["audio"]["filename"] == "c.wav"
    with pytest.raises(SystemExit):
        main([*base, str(folder), "--skip-existing", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err
    # A Raven truth table bears the name detect gives its table: it is not a result to skip by.
    truth = folder / "a.Table.1.selections.txt"
    truth.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\n1\tSpectrogram 1\t1\t1.0\t1.2\n")
    raven = ["detect", "--model", str(tiny_bundle), "--format", "raven", "--skip-existing", str(folder / "a.wav")]
    assert main([*raven, "-o", str(folder)]) == 1
    assert f"{truth} exists and is not recognisably detect's output (a truth table" in capsys.readouterr().err
    assert main([*raven, "-o", str(out), "-q"]) == 0  # detect's own table, written now ...
    assert main([*raven, "-o", str(out)]) == 0  # ... is
    assert "1 recording(s) skipped" in capsys.readouterr().err


def test_an_unusable_output_folder_is_blamed_on_o_before_any_decoding(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("")
    args = ["detect", str(recordings / "one.wav"), str(recordings / "deep"), "--model", str(tiny_bundle), "-q"]
    assert main([*args, "-o", str(a_file)]) == 2
    assert _errors(capsys) == [f"error: -o {a_file}: exists and is not a folder"]
    assert main([*args, "-o", str(a_file / "below")]) == 2
    [line] = _errors(capsys)
    assert line.startswith(f"error: -o {a_file / 'below'}: cannot create it")


def test_names_with_brackets_are_printed_as_they_are(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rich would read "[site A]" as markup and drop it, naming a file that does not exist."""
    (tmp_path / "bad [site A].wav").write_text("not audio" * 50)
    shutil.copy(recordings / "one.wav", tmp_path / "ok [site B].wav")
    out = tmp_path / "out"
    assert main(["detect", str(tmp_path / "bad [site A].wav"), str(tmp_path / "ok [site B].wav"), "-o", str(out),
                 "--model", str(tiny_bundle), "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert f"error: {tmp_path / 'bad [site A].wav'}: not a recognised audio format" in captured.err
    assert f"{tmp_path / 'ok [site B].wav'}: " in captured.out and str(out / "ok [site B].events.json") in captured.out


def test_a_name_that_is_not_utf8_is_written_with_a_stand_in_and_the_others_still_run(
    tmp_path: Path, recordings: Path, tiny_bundle: Path
) -> None:
    """An old Latin-1 disk's 'lat\xe9.wav': the documents are UTF-8, so the name cannot go in as is
    (writing the CSV and Raven tables crashed the run, and the files after it were never analysed)."""
    import os

    latin = tmp_path / os.fsdecode(b"lat\xe9.wav")
    shutil.copy(recordings / "one.wav", latin)
    out = tmp_path / "out"
    assert main(["detect", str(latin), str(recordings / "one.wav"), "-o", str(out), "--model", str(tiny_bundle),
                 "--format", "json,csv,raven,audacity", "-q"]) == 0
    document = json.loads((out / os.fsdecode(b"lat\xe9.events.json")).read_text(encoding="utf-8"))
    assert document["audio"]["filename"] == "lat\ufffd.wav"
    raven = (out / os.fsdecode(b"lat\xe9.Table.1.selections.txt")).read_text(encoding="utf-8")
    assert "\udce9" not in raven and (out / "one.events.json").exists()


def test_folders_follow_links_once_and_skip_hidden_files(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    top = tmp_path / "deployment"
    top.mkdir()
    (top / "site").symlink_to(recordings / "deep", target_is_directory=True)  # a linked folder
    (top / "loop").symlink_to(top, target_is_directory=True)  # a link back up: visited once
    (top / "._rec.wav").write_bytes(b"\x00\x05\x16\x07" * 64)  # macOS resource fork on an SD card
    (top / ".hidden").mkdir()
    write_tone_wav(top / ".hidden" / "rec.wav", 2.0)
    out = tmp_path / "out"
    assert main(["detect", str(top), "-o", str(out), "--model", str(tiny_bundle), "--format", "json", "-q"]) == 0
    assert _errors(capsys) == []
    assert [p.relative_to(out).as_posix() for p in out.rglob("*.json")] == ["site/two.events.json"]


def test_results_are_readable_by_others(tmp_path: Path, recordings: Path, tiny_bundle: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        assert main(["detect", str(recordings / "one.wav"), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle), "-q"]) == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out").iterdir()}
    assert set(modes.values()) == {0o644}, modes


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


def test_folders_find_every_format_libsndfile_reads(tmp_path: Path, tiny_bundle: Path) -> None:
    import soundfile as sf

    from anemonefish.audio import AUDIO_SUFFIXES

    folder = tmp_path / "in"
    folder.mkdir()
    tone = np.sin(2 * np.pi * 600 * np.arange(16000 * 2) / 16000).astype(np.float32) * 0.1
    sf.write(folder / "a.opus", tone, 16000, format="OGG", subtype="OPUS")
    sf.write(folder / "b.oga", tone, 16000, format="OGG", subtype="VORBIS")
    assert {".opus", ".oga"} <= AUDIO_SUFFIXES
    out = tmp_path / "out"
    assert main(["detect", str(folder), "-o", str(out), "--model", str(tiny_bundle), "--format", "json", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.events.json", "b.events.json"]


def test_a_recording_cut_short_is_analysed_with_a_warning_and_its_document_says_so(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = write_tone_wav(tmp_path / "whole.wav", 6.0, sr=8000).read_bytes()
    cut = tmp_path / "site-a" / "half.wav"
    cut.parent.mkdir()
    cut.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out"
    assert main(["detect", str(cut), "-o", str(out), "--model", str(tiny_bundle), "-q"]) == 0  # warned even so
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {cut}: its header declares 6.0 s of audio but the file ends after 3.0 s (a truncated copy?); "
        "what is there was analysed"]
    assert main(["detect", str(cut), "-o", str(out), "--model", str(tiny_bundle), "--overwrite"]) == 0
    captured = capsys.readouterr()
    document = json.loads((out / "half.events.json").read_text())
    assert document["audio"]["declared_duration_s"] == 6.0 and document["audio"]["duration_s"] == pytest.approx(3.0, abs=0.01)
    # The summary names every document written, not only the JSON.
    assert str(out / "half.labels.txt") in captured.out and str(out / "half.events.csv") in captured.out


def test_a_recording_too_slow_for_the_models_band_is_analysed_with_a_warning(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from anemonefish.model import read_card

    fmax = read_card(tiny_bundle).frontend.fmax
    slow = write_tone_wav(tmp_path / "slow.wav", 3.0, sr=int(fmax))  # Nyquist at half the band's top
    fast = write_tone_wav(tmp_path / "fast.wav", 3.0, sr=int(4 * fmax))
    assert main(["detect", str(slow), str(fast), "-o", str(tmp_path / "out"), "--model", str(tiny_bundle), "-q"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {slow}: recorded at {int(fmax)} Hz, it holds sound up to {fmax / 2:.0f} Hz only, but the model "
        f"listens up to {fmax:.0f} Hz: calls above {fmax / 2:.0f} Hz cannot be found in it"]


def test_a_model_chosen_by_the_environment_is_named_on_stderr(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Set for the local stack, the variable also steers offline detect: the user is told.
    monkeypatch.setenv("ANEMONEFISH_MODEL_DIR", str(tiny_bundle))
    assert main(["detect", str(recordings / "one.wav"), "-o", str(tmp_path / "env")]) == 0
    assert f"model: tiny-test from ANEMONEFISH_MODEL_DIR={tiny_bundle}" in capsys.readouterr().err
    assert json.loads((tmp_path / "env" / "one.events.json").read_text())["model"]["name"] == "tiny-test"
    # Named on the command line, or quiet: nothing to point out.
    assert main(["detect", str(recordings / "one.wav"), "-o", str(tmp_path / "named"), "--model", str(tiny_bundle)]) == 0
    assert main(["detect", str(recordings / "one.wav"), "-o", str(tmp_path / "quiet"), "-q"]) == 0
    assert "ANEMONEFISH_MODEL_DIR" not in capsys.readouterr().err


def test_a_recording_whose_rate_holds_nothing_of_the_models_band_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header's absurd rate (1 Hz, 100 Hz) is not hours of silence analysed with a warning."""
    from anemonefish.model import DEFAULT_BUNDLE, read_card

    monkeypatch.delenv("ANEMONEFISH_MODEL_DIR", raising=False)
    fmin = read_card(DEFAULT_BUNDLE).frontend.fmin
    assert fmin > 0
    slow = write_tone_wav(tmp_path / "slow.wav", 30.0, sr=int(fmin))  # Nyquist at half the band's floor
    assert main(["detect", str(slow), "-o", str(tmp_path / "out"), "-q"]) == 1
    line, summary = capsys.readouterr().err.splitlines()
    assert summary == "1 input(s) failed, 0 processed"
    assert line.startswith(f"error: {slow}: recorded at {int(fmin)} Hz") and "below the model's band" in line
    assert not (tmp_path / "out" / "slow.events.json").exists()


def test_a_raven_table_or_csv_checked_by_an_analyst_is_not_replaced(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rerun (detect --overwrite, or submit's, which replaces its own results) replaced a Raven
    table whose Annotation column an analyst had checked, header unchanged as Raven saves it,
    and a CSV given a note: both still read as detect's by their header or name."""
    recording = tmp_path / "one.wav"
    shutil.copy(recordings / "one.wav", recording)
    run = ["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path), "--threshold", "0.01",
           "--format", "json,csv,raven", "--overwrite"]
    assert main(run) == 0
    assert main(run) == 0  # detect's own, unchanged: replaced on request
    table, events_csv = tmp_path / "one.Table.1.selections.txt", tmp_path / "one.events.csv"
    assert "\tanemonefish\t" in table.read_text() and "anemonefish" in events_csv.read_text()
    capsys.readouterr()
    for edited, edit in ((table, lambda text: text.replace("\tanemonefish\t", "\tfalse alarm\t", 1)),
                         (events_csv, lambda text: text + "# checked by AB, 2026-12-07\n")):
        original = edited.read_text()
        edited.write_text(edit(original))
        assert main(run) == 1
        [line] = _errors(capsys)
        assert line.startswith(f"error: {recording}: {edited} exists and is not recognisably detect's output")
        assert edited.read_text() == edit(original)
        edited.write_text(original)  # as detect wrote it: replaceable again
        assert main(run) == 0


def test_a_rerun_of_the_json_alone_rewrites_the_window_scores_beside_it(
    tmp_path: Path, recordings: Path, tiny_bundle: Path
) -> None:
    """Scores from an earlier run (another model, say) stayed beside the new JSON, and nothing
    in either file told that they no longer belonged together."""
    recording = tmp_path / "one.wav"
    shutil.copy(recordings / "one.wav", recording)
    run = ["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path), "--overwrite"]
    assert main([*run, "--format", "json,scores"]) == 0
    scores = tmp_path / "one.scores.csv"
    fresh = scores.read_text()
    scores.write_text("".join(fresh.splitlines(keepends=True)[:3]))  # an earlier, other run's
    assert main([*run, "--format", "json"]) == 0
    assert scores.read_text() == fresh


def test_a_rerun_of_part_of_the_formats_rewrites_detects_own_files_beside_the_json(
    tmp_path: Path, recordings: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format json --overwrite` at another threshold left the earlier CSV and Raven table
    beside the new JSON: they contradicted it, read as someone's edits, and the next full run
    was refused even with --overwrite. detect's own files are rewritten with the JSON now;
    edited ones are left alone (and refused as before)."""
    recording = tmp_path / "one.wav"
    shutil.copy(recordings / "one.wav", recording)
    run = ["detect", str(recording), "--model", str(tiny_bundle), "-q", "-o", str(tmp_path), "--overwrite"]
    assert main([*run, "--format", "json,csv,raven,audacity", "--threshold", "0.01"]) == 0
    before = (tmp_path / "one.events.csv").read_text()
    labels = tmp_path / "one.labels.txt"
    labels.write_text(labels.read_text() + "9.0\t9.5\tchecked by hand\n")
    assert main([*run, "--format", "json", "--threshold", "0.6"]) == 0
    events = json.loads((tmp_path / "one.events.json").read_text())["events"]
    assert (tmp_path / "one.events.csv").read_text() != before  # rewritten with the JSON...
    assert len((tmp_path / "one.events.csv").read_text().splitlines()) == len(events) + 1
    assert "checked by hand" in labels.read_text()  # ...but not someone's labels
    capsys.readouterr()
    assert main([*run, "--format", "json,csv,raven", "--threshold", "0.3"]) == 0
