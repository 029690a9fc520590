"""The model tooling commands (synth, train, model import / add-verifier) with what users get wrong:
an -o that is not theirs to replace, a DATA folder that cannot train, values no run can use.
Each gives one line naming what is wrong, exit 2, before any long work, and writes nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from anemonefish.synth import SynthConfig, synthesize, write_soundscape
from anemonefish_services.cli import main
from support import build_tiny_bundle, write_tone_wav


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _keras_model(path: Path, input_shape=(32, 25, 1), outputs=None) -> Path:
    from tensorflow import keras

    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, outputs(x) if outputs else keras.layers.Dense(3, activation="softmax")(x)).save(path)
    return path


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory) -> Path:
    return _keras_model(tmp_path_factory.mktemp("keras") / "m.keras")


def _labelled(folder: Path, count: int = 1, relabel: dict[str, str] | None = None) -> Path:
    """``count`` short labelled recordings (Raven truth tables beside them)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = SynthConfig(duration_s=6.0, sample_rate=8000, snr_db=10.0, anemonefish_per_min=30.0,
                         biological_per_min=30.0, whistles_per_min=0.0)
    for index in range(count):
        _, table = write_soundscape(synthesize(config, seed=[11, index]), folder, f"rec{index}")
        for old, new in (relabel or {}).items():
            table.write_text(table.read_text().replace(f"\t{old}\t", f"\t{new}\t"))
    return folder


