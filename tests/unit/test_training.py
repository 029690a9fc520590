"""Training data, labels, reproducible fitting, LiteRT export, bundles and Keras import (tiny)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from anemonefish.card import FrontEndConfig  # noqa: E402
from anemonefish.events import Event, onset_zone  # noqa: E402
from anemonefish.exceptions import AnnotationFormatError, ModelBundleError  # noqa: E402
from anemonefish.synth import SynthEvent  # noqa: E402
from anemonefish.training.dataset import (  # noqa: E402
    DEFAULT_CLASSES,
    DatasetSpec,
    build_windows,
    build_windows_and_spare_noise,
    window_labels,
)
from anemonefish.training.train import TrainSpec, frontend_for  # noqa: E402

FRONTEND = frontend_for(TrainSpec())
SHAPE = (TrainSpec().image_height, TrainSpec().image_width)
TINY_DATA = DatasetSpec(seed=3, soundscapes=2, duration_s=8.0, sample_rates=(8000, 16000), anemonefish_per_min=(30.0, 40.0), keep_noise=0.5)


def call(start: float, label: str = "anemonefish", f0: float = 500.0) -> SynthEvent:
    return SynthEvent(start=start, end=start + 0.1, label=label, kind="pop", snr_db=0.0, f0=f0)


def test_a_window_is_anemonefish_when_a_call_starts_in_its_onset_zone():
    lo, hi = onset_zone(FRONTEND)
    assert (round(lo, 6), round(hi, 6)) == (0.15, 0.55)  # 1 s windows, 0.2 s stride
    starts = np.round(np.arange(0, 6, 0.2), 6)
    labels, weights = window_labels([call(3.05)], starts, FRONTEND, DEFAULT_CLASSES, ignore_s=0.04)
    fish = {round(s, 1) for s, y in zip(starts, labels) if y == 1}
    assert fish == {2.6, 2.8}  # onsets 0.45 and 0.25 s into the window
    assert np.all(weights == 1.0)  # no onset near a zone edge
    labels, weights = window_labels([call(3.13)], starts, FRONTEND, DEFAULT_CLASSES, ignore_s=0.04)
    index = {round(s, 1): i for i, s in enumerate(starts)}
    assert weights[index[2.6]] == 0.0 and weights[index[3.0]] == 0.0  # onsets 0.53 / 0.13: zone edges
    assert labels[index[2.8]] == 1 and weights[index[2.8]] == 1.0
    # a window holding the call away from its onset zone is not anemonefish
    assert labels[list(starts).index(2.0)] == 0


def test_biological_sounds_label_windows_only_if_the_front_end_sees_them():
    starts = np.array([0.0, 2.0, 4.0])
    events = [call(0.3, "biological", 200.0), call(2.3, "biological", 5000.0), Event(start=4.2, end=4.5, label="biological")]
    labels, _ = window_labels(events, starts, FRONTEND, DEFAULT_CLASSES)
    assert labels.tolist() == [2, 0, 2]  # a whistle above fmax is noise to the model


@pytest.mark.parametrize("length_s", [0.12, 0.3, 0.7, 1.6])
@pytest.mark.parametrize("offset_s", [0.0, 0.05, 0.1, 0.15])
def test_fish_sounds_as_labelled_come_back_as_events_at_their_place(length_s: float, offset_s: float):
    """Windows labelled 'biological' as training labels them, read back by the events' timing
    for that class, give an event at the sound: the two halves agree on what a window means."""
    from anemonefish.events import scores_to_events
    from anemonefish.params import DetectionParams

    frontend = frontend_for(TrainSpec())
    assert frontend.timing_for("biological") == "overlap" and frontend.timing_for("anemonefish") == "centre"
    sound = Event(start=5.0 + offset_s, end=5.0 + offset_s + length_s, label="biological")
    starts = np.round(np.arange(0, 12, frontend.stride_s), 6)
    labels, _ = window_labels([sound], starts, frontend, DEFAULT_CLASSES)
    scores = np.eye(3, dtype=np.float32)[labels]
    params = DetectionParams(target_class="biological", smoothing_windows=1, peak_threshold=None)
    (event,) = scores_to_events(scores, DEFAULT_CLASSES, frontend, params)
    assert abs(event.start - sound.start) <= frontend.stride_s / 2 + 1e-6  # within the grid's resolution
    assert abs(event.end - sound.end) <= frontend.stride_s / 2 + 1e-6 or length_s < frontend.stride_s
    assert event.start < sound.end and event.end > sound.start


@pytest.mark.parametrize(("sound", "duration"), [((0.0, 0.3), 10.0), ((0.0, 1.5), 10.0), ((0.3, 0.6), 10.0),
                                                ((9.7, 10.0), 10.0), ((8.5, 10.0), 10.0)])
def test_fish_sounds_at_the_recordings_edges_come_back_as_events_over_them(sound, duration):
    """The first and last windows also hold what the recording's edges cut: their events reach the edges."""
    from anemonefish.events import scores_to_events
    from anemonefish.params import DetectionParams

    frontend = frontend_for(TrainSpec())
    truth = Event(start=sound[0], end=sound[1], label="biological")
    starts = np.round(np.arange(0, duration - frontend.window_s + 1e-9, frontend.stride_s), 6)
    labels, _ = window_labels([truth], starts, frontend, DEFAULT_CLASSES)
    scores = np.eye(3, dtype=np.float32)[labels]
    params = DetectionParams(target_class="biological", smoothing_windows=1, peak_threshold=None)
    (event,) = scores_to_events(scores, DEFAULT_CLASSES, frontend, params, duration)
    assert event.start <= truth.start + frontend.stride_s / 2 and event.end >= truth.end - frontend.stride_s / 2
    if truth.start >= frontend.window_s:  # past the first window, which cannot tell where in it a sound began
        assert abs(event.start - truth.start) <= 0.2  # the onset collar


@pytest.mark.parametrize("timing", ["containment", "overlap"])
def test_calls_are_labelled_as_the_front_ends_timing_reads_them(timing):
    """A fine-tuned imported model keeps its timing: its windows are labelled by it, or its
    events would be placed by a rule its training did not follow."""
    from anemonefish.events import scores_to_events
    from anemonefish.params import DetectionParams

    frontend = frontend_for(TrainSpec()).model_copy(update={"event_timing": timing})
    pop = Event(start=5.0, end=5.1, label="anemonefish")
    starts = np.round(np.arange(0, 12, frontend.stride_s), 6)
    labels, weights = window_labels([pop], starts, frontend, DEFAULT_CLASSES)
    scores = np.eye(3, dtype=np.float32)[np.where(weights > 0, labels, 0)]
    (event,) = scores_to_events(scores, DEFAULT_CLASSES, frontend, DetectionParams(smoothing_windows=1, peak_threshold=None))
    assert event.start < pop.end and event.end > pop.start and abs(event.start - pop.start) <= 0.2


def test_cards_trained_before_fish_sounds_had_their_own_timing_get_it_when_read():
    """A bundle `anemonefish train` wrote earlier labelled other fish sounds by overlap too."""
    from anemonefish.card import ModelCard
    from anemonefish.model import DEFAULT_BUNDLE

    card = json.loads((DEFAULT_BUNDLE / "card.json").read_text())
    del card["frontend"]["class_event_timing"]
    assert ModelCard.model_validate_json(json.dumps(card)).frontend.timing_for("biological") == "overlap"
    imported = {**card, "training": {"imported_from": "best_model.keras"}}  # not ours: its timing is its own
    assert ModelCard.model_validate_json(json.dumps(imported)).frontend.timing_for("biological") == "centre"


@pytest.mark.parametrize("chirp_fraction", [0.0, 1.0])
def test_chirp_fraction_decides_which_calls_the_soundscapes_hold(chirp_fraction):
    from anemonefish.synth import synthesize
    from anemonefish.training.dataset import soundscape_config

    spec = DatasetSpec(seed=2, duration_s=60.0, chirp_fraction=chirp_fraction)
    scape = synthesize(soundscape_config(spec, np.random.default_rng(0)), seed=0)
    kinds = {e.kind for e in scape.events if e.label == "anemonefish"}
    assert kinds == ({"pop"} if chirp_fraction == 0.0 else {"chirp"})


def test_dataset_goes_through_the_detector_front_end_and_is_deterministic():
    a = build_windows(TINY_DATA, FRONTEND)
    b = build_windows(TINY_DATA, FRONTEND)
    assert a.images.shape[1:] == (*SHAPE, 1)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    counts = np.bincount(a.labels, minlength=3)
    assert counts[1] > 0 and counts[0] > 0
    # standardised per window, as the detector does
    assert np.allclose(a.images.reshape(len(a), -1).mean(axis=1), 0, atol=1e-4)


def test_spare_noise_is_the_plain_noise_the_random_share_left_out():
    kept, spare = build_windows_and_spare_noise(TINY_DATA, FRONTEND)
    assert np.array_equal(kept.images, build_windows(TINY_DATA, FRONTEND).images)
    assert len(build_windows_and_spare_noise(TINY_DATA, FRONTEND, keep_spare=False)[1]) == 0
    everything = build_windows(TINY_DATA.model_copy(update={"keep_noise": 1.0}), FRONTEND)
    plain = (everything.labels == 0) & (everything.weights > 0)
    kept_plain = (kept.labels == 0) & (kept.weights > 0)
    assert len(spare) > 0 and np.all(spare.labels == 0)
    assert int(kept_plain.sum()) + len(spare) == int(plain.sum())
    # no window is in both
    kept_rows = {row.tobytes() for row in kept.images[kept_plain]}
    assert not any(row.tobytes() in kept_rows for row in spare.images)


def test_hard_negatives_are_the_left_out_noise_a_first_model_mistakes_for_calls(monkeypatch):
    from anemonefish.training import train as train_module

    kept, spare = build_windows_and_spare_noise(TINY_DATA, FRONTEND)
    # a stand-in first model that mistakes the windows with a loud lowest row for calls
    cut = float(np.median(spare.images[:, 0, :, 0].mean(axis=1)))
    fitted = []

    class Probe:
        def predict_on_batch(self, images):
            out = np.zeros((len(images), 3), np.float32)
            out[:, 1] = np.where(images[:, 0, :, 0].mean(axis=1) > cut, 0.9, 0.1)
            return out

    monkeypatch.setattr(train_module, "fit", lambda spec, data, log, start=None: fitted.append(spec.epochs) or Probe())
    monkeypatch.setattr(train_module, "MINING_SLICE", 7)  # the pool is scored in slices: cross their edges
    spec = _tiny_spec().model_copy(update={"mining_epochs": 2, "mining_threshold": 0.2})
    grown = train_module.add_hard_negatives(spec, kept, spare, log=lambda _: None)
    hard = Probe().predict_on_batch(spare.images)[:, 1] >= 0.2
    assert fitted == [2]  # the first model trains for mining_epochs
    assert 0 < hard.sum() < len(spare)
    assert len(grown) == len(kept) + int(hard.sum())
    assert np.array_equal(grown.images[len(kept):], spare.images[hard]) and np.all(grown.labels[len(kept):] == 0)
    off = spec.model_copy(update={"mining_epochs": 0})
    assert train_module.add_hard_negatives(off, kept, spare, log=lambda _: None) is kept


@pytest.fixture(scope="module")
def tiny_data():
    return build_windows(TINY_DATA, FRONTEND)


def _tiny_spec() -> TrainSpec:
    return TrainSpec(seed=5, epochs=1, batch_size=32, width=2, dataset=TINY_DATA, validation_soundscapes=0)


def test_training_is_reproducible(tiny_data):
    from anemonefish.training.train import fit

    first = fit(_tiny_spec(), tiny_data, log=lambda _: None)
    second = fit(_tiny_spec(), tiny_data, log=lambda _: None)
    for w1, w2 in zip(first.get_weights(), second.get_weights()):
        assert np.array_equal(w1, w2)


def test_bundle_serves_the_same_probabilities_under_litert(tiny_data, tmp_path):
    from anemonefish.card import ModelCard
    from anemonefish.model import load_bundle
    from anemonefish.training.export import update_card, write_bundle
    from anemonefish.training.train import fit

    model = fit(_tiny_spec(), tiny_data, log=lambda _: None)
    card = ModelCard(name="tiny", version="0.0.1", classes=DEFAULT_CLASSES, frontend=FRONTEND, training={"seed": 5})
    out = write_bundle(model, card, tmp_path / "bundle", check_images=tiny_data.images[:8])
    assert sorted(p.name for p in out.iterdir()) == ["card.json", "model.keras", "model.tflite"]
    bundle = load_bundle(out)
    assert bundle.card.training["seed"] == 5 and bundle.card.created_at
    images = tiny_data.images[:3]
    expected = model.predict(images, verbose=0)
    assert np.allclose(bundle.classifier.predict(images), expected, atol=1e-5)
    many = np.repeat(tiny_data.images[:1], 700, axis=0)  # more than one interpreter batch
    assert np.allclose(bundle.classifier.predict(many), expected[:1], atol=1e-5)
    update_card(out, {"event_f1": 0.5})
    assert json.loads((out / "card.json").read_text())["metrics"]["event_f1"] == 0.5

    wrong = ModelCard(name="tiny", version="0.0.1", classes=["a", "b"], frontend=FRONTEND)
    with pytest.raises(ModelBundleError, match="classes"):
        write_bundle(model, wrong, tmp_path / "wrong")
    assert not (tmp_path / "wrong").exists()