def test_an_output_folder_that_is_not_a_bundle_is_never_replaced(
    tmp_path: Path, keras_file: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """These commands used to rename any existing -o aside and delete it: a thesis, the
    training data itself, the very model being imported."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("years of work")
    data = _labelled(tmp_path / "data")
    before = sorted(p.name for p in data.iterdir())
    a_file = tmp_path / "afile"
    a_file.write_text("notes")
    imported = tmp_path / "seed"
    imported.mkdir()
    model_inside = shutil.copy(keras_file, imported / "best_model.keras")
    commands = {
        "import": ["model", "import", str(keras_file), "--image-size", "32x25", "-o"],
        "import from inside -o": ["model", "import", str(model_inside), "--image-size", "32x25", "-o"],
        "train": ["train", str(data), "--epochs", "1", "--validation-soundscapes", "0", "-o"],
        "add-verifier": ["model", "add-verifier", str(tiny_bundle), str(tiny_bundle), "-o"],
    }
    for name, command in commands.items():
        target = imported if name == "import from inside -o" else mine
        assert main([*command, str(target)]) == 2, name
        assert "holds files and is not a model bundle; not replacing it" in _error(capsys), name
        assert main([*command, str(a_file)]) == 2, name
        assert "exists and is not a folder" in _error(capsys), name
    assert main(["train", str(data), "--epochs", "1", "-o", str(data)]) == 2  # -o the DATA folder itself
    assert "not a model bundle" in _error(capsys)
    assert (mine / "thesis.docx").read_text() == "years of work" and a_file.read_text() == "notes"
    assert sorted(p.name for p in data.iterdir()) == before and Path(model_inside).is_file()
    assert not list(tmp_path.glob(".*"))  # no staging or backup folder left behind


def test_a_bundle_is_replaced_only_with_overwrite_and_new_bundles_are_readable(
    tmp_path: Path, keras_file: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle"
    old = os.umask(0o022)
    try:
        assert main(["model", "import", str(keras_file), "--image-size", "32x25", "-o", str(out)]) == 0
        capsys.readouterr()
        assert main(["model", "import", str(keras_file), "--image-size", "32x25", "-o", str(out), "--version", "2"]) == 2
        assert "is a model bundle already (--overwrite replaces it)" in _error(capsys)
        assert json.loads((out / "card.json").read_text())["version"] == "1.0.0"
        assert main(["model", "import", str(keras_file), "--image-size", "32x25", "-o", str(out), "--version", "2",
                     "--overwrite"]) == 0
        assert json.loads((out / "card.json").read_text())["version"] == "2"
        # A pair may replace its own first bundle, when asked to.
        first = build_tiny_bundle(tmp_path / "first")
        assert main(["model", "add-verifier", str(first), str(tiny_bundle), "-o", str(first)]) == 2
        capsys.readouterr()
        assert main(["model", "add-verifier", str(first), str(tiny_bundle), "-o", str(first), "--overwrite"]) == 0
        assert json.loads((first / "card.json").read_text())["verifier"]["path"] == "verifier"
    finally:
        os.umask(old)
    # mkdtemp's 0700 had kept every other user (a worker, a colleague) out of a new bundle
    for folder in (out, first, first / "verifier"):
        assert folder.stat().st_mode & 0o777 == 0o755, folder
    assert not list(tmp_path.glob(".*"))


def test_train_checks_its_data_folder_before_drawing_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "rec.wav").write_bytes(b"RIFF")  # a recording, but no table beside it
    assert main(["train", str(empty), "--epochs", "1", "-o", str(tmp_path / "b")]) == 2
    assert _error(capsys).startswith(f"error: DATA: {empty}: no audio file with an annotation table")
    # Labels the model has no class for would be learnt as noise: refused, naming them.
    other = _labelled(tmp_path / "other", relabel={"anemonefish": "clownfish"})
    assert main(["train", str(other), "--epochs", "1", "--validation-soundscapes", "0", "-o", str(tmp_path / "b")]) == 2
    line = _error(capsys)
    assert "rec0.Table.1.selections.txt:2: labels ['clownfish'] are none of the model's classes" in line
    assert not (tmp_path / "b").exists()


def test_train_on_labelled_recordings_reads_labels_in_any_case_and_skips_hidden_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _labelled(tmp_path / "data", count=2, relabel={"anemonefish": "Anemonefish", "biological": "BIOLOGICAL"})
    (data / "._rec0.wav").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 200)  # macOS resource forks, not audio
    (data / "._rec0.Table.1.selections.txt").write_bytes(b"\x00\x05\x16\x07")
    (data / "unlabelled.wav").write_bytes((data / "rec0.wav").read_bytes())
    out = tmp_path / "bundle"
    assert main(["train", str(data), "--epochs", "1", "--validation-soundscapes", "0", "--width", "2",
                 "--dense-units", "4", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "1 recording(s) in" in captured.err and "unlabelled.wav" in captured.err  # progress on stderr
    assert json.loads(captured.out)["bundle"] == str(out)  # stdout is the result alone
    per_class = json.loads((out / "card.json").read_text())["training"]["windows_per_class"]
    assert per_class["anemonefish"] > 0 and per_class["biological"] > 0


def test_train_init_from_fine_tunes_a_bundle_and_refuses_what_the_bundle_fixes(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _labelled(tmp_path / "data")
    out = tmp_path / "tuned"
    base = ["train", str(data), "--init-from", str(tiny_bundle), "-o", str(out)]
    assert main([*base, "--n-fft", "64"]) == 2
    assert _error(capsys) == f"error: --n-fft: the front end and architecture are --init-from's ({tiny_bundle}); leave it out"
    assert main([*base, "--image-size", "10x10"]) == 2
    assert _error(capsys).startswith("error: --image-size: ")
    assert main(["train", str(data), "--init-from", str(tmp_path / "nothing"), "-o", str(out)]) == 2
    assert _error(capsys) == f"error: --init-from: {tmp_path / 'nothing'}: not a model bundle folder (no such folder)"
    birds = build_tiny_bundle(tmp_path / "birds", classes=("noise", "songbird"))
    assert main(["train", str(data), "--init-from", str(birds), "-o", str(out)]) == 2
    assert _error(capsys) == f"error: --init-from: {birds}: the model has no 'anemonefish' class to train"
    assert not out.exists()
    assert main([*base, "--epochs", "1", "--validation-soundscapes", "0"]) == 0
    card = json.loads((out / "card.json").read_text())
    # The fine-tuning defaults: a tenth of the rate, no mining; the front end is the bundle's.
    assert (card["training"]["spec"]["learning_rate"], card["training"]["spec"]["mining_epochs"]) == (3e-4, 0)
    # The front end is the bundle's; its other fish sounds are now timed as this training labelled them.
    start_frontend = json.loads((tiny_bundle / "card.json").read_text())["frontend"]
    assert card["frontend"] == {**start_frontend, "class_event_timing": {"biological": "overlap"}}
    assert card["training"]["started_from"]["path"] == str(tiny_bundle)


def test_train_init_from_a_pair_fine_tunes_both_networks_and_pairs_them_again(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped bundle is a pair, worth more than either network: fine-tuning it must not
    come back as its first network alone."""
    import tensorflow as tf

    from anemonefish.model import load_bundle
    from anemonefish.training.export import attach_verifier

    second = build_tiny_bundle(tmp_path / "second", seed=3)
    pair = tmp_path / "pair"
    attach_verifier(tiny_bundle, second, pair, gate=0.07, detection_defaults={"threshold": 0.33, "smoothing_windows": 2})
    data = _labelled(tmp_path / "data")
    out = tmp_path / "nested" / "tuned-pair"
    assert main(["train", str(data), "--init-from", str(pair), "--epochs", "1", "--validation-soundscapes", "0",
                 "-o", str(out)]) == 0
    tuned = load_bundle(out)
    assert tuned.card.verifier is not None and tuned.card.verifier.gate == 0.07
    assert tuned.card.detection_defaults["threshold"] == 0.33  # no validation: the start's own choice
    assert tuned.card.training["started_from"]["path"] == str(pair)
    assert tuned.card.version == "0.0.0+tuned"  # the start's version, marked
    verifier_card = json.loads((out / "verifier" / "card.json").read_text())
    assert verifier_card["training"]["started_from"]["path"] == str(pair / "verifier")
    # Each network went on from its own weights: the verifier's from the second bundle's, not the first's.
    first_kernel = lambda folder: tf.keras.models.load_model(folder / "model.keras").layers[0].get_weights()[0]  # noqa: E731
    moved = np.abs(first_kernel(out / "verifier") - first_kernel(second)).max()
    assert moved < np.abs(first_kernel(out / "verifier") - first_kernel(tiny_bundle)).max()
    assert not [p for p in (tmp_path / "nested").iterdir() if p.name != "tuned-pair"]  # no scratch left
    assert "training its first network, then its verifier" in capsys.readouterr().err
    # With validation soundscapes, the pair's defaults are chosen as the pair is served.
    from anemonefish.training.train import retune

    assert main(["train", str(data), "--init-from", str(pair), "--epochs", "1", "--validation-soundscapes", "1",
                 "-o", str(out), "--overwrite"]) == 0
    card = json.loads((out / "card.json").read_text())
    assert "validation_sweep" in card["metrics"] and card["training"]["spec"]["validation_soundscapes"] == 1
    assert card["detection_defaults"] == retune(out, log=lambda _: None)[0]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["train", "--synthetic", "--n-fft", "0"], "error: --n-fft: Input should be greater than 0"),
        (["train", "--synthetic", "--hop-length", "0"], "error: --hop-length: Input should be greater than 0"),
        (["train", "--synthetic", "--n-fft", "32", "--hop-length", "64"], "error: --n-fft 32 is shorter than --hop-length 64"),
        (["train", "--synthetic", "--seed", "-1"], "error: --seed: Input should be greater than or equal to 0"),
        (["train", "--synthetic", "--seed", "4294967296"], "error: --seed: Input should be less than or equal to 4294967295"),
        (["train", "--synthetic", "--duration", "inf"], "error: --duration: Input should be a finite number"),
        (["synth", "{out}", "--snr-db", "nan"], "error: --snr-db: Input should be a finite number"),
        (["synth", "{out}", "--seed", "-1"], "error: --seed: must be 0..4294967295"),
        (["synth", "{out}", "--prefix", "a/b"], "error: --prefix: 'a/b' must be a plain file name"),
        (["synth", "{out}", "--prefix", "a\tb"], "error: --prefix: 'a\\tb' must be a plain file name"),
        (["synth", "{out}", "--snr-db", "1e6"], "error: --snr-db: Input should be less than or equal to 60"),
        (["synth", "{file}"], "error: OUTDIR {file}: exists and is not a folder"),
        (["synth", "{file}/sub"], "error: OUTDIR {file}/sub: cannot create it"),
    ],
)
def test_values_no_run_can_use_are_named_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    places = {"out": str(tmp_path / "out"), "file": str(tmp_path / "afile")}
    (tmp_path / "afile").write_text("")
    args = [part.format(**places) for part in command]
    if args[0] == "train":
        args += ["-o", places["out"]]
    assert main(args) == 2
    assert _error(capsys).startswith(message.format(**places))
    assert not (tmp_path / "out").exists()