def test_import_of_a_256x256_rgb_keras_model(tmp_path):
    from tensorflow import keras

    from anemonefish.model import load_bundle
    from anemonefish.training.importer import import_keras_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((256, 256, 3))
    x = keras.layers.Conv2D(2, 3, strides=4, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    original = keras.Model(inputs, outputs)
    path = tmp_path / "best_model.keras"
    original.save(path)

    frontend = FrontEndConfig(image_height=256, image_width=256)
    card = import_keras_model(path, frontend, DEFAULT_CLASSES, tmp_path / "seed", name="seed-cnn", version="1.0.0")
    assert card.frontend.image_shape == (256, 256)
    bundle = load_bundle(tmp_path / "seed")
    assert bundle.classifier.input_shape == (256, 256, 1)
    gray = np.random.default_rng(1).standard_normal((2, 256, 256, 1)).astype(np.float32)
    expected = original.predict(np.repeat(gray, 3, axis=-1), verbose=0)
    assert np.allclose(bundle.classifier.predict(gray), expected, atol=1e-5)

    with pytest.raises(ModelBundleError, match="2 classes"):
        import_keras_model(path, frontend, ["noise", "anemonefish"], tmp_path / "bad", name="x", version="1")
    with pytest.raises(ModelBundleError, match=f"{SHAPE[0]}x{SHAPE[1]}"):
        import_keras_model(path, FRONTEND, DEFAULT_CLASSES, tmp_path / "bad", name="x", version="1")
    assert not (tmp_path / "bad").exists()


def test_model_import_command(tmp_path, capsys):
    from tensorflow import keras

    from anemonefish_services.cli import main

    inputs = keras.Input((32, 25, 1))
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    path = tmp_path / "m.keras"
    keras.Model(inputs, outputs).save(path)
    out = tmp_path / "bundle"
    assert main(["model", "import", str(path), "-o", str(out), "--image-size", "32x25", "--logits", "--threshold", "0.6"]) == 0
    card = json.loads((out / "card.json").read_text())
    assert card["frontend"]["image_height"] == 32 and card["detection_defaults"]["threshold"] == 0.6
    from anemonefish.model import load_bundle

    probs = load_bundle(out).classifier.predict(np.ones((2, 32, 25, 1), np.float32))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)  # the appended softmax
    assert main(["model", "import", str(path), "-o", str(tmp_path / "x"), "--classes", "a"]) == 2
    assert main(["model", "import", str(tmp_path / "nope.keras"), "-o", str(tmp_path / "x")]) == 2


def test_train_command_writes_a_bundle_that_records_how_to_reproduce_it(tmp_path, capsys):
    from anemonefish.model import load_bundle
    from anemonefish_services.cli import build_parser, main
    from anemonefish_services.cli.modeling import train_spec_from_args

    args = ["train", "--synthetic", "--seed", "4", "--soundscapes", "1", "--duration", "6", "--epochs", "1",
            "--width", "4", "--dense-units", "8", "--normalisation", "minmax", "--warmup-epochs", "0.5",
            "--n-fft", "256", "--hop-length", "128", "--image-size", "77x50", "--frequency-pool", "4",
            "--time-pool", "1", "--validation-soundscapes", "0", "--chirp-fraction", "0.25"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    a = load_bundle(tmp_path / "a")
    assert a.card.training["seed"] == 4 and "--seed 4" in a.card.training["reproduce"]
    assert a.card.training["spec"]["dataset"]["soundscapes"] == 1
    assert a.card.training["spec"]["dataset"]["chirp_fraction"] == 0.25
    spec = a.card.training["spec"]
    assert (spec["width"], spec["dense_units"], spec["normalisation"], spec["warmup_epochs"]) == (4, 8, "minmax", 0.5)
    assert (spec["n_fft"], spec["hop_length"], spec["frequency_pool"], spec["time_pool"]) == (256, 128, 4, 1)
    assert a.card.frontend.normalisation == "minmax"  # what training used is what serving applies
    assert (a.card.frontend.n_fft, a.card.frontend.n_bins) == (256, 77)  # 25 Hz bins, read unresized
    assert (a.card.frontend.hop_length, a.card.frontend.frames_per_window) == (128, 50)  # 20 ms hop, unresized
    # The first block pooled 4 bins and 1 frame into 1: 77 x 50 -> 20 x 50.
    import tensorflow as tf

    keras_model = tf.keras.models.load_model(tmp_path / "a" / "model.keras")
    assert tuple(keras_model.get_layer("pool1").output.shape[1:3]) == (20, 50)
    # The card's command line asks for exactly this spec again.
    again = train_spec_from_args(build_parser().parse_args(shlex.split(a.card.training["reproduce"])[1:]))
    assert again == TrainSpec(**spec)
    assert a.card.frontend.image_shape == (77, 50) and a.card.detection_defaults["threshold"] == 0.5
    scores = a.classifier.predict(np.zeros((2, 77, 50, 1), np.float32))
    assert scores.shape == (2, 3)
    assert main(["train", "-o", str(tmp_path / "c")]) == 2
    assert "DATA" in capsys.readouterr().err


def test_training_continues_from_a_bundle_with_its_front_end_and_weights(tmp_path, tiny_bundle):
    """Fine-tuning: a reef's own labelled recordings adjust a trained network, which starts
    from that network's weights (not new ones) and keeps its front end and classes."""
    import tensorflow as tf

    from anemonefish.model import load_bundle, read_card
    from anemonefish.training.train import StartingPoint, train
    from anemonefish_services.cli import build_parser
    from anemonefish_services.cli.modeling import train_spec_from_args

    start = StartingPoint.of(tiny_bundle)
    kernel = lambda folder: tf.keras.models.load_model(folder / "model.keras").layers[0].get_weights()[0]  # noqa: E731
    # Made as the command line makes it, so the card's command line can be checked against it.
    still = train_spec_from_args(build_parser().parse_args(shlex.split(
        f"train --synthetic --init-from {tiny_bundle} --seed 5 --epochs 1 --learning-rate 1e-12 --warmup-epochs 0 "
        "--soundscapes 2 --duration 8 --validation-soundscapes 0 -o unused")), start)
    assert still.mining_epochs == 0  # a fine-tuning default
    card = train(tmp_path / "still", still, synthetic=True, start=start, log=lambda _: None)
    # At a rate of 1e-12 the weights are the start's: training began from them.
    assert np.allclose(kernel(tmp_path / "still"), kernel(tiny_bundle), atol=1e-6)
    # The start's front end, with other fish sounds timed as this training labels them.
    start_frontend = read_card(tiny_bundle).frontend
    assert card.frontend == start_frontend.model_copy(update={"class_event_timing": {"biological": "overlap"}})
    assert card.classes == read_card(tiny_bundle).classes
    # No validation soundscapes to choose them on: the start's own defaults (an imported --threshold), not 0.5.
    assert card.detection_defaults == read_card(tiny_bundle).detection_defaults
    own = tmp_path / "own-defaults"
    shutil.copytree(tiny_bundle, own)
    imported = read_card(own).model_copy(update={"detection_defaults": {
        **read_card(own).detection_defaults, "threshold": 0.1, "smoothing_windows": 2}})
    (own / "card.json").write_text(imported.model_dump_json(indent=2))
    kept = train(tmp_path / "kept", still, synthetic=True, start=StartingPoint.of(own), log=lambda _: None)
    assert kept.detection_defaults == imported.detection_defaults
    assert card.training["started_from"]["name"] == "tiny-test" and card.training["spec"]["image_height"] == 32
    assert "tiny-test 0.0.0 trained further on synthetic soundscapes" in card.notes
    # Its card's command line asks for the same spec again, from the same bundle.
    command = shlex.split(card.training["reproduce"])
    assert command[command.index("--init-from") + 1] == str(tiny_bundle)
    assert train_spec_from_args(build_parser().parse_args(command[1:]), start) == TrainSpec(**card.training["spec"])
    # At a real rate it learns from there, and serves like any bundle.
    moved = train(tmp_path / "moved", still.model_copy(update={"learning_rate": 0.05}), synthetic=True, start=start,
                  log=lambda _: None)
    assert not np.allclose(kernel(tmp_path / "moved"), kernel(tiny_bundle), atol=1e-3)
    assert moved.frontend == card.frontend
    assert load_bundle(tmp_path / "moved").classifier.predict(np.zeros((1, 32, 25, 1), np.float32)).shape == (1, 3)


def test_shipped_as_a_starting_point_is_the_installed_bundle_with_its_own_architecture(tmp_path, tiny_bundle, monkeypatch):
    """'shipped' is the package's bundle even where ANEMONEFISH_MODEL_DIR serves another, and the
    spec recorded for a fine-tuned network is the start's architecture, not the defaults."""
    from anemonefish.model import DEFAULT_BUNDLE
    from anemonefish.training.train import StartingPoint, _reproduce

    monkeypatch.setenv("ANEMONEFISH_MODEL_DIR", str(tiny_bundle))
    shipped = StartingPoint.of("shipped")
    assert shipped.path == DEFAULT_BUNDLE and shipped.card.name == "anemonefish-cnn"
    assert "--init-from shipped " in _reproduce(shipped.fix_spec(TrainSpec()), False, True, shipped)
    verifier = StartingPoint.of(DEFAULT_BUNDLE / "verifier").fix_spec(TrainSpec())
    assert (verifier.frequency_pool, verifier.time_pool, verifier.image_width) == (1, 4, 200)
    wide = tmp_path / "wide"
    shutil.copytree(tiny_bundle, wide)
    card = json.loads((wide / "card.json").read_text())
    card["training"] = {"spec": {"width": 6, "dense_units": 12, "frequency_pool": 3, "time_pool": 1}}
    (wide / "card.json").write_text(json.dumps(card))
    fixed = StartingPoint.of(wide).fix_spec(TrainSpec())  # none of these is TrainSpec's default
    assert (fixed.width, fixed.dense_units, fixed.frequency_pool, fixed.time_pool) == (6, 12, 3, 1)
    assert (fixed.image_height, fixed.image_width, fixed.n_fft, fixed.fmin) == (32, 25, 1024, 0.0)
    # A path with a space survives the reproduce line.
    spaced = tmp_path / "my bundle"
    shutil.copytree(tiny_bundle, spaced)
    command = shlex.split(_reproduce(TrainSpec(learning_rate=0.00012345678), False, True, StartingPoint.of(spaced)))
    assert command[command.index("--init-from") + 1] == str(spaced)
    assert float(command[command.index("--learning-rate") + 1]) == 0.00012345678


@pytest.mark.parametrize("option,value", [("--chirp-fraction", "1.5"), ("--duration", "0.5"), ("--width", "1"),
                                          ("--soundscapes", "0"), ("--epochs", "0")])
def test_train_command_names_the_option_a_bad_value_came_from(tmp_path, capsys, option, value):
    from anemonefish_services.cli import main

    assert main(["train", "--synthetic", option, value, "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {option}") and "Traceback" not in err
    assert not (tmp_path / "b").exists()


def test_validation_keeps_the_peak_rule_only_when_it_finds_a_call_smoothing_loses(monkeypatch):
    from anemonefish.training import train as train_module

    frontend = FrontEndConfig()  # 1.0 s windows, 0.2 s stride: window k stands for k*0.2+0.4 s
    fish = np.zeros(60)
    fish[10:12] = 1.0  # a chirp both its windows see
    fish[30] = 0.995  # a pop only one window sees: smoothing halves it
    fish[40:42] = 0.85  # a weaker chirp: the threshold must stay below 0.85
    fish[50] = 0.97  # a click the model is fairly, not quite, sure of
    scores = np.stack([1 - fish, fish, np.zeros_like(fish)], axis=1)
    truth = [Event(start=k * 0.2 + 0.4, end=k * 0.2 + 0.5, label="anemonefish") for k in (10, 30, 40)]

    def score(images):
        return scores[: len(images)]

    monkeypatch.setattr(train_module, "validation_recordings", lambda spec, fe: [(np.zeros((60, 1)), truth, 12.8)])
    spec = TrainSpec(validation_soundscapes=1)
    defaults, metrics = train_module.choose_threshold(score, spec, frontend, list(DEFAULT_CLASSES), log=lambda _: None)
    assert defaults["peak_threshold"] == 0.99 and metrics["validation_event_f1"] == 1.0

    monkeypatch.setattr(train_module, "PEAK_CHOICES", (None,))
    defaults, metrics = train_module.choose_threshold(score, spec, frontend, list(DEFAULT_CLASSES), log=lambda _: None)
    assert defaults["peak_threshold"] is None and metrics["validation_event_f1"] < 1.0


def test_model_retune_makes_trainings_choice_with_the_served_model(tmp_path, capsys):
    """On the shipped model (a tiny one scores F1 0 everywhere, so any choice would agree):
    retune with LiteRT picks what training's choose_threshold picks with the Keras model."""
    import shutil

    from tensorflow import keras

    from anemonefish.model import DEFAULT_BUNDLE, load_bundle
    from anemonefish.training.train import choose_threshold
    from anemonefish_services.cli import main

    bundle = tmp_path / "shipped"
    shutil.copytree(DEFAULT_BUNDLE, bundle, ignore=shutil.ignore_patterns("verifier"))
    card_file = bundle / "card.json"
    # The shipped first network alone (the pair: the next test).
    shipped = {**json.loads(card_file.read_text()), "verifier": None}
    card_file.write_text(json.dumps(shipped))
    spec = TrainSpec.model_validate(shipped["training"]["spec"]).model_copy(update={"validation_soundscapes": 3})
    model = keras.models.load_model(bundle / "model.keras")
    expected, expected_metrics = choose_threshold(lambda images: model.predict(images, verbose=0), spec,
                                                  load_bundle(bundle).card.frontend, shipped["classes"], log=lambda _: None)
    sweep = expected_metrics["validation_sweep"]
    assert sweep[0]["true_positives"] + sweep[0]["false_negatives"] > 0  # there are calls to find
    assert len({round(point["f1"], 3) for point in sweep}) > 3  # and the threshold matters

    assert main(["model", "retune", str(bundle), "--validation-soundscapes", "3"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert printed["detection_defaults"] == expected
    assert printed["validation_event_f1"] == pytest.approx(expected_metrics["validation_event_f1"])
    assert json.loads(card_file.read_text()) == shipped  # nothing written without --write

    edited = {**shipped, "detection_defaults": {**shipped["detection_defaults"], "threshold": 0.123}}
    card_file.write_text(json.dumps(edited))
    assert main(["model", "retune", str(bundle), "--validation-soundscapes", "3", "--write"]) == 0
    rewritten = json.loads(card_file.read_text())
    assert rewritten["detection_defaults"] == expected
    assert rewritten["metrics"]["validation_event_f1"] == pytest.approx(expected_metrics["validation_event_f1"])
    # The benchmark's figures were measured at the defaults the retune replaced: kept apart, with those defaults.
    assert "event_f1_snr_+0dB" not in rewritten["metrics"]
    earlier = rewritten["metrics"]["before_retune"]
    assert earlier["detection_defaults"] == edited["detection_defaults"]
    assert earlier["event_f1_snr_+0dB"] == shipped["metrics"]["event_f1_snr_+0dB"]
    assert not list(bundle.glob("*.part"))

    assert main(["model", "retune", str(bundle), "--validation-soundscapes", "0"]) == 2
    assert "at least one validation soundscape" in capsys.readouterr().err
    assert main(["model", "retune", str(tmp_path)]) == 2
    assert "no card.json" in capsys.readouterr().err


def test_a_run_that_did_not_learn_stops_with_a_clear_error_and_writes_nothing(tiny_data, tmp_path, monkeypatch, capsys):
    from anemonefish.exceptions import TrainingError
    from anemonefish.training import train as train_module
    from anemonefish_services.cli import main

    # A learning rate this large blows the weights up: every window gets the same answer.
    with pytest.raises(TrainingError, match="did not converge"):
        train_module.fit(_tiny_spec().model_copy(update={"learning_rate": 100.0}), tiny_data, log=lambda _: None)
    train_module.fit(_tiny_spec(), tiny_data, log=lambda _: None)  # the same data, a sane rate: no error

    def collapsed(model, data, spec):
        raise TrainingError("training did not converge (seed 4)")

    monkeypatch.setattr(train_module, "check_learned", collapsed)
    args = ["train", "--synthetic", "--seed", "4", "--soundscapes", "1", "--duration", "6", "--epochs", "1", "--validation-soundscapes", "0"]
    assert main([*args, "-o", str(tmp_path / "bundle")]) == 1
    assert "error: training did not converge (seed 4)" in capsys.readouterr().err
    assert not (tmp_path / "bundle").exists()


def test_learning_rate_warms_up_linearly_then_decays_to_zero():
    from anemonefish.training.train import learning_rate_schedule

    spec = TrainSpec(epochs=4, learning_rate=0.01, warmup_epochs=1.0)
    schedule = learning_rate_schedule(spec, steps_per_epoch=10)
    rate = [float(schedule(step)) for step in range(41)]
    assert rate[0] == 0.0 and rate[5] == pytest.approx(0.005) and rate[10] == pytest.approx(0.01)
    assert all(a > b for a, b in zip(rate[10:40], rate[11:41])) and rate[40] == pytest.approx(0.0, abs=1e-9)
    plain = learning_rate_schedule(spec.model_copy(update={"warmup_epochs": 0.0}), steps_per_epoch=10)
    assert float(plain(0)) == pytest.approx(0.01) and float(plain(40)) == pytest.approx(0.0, abs=1e-9)


def test_train_help_states_the_training_defaults():
    """The help names TrainSpec's defaults by hand (importing training to read them would cost every
    command, detect included, about 0.3 s at start); this keeps the two from drifting apart.

    Each option's own help is checked, not the whole text: "--seed (default 1)" would
    otherwise vouch for a drifted "--warmup-epochs" that also claims 1."""
    import argparse

    from anemonefish_services.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {action.dest: action.help for action in commands.choices["train"]._actions}
    spec = TrainSpec()
    stated = {field: f"(default {getattr(spec, field)})" for field in
              ("n_fft", "hop_length", "frequency_pool", "time_pool", "width", "dense_units", "normalisation")}
    stated["warmup_epochs"] = f"(default {spec.warmup_epochs:g})"
    stated["image_size"] = f"(default {spec.image_height}x{spec.image_width})"
    stated["chirp_fraction"] = f"(default {spec.dataset.chirp_fraction:g})"
    stated["learning_rate"] = f"(default {spec.learning_rate:g};"
    stated["mining_epochs"] = f"(default {spec.mining_epochs};"
    stated["epochs"] = f"(default {spec.epochs};"
    stated["soundscapes"] = f"(default {spec.dataset.soundscapes})"
    stated["duration"] = f"(default {spec.dataset.duration_s:g})"
    stated["validation_soundscapes"] = f"(default {spec.validation_soundscapes})"
    for field, text in stated.items():
        assert text in helps[field], (field, helps[field])


def test_multiply_adds_are_read_from_the_built_network():
    from anemonefish.training.architecture import build_classifier
    from anemonefish.training.train import macs_per_window

    # By hand for the shipped shape: 3x3 convs on 2 views -> 8 -> 16 -> 32 filters over
    # 39x100, 20x50 and 10x25 cells, then 5x13x32 -> 32 -> 3 dense.
    by_hand = 39 * 100 * 9 * 2 * 8 + 20 * 50 * 9 * 8 * 16 + 10 * 25 * 9 * 16 * 32 + 5 * 13 * 32 * 32 + 32 * 3
    assert macs_per_window(build_classifier((39, 100, 1), 3, 8, 32)) == pytest.approx(by_hand / 1e6)
    # The first block pooling 4 bins: 77 bins cost more only in the first convolution.
    pooled = macs_per_window(build_classifier((77, 100, 1), 3, 8, 32, frequency_pool=4))
    assert pooled == pytest.approx((by_hand + (77 - 39) * 100 * 9 * 2 * 8) / 1e6)
    # 10 ms frames every 5 ms (20 bins x 200 frames), the first block pooling 4 frames:
    # only the first convolution sees the finer grid.
    short = macs_per_window(build_classifier((20, 200, 1), 3, 8, 32, frequency_pool=1, time_pool=4))
    assert short == pytest.approx((by_hand + (20 * 200 - 39 * 100) * 9 * 2 * 8) / 1e6)


def test_model_retune_reads_a_spec_recorded_with_another_front_end(tmp_path, tiny_bundle, capsys):
    """A network fine-tuned from a bundle with another front end (fmax 4000, fmin 2100) records
    that front end in its spec; retune needs only the spec's validation settings, and had failed
    checking the rest against the default front end (fmin must be below fmax)."""
    from anemonefish_services.cli import main

    bundle = tmp_path / "high"
    shutil.copytree(tiny_bundle, bundle)
    card = json.loads((bundle / "card.json").read_text())
    card["training"] = {"spec": {**TrainSpec().model_dump(mode="json"), "fmin": 2100.0, "validation_soundscapes": 1}}
    (bundle / "card.json").write_text(json.dumps(card))
    assert main(["model", "retune", str(bundle)]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out.split("\ncard unchanged")[0])["detection_defaults"]["threshold"] > 0


def test_model_retune_on_labelled_recordings_chooses_on_their_annotated_channels(tmp_path, capsys):
    """A site's held-out labelled recordings, not the synthetic soundscapes, set the threshold of
    a model used there: each annotated channel is scored as served (the shipped pair) against its
    own selections."""
    import shutil

    import soundfile as sf

    from anemonefish.detect import Detector
    from anemonefish.evaluate import ScoredRecording
    from anemonefish.formats import read_annotations
    from anemonefish.model import DEFAULT_BUNDLE, load_bundle
    from anemonefish.synth import SynthConfig, synthesize, write_soundscape
    from anemonefish.training.train import choose_defaults
    from anemonefish_services.cli import main

    bundle = tmp_path / "pair"
    shutil.copytree(DEFAULT_BUNDLE, bundle)
    data = tmp_path / "site"
    config = SynthConfig(duration_s=30.0, sample_rate=16000, snr_db=0.0, anemonefish_per_min=16.0)
    write_soundscape(synthesize(config, seed=[31, 0]), data, "mono")
    # A stereo recording whose calls are on the second channel, as its Raven table says.
    calls, other = synthesize(config, seed=[31, 1]), synthesize(config.model_copy(update={"anemonefish_per_min": 0.0}), seed=[31, 2])
    sf.write(data / "stereo.wav", np.stack([other.signal, calls.signal], axis=1), 16000, subtype="PCM_24")
    _, table = write_soundscape(calls, tmp_path / "scratch", "stereo")
    (data / "stereo.Table.1.selections.txt").write_text(table.read_text().replace("\tSpectrogram 1\t1\t", "\tSpectrogram 1\t2\t"))
    served = load_bundle(bundle)
    detector = Detector(served)

    def scored(path, channel, table):
        result = detector.run(path, detector.default_params.model_copy(update={"channel": channel}))
        return ScoredRecording(scores=result.scores, annotations=read_annotations(table), duration_s=result.audio.duration_s)

    mono = scored(data / "mono.wav", 0, data / "mono.Table.1.selections.txt")
    expected, expected_metrics = choose_defaults([mono, scored(data / "stereo.wav", 1, table)], served.card.frontend,
                                                 served.classes, log=lambda _: None)
    _, on_first = choose_defaults([mono, scored(data / "stereo.wav", 0, table)], served.card.frontend, served.classes,
                                  log=lambda _: None)
    assert expected_metrics["validation_event_f1"] > 0.5  # the calls are found where the table says
    before = json.loads((bundle / "card.json").read_text())
    assert main(["model", "retune", str(bundle), "--data", str(data), "--write"]) == 0
    card = json.loads((bundle / "card.json").read_text())
    assert card["detection_defaults"] == expected
    assert card["metrics"]["recordings_event_f1"] == pytest.approx(expected_metrics["validation_event_f1"])
    assert card["metrics"]["recordings"] == "2 recording channel(s) from site"
    sweep = [point["f1"] for point in card["metrics"]["recordings_sweep"]]
    assert sweep == pytest.approx([point["f1"] for point in expected_metrics["validation_sweep"]])
    assert sweep != pytest.approx([point["f1"] for point in on_first["validation_sweep"]])  # not the first channel's
    # The synthetic validation's figures described the earlier defaults: kept apart, with them.
    assert card["detection_defaults"] != before["detection_defaults"]
    assert "validation_event_f1" not in card["metrics"]
    earlier = card["metrics"]["before_retune"]
    assert earlier["detection_defaults"] == before["detection_defaults"]
    assert earlier["validation_event_f1"] == before["metrics"]["validation_event_f1"]
    # What train DATA/ refuses, retune refuses too, naming --data.
    (data / "stereo.Table.1.selections.txt").write_text(table.read_text().replace("\tanemonefish\t", "\tclownfish\t"))
    assert main(["model", "retune", str(bundle), "--data", str(data)]) == 2
    assert "error: --data: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["model", "retune", str(bundle), "--data", str(data), "--validation-soundscapes", "3"])
    assert "not allowed with argument" in capsys.readouterr().err
    # With no call to find every setting scores F1 1: no choice is made, nothing is written.
    quiet = tmp_path / "quiet"
    write_soundscape(synthesize(config.model_copy(update={"anemonefish_per_min": 0.0}), seed=[31, 3]), quiet, "reef")
    assert main(["model", "retune", str(bundle), "--data", str(quiet), "--write"]) == 2
    assert f"error: --data: {quiet}: no 'anemonefish' selection to choose a threshold on" in capsys.readouterr().err
    assert json.loads((bundle / "card.json").read_text())["detection_defaults"] == expected


def test_model_retune_tunes_a_pair_on_the_gated_mean_of_both_networks(tmp_path, capsys):
    """The shipped pair: retune's choice is the one made on scores computed here by hand from
    the two Keras models, each on its own front end's windows, averaged where the gate opens."""
    import shutil

    from tensorflow import keras

    from anemonefish.evaluate import ScoredRecording
    from anemonefish.model import DEFAULT_BUNDLE, load_bundle
    from anemonefish.training.train import choose_defaults, validation_recordings
    from anemonefish_services.cli import main

    bundle = tmp_path / "pair"
    shutil.copytree(DEFAULT_BUNDLE, bundle)
    pair = load_bundle(bundle)
    spec = TrainSpec.model_validate(pair.card.training["spec"]).model_copy(update={"validation_soundscapes": 3})
    first = validation_recordings(spec, pair.card.frontend)
    second = validation_recordings(spec, pair.verifier.card.frontend)
    first_model = keras.models.load_model(bundle / "model.keras")
    second_model = keras.models.load_model(bundle / "verifier" / "model.keras")
    recordings = []
    for (images, truth, duration), (verifier_images, _, _) in zip(first, second, strict=True):
        scores = first_model.predict(images, verbose=0)
        gated = scores[:, 1] >= pair.card.verifier.gate
        assert 0 < gated.sum() < len(gated)
        scores[gated] = (scores[gated] + second_model.predict(verifier_images[gated], verbose=0)) / 2
        recordings.append(ScoredRecording(scores=scores, annotations=truth, duration_s=duration))
    expected, expected_metrics = choose_defaults(recordings, pair.card.frontend, pair.classes, log=lambda _: None)
    _, alone_metrics = choose_defaults(
        [ScoredRecording(scores=first_model.predict(images, verbose=0), annotations=truth, duration_s=duration)
         for images, truth, duration in first],
        pair.card.frontend, pair.classes, log=lambda _: None,
    )
    # A retune that ignored the verifier would make another sweep.
    assert expected_metrics["validation_sweep"] != alone_metrics["validation_sweep"]

    assert main(["model", "retune", str(bundle), "--validation-soundscapes", "3", "--write"]) == 0
    card = json.loads((bundle / "card.json").read_text())
    assert card["detection_defaults"] == expected
    assert card["metrics"]["validation_event_f1"] == pytest.approx(expected_metrics["validation_event_f1"])
    swept = [point["f1"] for point in card["metrics"]["validation_sweep"]]
    assert swept == pytest.approx([point["f1"] for point in expected_metrics["validation_sweep"]])
    assert card["verifier"] == {"path": "verifier", "gate": pair.card.verifier.gate}


def test_a_spec_is_refused_with_its_front_end_s_own_reasons():
    """TrainSpec builds its FrontEndConfig when it is made: the rules live in one place."""
    from pydantic import ValidationError

    for bad, reason in (({"n_fft": 32, "hop_length": 64}, "n_fft 32 is shorter than hop_length 64"),
                        ({"fmin": 2500.0}, "fmin must be below fmax")):
        with pytest.raises(ValidationError, match=reason):
            TrainSpec(**bad)


def _site(folder, name: str = "rec", seed: int = 0):
    """One labelled synthetic recording (Raven truth beside it): its audio and table."""
    from anemonefish.synth import SynthConfig, synthesize, write_soundscape

    folder.mkdir(parents=True, exist_ok=True)
    config = SynthConfig(duration_s=8.0, sample_rate=8000, snr_db=10.0, anemonefish_per_min=30.0,
                         biological_per_min=30.0, whistles_per_min=0.0)
    return write_soundscape(synthesize(config, seed=[21, seed]), folder, name)


def _edit_rows(table, edit):
    """Rewrite a Raven table's selection rows with ``edit(cells) -> cells``; the header stays."""
    header, *rows = table.read_text().splitlines()
    table.write_text("\n".join([header, *("\t".join(edit(row.split("\t"))) for row in rows)]) + "\n")
    return header.split("\t")


@pytest.mark.parametrize(("damage", "message"), [
    ("blank", ":2: the selection has no label (its cell is blank)"),
    ("milliseconds", ":2: a selection at "),
    ("channel", ":2: a selection on channel 2, but rec.wav has 1 channel(s)"),
])
def test_annotation_tables_damaged_by_hand_are_refused_naming_the_line(tmp_path, damage, message):
    """Training would otherwise learn a blank-labelled grunt as anemonefish, or a table in
    milliseconds as hours of noise."""
    from anemonefish.exceptions import AnnotationFormatError
    from anemonefish.training.dataset import labelled_channels

    audio, table = _site(tmp_path)
    header = table.read_text().splitlines()[0].split("\t")
    begin, end, label, channel = (header.index(c) for c in ("Begin Time (s)", "End Time (s)", "Annotation", "Channel"))
    first = [True]

    def edit(cells):
        if first[0]:
            first[0] = False
            if damage == "blank":
                cells[label] = ""
            elif damage == "channel":
                cells[channel] = "2"
        if damage == "milliseconds":
            cells[begin], cells[end] = (str(float(cells[i]) * 1000) for i in (begin, end))
        return cells

    _edit_rows(table, edit)
    with pytest.raises(AnnotationFormatError) as raised:
        labelled_channels(audio, table, DEFAULT_CLASSES)
    assert f"{table}{message}" in str(raised.value)
    if damage == "milliseconds":
        assert "are its times in seconds" in str(raised.value)


def test_a_recording_with_two_tables_is_refused_and_a_table_without_its_recording_is_named(tmp_path):
    from anemonefish.exceptions import AnnotationFormatError
    from anemonefish.training.dataset import labelled_pairs

    audio, table = _site(tmp_path / "a")
    (tmp_path / "a" / "rec.labels.txt").write_text("1.0\t1.1\tanemonefish\n")
    with pytest.raises(AnnotationFormatError, match="several annotation tables"):
        labelled_pairs(tmp_path / "a", log=lambda _: None)
    _site(tmp_path / "b")
    (tmp_path / "b" / "sub").mkdir()
    (tmp_path / "b" / "sub" / "lost.Table.1.selections.txt").write_text(table.read_text())
    said = []
    assert len(labelled_pairs(tmp_path / "b", log=said.append)) == 1
    assert said == [f"1 annotation table(s) in {tmp_path / 'b'} have no recording of their name beside them "
                    f"and are left out: {Path('sub') / 'lost.Table.1.selections.txt'}"]


def test_a_recording_that_cannot_be_read_is_named_by_its_path(tmp_path):
    from anemonefish.exceptions import AudioError
    from anemonefish.training.dataset import labelled_channels

    audio, table = _site(tmp_path / "site-b")
    audio.write_bytes(audio.read_bytes()[:40])  # its header only, cut
    with pytest.raises(AudioError) as raised:
        labelled_channels(audio, table, DEFAULT_CLASSES)
    assert str(raised.value).startswith(f"{audio}: ")


def test_tables_saved_by_spreadsheets_read_as_the_original(tmp_path):
    """A European spreadsheet saves ';' and decimal commas; CSV cells may carry spaces."""
    from anemonefish.formats import load_annotations

    _, table = _site(tmp_path)
    original = [(e.start, e.end, e.label) for e in load_annotations(table).events()]
    semicolons = tmp_path / "semi.Table.1.selections.txt"
    semicolons.write_text("\n".join(";".join(c.replace(".", ",") if c.replace(".", "").isdigit() else c
                                            for c in row.split("\t")) for row in table.read_text().splitlines()))
    assert [(e.start, e.end, e.label) for e in load_annotations(semicolons).events()] == original
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("start, end, label\n" + "".join(f"{a}, {b}, {c}\n" for a, b, c in original))
    assert [(e.start, e.end, e.label) for e in load_annotations(spaced).events()] == original


def test_each_round_of_fine_tuning_gets_a_version_of_its_own():
    from anemonefish.training.train import tuned_version

    assert [tuned_version(v) for v in ("0.2.0", "0.2.0+tuned", "0.2.0+tuned.2", "1.0+tuned.9")] == [
        "0.2.0+tuned", "0.2.0+tuned.2", "0.2.0+tuned.3", "1.0+tuned.10"]


def test_a_table_whose_begin_file_names_another_recording_is_logged(tmp_path):
    """Paired by name, a table may be a copy of another recording's: its Begin File says so."""
    from anemonefish.training.dataset import labelled_channels

    audio, table = _site(tmp_path)
    header = table.read_text().splitlines()[0].split("\t")
    begin_file = header.index("Begin File")
    said = []
    assert labelled_channels(audio, table, DEFAULT_CLASSES, said.append)  # the recording's own: nothing said
    assert said == []
    _edit_rows(table, lambda cells: [*cells[:begin_file], "other.wav", *cells[begin_file + 1:]])
    assert labelled_channels(audio, table, DEFAULT_CLASSES, said.append)  # still trained: a rename is possible
    assert said == [f"warning: {table} annotates other.wav (its Begin File), yet is the table of {audio} by its "
                    "name: trained as that recording's"]


def test_a_table_over_a_file_sequence_trains_this_recordings_rows_in_its_own_time(tmp_path):
    """Raven's table over several files: rows of the other files, and Begin Times that run across
    the sequence, were taken as this recording's (or refused as past its end)."""
    from anemonefish.training.dataset import labelled_channels

    audio, table = _site(tmp_path)
    own = labelled_channels(audio, table, DEFAULT_CLASSES)
    lines = table.read_text().splitlines()
    table.write_text("\n".join([lines[0] + "\tFile Offset (s)", *(row + "\t" for row in lines[1:])]) + "\n")
    header = lines[0].split("\t") + ["File Offset (s)"]
    begin, end = header.index("Begin Time (s)"), header.index("End Time (s)")
    begin_file, offset = header.index("Begin File"), header.index("File Offset (s)")

    def in_a_sequence(cells):  # the recording is the second file of a sequence, after 100 s of another
        cells[offset] = cells[begin]
        cells[begin], cells[end] = f"{float(cells[begin]) + 100:.6f}", f"{float(cells[end]) + 100:.6f}"
        return cells

    _edit_rows(table, in_a_sequence)
    other = [str(len(table.read_text().splitlines())), *([""] * (len(header) - 1))]
    other[header.index("Selection")], other[header.index("View")], other[header.index("Channel")] = "99", "Spectrogram 1", "1"
    other[begin], other[end], other[offset], other[begin_file] = "50", "50.2", "50", "before.wav"
    other[header.index("Annotation")] = "anemonefish"
    table.write_text(table.read_text() + "\t".join(other) + "\n")
    read = labelled_channels(audio, table, DEFAULT_CLASSES)
    assert read.keys() == own.keys() and [e.label for e in read[0]] == [e.label for e in own[0]]
    # the shift by 100 s and back rounds the last float digits
    assert [t for e in read[0] for t in (e.start, e.end)] == pytest.approx([t for e in own[0] for t in (e.start, e.end)], abs=1e-6)


def test_a_file_sequence_table_labels_each_recording_it_names_in_a_folder(tmp_path):
    """Raven's table over a deployment's folder bears no recording's name: `train DATA/` left every
    recording out as unlabelled and the table as an orphan."""
    from anemonefish.training.dataset import labelled_pairs

    (tmp_path / "day 1").mkdir()
    for name in ("day 1/a.wav", "day 1/b.WAV", "c.wav"):
        (tmp_path / name).write_bytes(b"RIFF")  # pairing reads names only
    table = tmp_path / "deployment.Table.1.selections.txt"
    table.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin File\tFile Offset (s)\tAnnotation\n"
                     "1\tSpectrogram 1\t1\t1.0\t1.2\tE:\\day 1\\a.wav\t1.0\tanemonefish\n"
                     "2\tSpectrogram 1\t1\t61.0\t61.2\tE:\\day 1\\b.wav\t1.0\tanemonefish\n")
    said = []
    assert labelled_pairs(tmp_path, said.append) == [(tmp_path / "day 1" / "a.wav", table),
                                                     (tmp_path / "day 1" / "b.WAV", table)]
    assert said == [f"1 recording(s) in {tmp_path} have no annotation table and are left out: c.wav"]
    # A table in a sibling folder is not the recordings': they are labelled by what is above them.
    (tmp_path / "elsewhere").mkdir()
    table.rename(tmp_path / "elsewhere" / table.name)
    with pytest.raises(AnnotationFormatError, match="no audio file with an annotation table"):
        labelled_pairs(tmp_path, said.append)


def test_labels_in_a_column_the_reader_does_not_know_are_warned_of_in_training(tmp_path):
    from anemonefish.training.dataset import labelled_channels

    audio, table = _site(tmp_path)
    text = table.read_text()
    # one call among the grunts (this short site has none), its label under a name not known
    table.write_text(text.replace("\tAnnotation", "\tCall Type", 1).replace("\tbiological\t", "\tanemonefish\t", 1))
    said = []
    labelled_channels(audio, table, DEFAULT_CLASSES, said.append)
    assert said == [f"warning: {table} has no label column (Annotation, Label, Class, Species), but its column "
                    "'Call Type' holds anemonefish, biological: every selection was read as 'anemonefish'; name that "
                    "column Annotation if it holds the labels"]