def test_synth_that_cannot_write_says_so_and_keeps_the_soundscapes_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk raised libsndfile's "System error." as a traceback."""
    import soundfile as sf

    from anemonefish import synth

    real_write = synth.write_recording
    calls = []

    def disk_fills_on_the_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise sf.LibsndfileError(0, prefix="System error. ")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(synth, "write_recording", disk_fills_on_the_second)
    out = tmp_path / "out"
    assert main(["synth", str(out), "--count", "3", "--duration", "2"]) == 1
    error = _error(capsys)
    assert error.startswith(f"error: {out}/soundscape_0_1.wav: cannot write it (") and "1 of 3 written" in error
    assert sorted(p.name for p in out.iterdir()) == ["soundscape_0_0.Table.1.selections.txt", "soundscape_0_0.wav"]


def test_model_import_names_its_options_and_refuses_models_it_cannot_serve(
    tmp_path: Path, keras_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tensorflow import keras

    base = ["model", "import", str(keras_file), "--image-size", "32x25", "-o", str(tmp_path / "b")]
    assert main([*base, "--threshold", "5"]) == 2
    assert _error(capsys).startswith("error: --threshold: Input should be less than or equal to 1")
    # train's name for it, and the older one.
    for hop in ("--hop-length", "--hop"):
        assert main([*base, hop, "0"]) == 2
        assert _error(capsys).startswith("error: --hop-length: Input should be greater than 0")
    assert main([*base, "--window-s", "0"]) == 2
    assert _error(capsys).startswith("error: --window-s: Input should be greater than 0")
    # Several outputs, or scores per time step rather than per window: nothing to serve.
    two = _keras_model(tmp_path / "two.keras", outputs=lambda x: [keras.layers.Dense(3)(x), keras.layers.Dense(3)(x)])
    assert main(["model", "import", str(two), "--image-size", "32x25", "-o", str(tmp_path / "b")]) == 2
    assert "expected one output of class scores" in _error(capsys)
    inputs = keras.Input((32, 25, 1))
    per_step = keras.layers.Dense(3, activation="softmax")(keras.layers.Reshape((32, 25))(inputs))
    keras.Model(inputs, per_step).save(tmp_path / "steps.keras")
    assert main(["model", "import", str(tmp_path / "steps.keras"), "--image-size", "32x25", "-o", str(tmp_path / "b")]) == 2
    assert "expected one output of class scores [batch, classes], got (None, 32, 3)" in _error(capsys)
    assert not (tmp_path / "b").exists()


def test_a_model_for_any_image_size_is_served_at_the_size_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from anemonefish.model import load_bundle

    path = _keras_model(tmp_path / "any.keras", input_shape=(None, None, 1))
    assert main(["model", "import", str(path), "-o", str(tmp_path / "b")]) == 2
    assert "give --image-size" in _error(capsys)
    assert main(["model", "import", str(path), "--image-size", "32x25", "-o", str(tmp_path / "b")]) == 0
    probabilities = load_bundle(tmp_path / "b").classifier.predict(np.zeros((2, 32, 25, 1), np.float32))
    assert probabilities.shape == (2, 3)


def test_an_imported_model_s_own_input_is_what_import_and_info_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A seed-style RGB model is served one spectrogram repeated: its input is 3 channels, not 1."""
    path = _keras_model(tmp_path / "rgb.keras", input_shape=(32, 25, 3))
    assert main(["model", "import", str(path), "--image-size", "32x25", "-o", str(tmp_path / "b")]) == 0
    shown = capsys.readouterr().out
    assert "input 32x25x3 (the spectrogram repeated as its 3 channels)" in shown
    assert main(["model", "info", str(tmp_path / "b")]) == 0
    assert "training:  imported from rgb.keras, input 32x25x3 (the spectrogram repeated" in capsys.readouterr().out


def test_bundle_folders_are_named_when_they_are_not_bundles(
    tmp_path: Path, keras_file: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = tmp_path / "rec.wav"
    _labelled(tmp_path / "d")
    shutil.copy(tmp_path / "d" / "rec0.wav", wav)
    assert main(["detect", str(wav), "--model", str(keras_file), "-o", str(tmp_path / "o")]) == 2
    assert _error(capsys) == f"error: {keras_file}: not a model bundle folder"
    assert main(["model", "retune", str(keras_file)]) == 2
    assert _error(capsys) == f"error: {keras_file}: not a model bundle folder"
    # A bad default in a card is the card's fault, not an option the user never gave.
    bundle = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    card = json.loads((bundle / "card.json").read_text())
    (bundle / "card.json").write_text(json.dumps({**card, "detection_defaults": {"threshold": 5}}))
    assert main(["detect", str(wav), "--model", str(bundle), "-o", str(tmp_path / "o")]) == 2
    assert _error(capsys).startswith(f"error: {bundle / 'card.json'}: detection_defaults.threshold: ")
    assert main(["detect", str(wav), "--model", str(bundle), "-o", str(tmp_path / "o"), "--threshold", "7"]) == 2
    assert _error(capsys).startswith("error: --threshold: ")


def test_a_verifier_that_does_not_fit_is_named_as_given(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other_rate = build_tiny_bundle(tmp_path / "other_rate", frontend={"image_height": 32, "sample_rate": 8000})
    assert main(["model", "add-verifier", str(tiny_bundle), str(other_rate), "-o", str(tmp_path / "pair")]) == 2
    assert _error(capsys).startswith(f"error: {other_rate}: the verifier's sample_rate 8000 differs")
    assert not list(tmp_path.glob(".*")) and not (tmp_path / "pair").exists()


def test_labelled_recordings_keep_a_share_of_plain_noise_as_synthetic_data_does(tmp_path: Path) -> None:
    from anemonefish.card import FrontEndConfig
    from anemonefish.training.dataset import DEFAULT_CLASSES, windows_from_recordings

    data = _labelled(tmp_path / "data", count=2)
    frontend = FrontEndConfig(n_fft=128, hop_length=64, fmin=100.0)
    every = windows_from_recordings(data, frontend, DEFAULT_CLASSES, log=lambda _: None)
    some = windows_from_recordings(data, frontend, DEFAULT_CLASSES, log=lambda _: None, keep_noise=0.3, seed=1)
    counts = np.bincount(every.labels, minlength=3), np.bincount(some.labels, minlength=3)
    assert counts[1][1:].tolist() == counts[0][1:].tolist()  # every call and fish-sound window kept
    assert 0.15 * counts[0][0] < counts[1][0] < 0.45 * counts[0][0]
    again = windows_from_recordings(data, frontend, DEFAULT_CLASSES, log=lambda _: None, keep_noise=0.3, seed=1)
    assert np.array_equal(again.images, some.images)  # the same draw for the same seed


def _raven_rows_on_channel(table: Path, channel: int) -> list[str]:
    """The table's selection rows with their Channel cell set to ``channel`` (1-based) and
    their Selection numbers made unique across channels, as Raven numbers them."""
    header, *rows = table.read_text().splitlines()
    columns = header.split("\t")
    at, number = columns.index("Channel"), columns.index("Selection")
    out = []
    for row in rows:
        cells = row.split("\t")
        cells[at] = str(channel)
        cells[number] = str(1000 * channel + int(cells[number]))
        out.append("\t".join(cells))
    return [header, *out] if channel == 1 else out


def test_a_multichannel_table_labels_each_channel_with_its_own_selections(tmp_path: Path) -> None:
    """Raven's Channel column used to be ignored: channel 2's calls were laid on channel 1's audio."""
    import soundfile as sf

    from anemonefish.card import FrontEndConfig
    from anemonefish.training.dataset import DEFAULT_CLASSES, windows_from_recordings

    mono = _labelled(tmp_path / "mono", count=2)  # rec0 and rec1: two different soundscapes
    stereo = tmp_path / "stereo"
    stereo.mkdir()
    left, sr = sf.read(mono / "rec0.wav", dtype="int32")
    right, _ = sf.read(mono / "rec1.wav", dtype="int32")
    sf.write(stereo / "both.wav", np.stack([left, right], axis=1), sr, subtype="PCM_24")
    rows = _raven_rows_on_channel(mono / "rec0.Table.1.selections.txt", 1)
    rows += _raven_rows_on_channel(mono / "rec1.Table.1.selections.txt", 2)
    (stereo / "both.Table.1.selections.txt").write_text("\n".join(rows) + "\n")

    frontend = FrontEndConfig(n_fft=128, hop_length=64, fmin=100.0)
    quiet = {"log": lambda _: None}
    both = windows_from_recordings(stereo, frontend, DEFAULT_CLASSES, **quiet)
    first = windows_from_recordings(mono, frontend, DEFAULT_CLASSES, **quiet)  # rec0 then rec1
    assert np.array_equal(both.labels, first.labels)
    assert np.array_equal(both.images, first.images)
    assert len(set(both.soundscape.tolist())) == 1  # one recording: its channels stay on one side of a split

    # A selection on a channel the file does not have is named, not trained on silence.
    (stereo / "both.Table.1.selections.txt").write_text("\n".join([*rows, *_raven_rows_on_channel(mono / "rec1.Table.1.selections.txt", 3)]) + "\n")
    from anemonefish.exceptions import AnnotationFormatError

    with pytest.raises(AnnotationFormatError, match=r"a selection on channel 3, but both.wav has 2 channel"):
        windows_from_recordings(stereo, frontend, DEFAULT_CLASSES, **quiet)


def test_one_table_beside_two_recordings_of_one_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rec0.wav and rec0.flac both took rec0's table: its calls were learnt twice."""
    import soundfile as sf

    data = _labelled(tmp_path / "data")
    signal, sr = sf.read(data / "rec0.wav")
    sf.write(data / "rec0.flac", signal, sr)
    assert main(["train", str(data), "--epochs", "1", "-o", str(tmp_path / "b")]) == 2
    line = _error(capsys)
    assert "rec0.Table.1.selections.txt: names both rec0.flac and rec0.wav" in line
    assert not (tmp_path / "b").exists()


def test_model_import_refuses_an_output_folder_before_loading_tensorflow(tmp_path: Path) -> None:
    """-o is checked before any work: TensorFlow's import alone takes seconds."""
    import subprocess
    import sys

    (tmp_path / "model.keras").write_bytes(b"not read")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("not a bundle")
    script = ("import sys; from anemonefish_services.cli import main; "
              f"code = main(['model', 'import', {str(tmp_path / 'model.keras')!r}, '-o', {str(tmp_path / 'taken')!r}]); "
              "print(code, 'tensorflow' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["2", "False"], run.stderr
    assert str(tmp_path / "taken") in run.stderr


def test_model_info_says_which_bundle_would_serve_and_what_it_is(
    tmp_path: Path, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from anemonefish.model import DEFAULT_BUNDLE

    monkeypatch.delenv("ANEMONEFISH_MODEL_DIR", raising=False)
    assert main(["model", "info"]) == 0
    shipped = capsys.readouterr().out
    card = json.loads((DEFAULT_BUNDLE / "card.json").read_text())
    assert f"{DEFAULT_BUNDLE} (the shipped pair)" in shipped
    assert f"threshold {card['detection_defaults']['threshold']}" in shipped
    assert "verifier:  verifier/" in shipped and "biological: overlap" in shipped
    assert f"event_f1_snr_-6dB: {card['metrics']['event_f1_snr_-6dB']:.3f}" in shipped

    monkeypatch.setenv("ANEMONEFISH_MODEL_DIR", str(tiny_bundle))
    assert main(["model", "info", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["path"] == str(tiny_bundle) and document["card"]["name"] == "tiny-test"
    assert "verifier_card" not in document
    assert main(["model", "info"]) == 0
    assert "(ANEMONEFISH_MODEL_DIR)" in capsys.readouterr().out

    assert main(["model", "info", str(tmp_path)]) == 2
    assert str(tmp_path) in _error(capsys)


def test_mining_without_synthetic_soundscapes_is_said_not_to_happen_and_not_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hard negatives come from the synthetic soundscapes: on DATA alone none are mined, and the
    card must not say so. Not refused: older cards' reproduce lines name it without --synthetic."""
    from anemonefish_services.cli import build_parser
    from anemonefish_services.cli.modeling import train_spec_from_args

    data = _labelled(tmp_path / "data")
    out = tmp_path / "b"
    assert main(["train", str(data), "--mining-epochs", "3", "--epochs", "1", "--validation-soundscapes", "0",
                 "--width", "2", "--dense-units", "4", "-o", str(out)]) == 0
    assert "warning: --mining-epochs: hard negatives are mined from the synthetic soundscapes" in capsys.readouterr().err
    card = json.loads((out / "card.json").read_text())
    assert card["training"]["spec"]["mining_epochs"] == 0 and "--mining-epochs 0" in card["training"]["reproduce"]
    assert train_spec_from_args(build_parser().parse_args(["train", str(data), "-o", "b"])).mining_epochs == 0
    assert train_spec_from_args(build_parser().parse_args(["train", "--synthetic", "-o", "b"])).mining_epochs == 4


def test_synth_help_states_the_generators_own_defaults() -> None:
    """synth's help quoted training's rates once (8-24 a minute) where synth draws 6."""
    from anemonefish_services.cli.modeling import SYNTH_HELP_DEFAULTS

    defaults = SynthConfig()
    assert SYNTH_HELP_DEFAULTS == {field: getattr(defaults, field) for field in SYNTH_HELP_DEFAULTS}


def test_the_shipped_bundle_is_named_shipped_and_never_rewritten_in_the_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from anemonefish.model import DEFAULT_BUNDLE, read_card

    before = (DEFAULT_BUNDLE / "card.json").read_bytes()
    assert main(["model", "retune", "shipped", "--write"]) == 2
    assert "error: --write: the shipped bundle is part of the installed package" in _error(capsys)
    assert main(["model", "retune", str(DEFAULT_BUNDLE), "--write"]) == 2  # by its path too
    capsys.readouterr()
    assert (DEFAULT_BUNDLE / "card.json").read_bytes() == before
    monkeypatch.setenv("ANEMONEFISH_MODEL_DIR", "/elsewhere")
    assert main(["model", "info", "shipped"]) == 0
    assert f"bundle:    {DEFAULT_BUNDLE} (the shipped pair)" in capsys.readouterr().out
    # The name holds wherever a bundle folder is taken, whatever ANEMONEFISH_MODEL_DIR says.
    assert main(["model", "add-verifier", "shipped", "shipped", "-o", str(tmp_path / "pair")]) == 2
    assert _error(capsys) == f"error: {DEFAULT_BUNDLE}: already has a verifier"
    recording = write_tone_wav(tmp_path / "tone.wav", 2.0)
    assert main(["detect", str(recording), "--model", "shipped", "-o", str(tmp_path / "out"), "-q"]) == 0
    assert json.loads((tmp_path / "out" / "tone.events.json").read_text())["model"]["name"] == read_card(DEFAULT_BUNDLE).name
    # A folder of the user's own named shipped is theirs, not swapped for the package's.
    from anemonefish.model import bundle_path

    monkeypatch.chdir(tmp_path)
    assert bundle_path("shipped") == DEFAULT_BUNDLE
    (tmp_path / "shipped").mkdir()
    assert bundle_path("shipped") == Path("shipped") and bundle_path(Path("./shipped")) == Path("shipped")
