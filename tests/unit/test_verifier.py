"""A bundle with a verifier: a second network, on its own front end, re-scores gated windows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from anemonefish.card import ModelCard, VerifierConfig
from anemonefish.detect import Detector, _Batches
from anemonefish.exceptions import ModelBundleError
from anemonefish.features import DeferredWindows, FeatureExtractor
from anemonefish.model import LiteRTClassifier, load_bundle, read_card
from anemonefish_services.cli import main
from support import build_tiny_bundle, write_tone_wav

# A front end unlike the tiny bundle's (1024-point frames, 32 x 25 images), on the same windows.
VERIFIER_FRONTEND = {"n_fft": 128, "hop_length": 32, "fmin": 100.0, "image_height": 16, "image_width": 50}


@pytest.fixture(scope="module")
def tiny_verifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("tiny_verifier"), frontend=VERIFIER_FRONTEND, seed=1)


def _pair(tmp_path: Path, primary: Path, verifier: Path, gate: float) -> Path:
    out = tmp_path / f"pair_{gate}"
    assert main(["model", "add-verifier", str(primary), str(verifier), "-o", str(out), "--gate", str(gate)]) == 0
    return out


@pytest.mark.parametrize("verifier_first", [False, True], ids=["verifier-ahead", "verifier-behind"])
def test_gate_zero_scores_every_window_with_the_mean_of_both_networks(tmp_path, tiny_bundle, tiny_verifier, verifier_first):
    # Centred frames: 1024-point frames complete a window 224 samples after 128-point ones,
    # so one stream of windows runs ahead of the other at every block edge.
    primary, verifier = (tiny_verifier, tiny_bundle) if verifier_first else (tiny_bundle, tiny_verifier)
    path = write_tone_wav(tmp_path / "a.wav", 30.0, sr=22050)
    pair = Detector(load_bundle(_pair(tmp_path, primary, verifier, 0.0)), block_s=2.3).run(path)
    first = Detector(load_bundle(primary)).run(path)
    second = Detector(load_bundle(verifier)).run(path)
    assert len(pair.scores) == len(first.scores) == len(second.scores) == 146
    assert not np.allclose(first.scores, second.scores, atol=1e-3)  # two different networks
    np.testing.assert_allclose(pair.scores, (first.scores + second.scores) / 2, atol=1e-5)
    assert pair.timings["verified_windows"] == 146


def test_gate_sends_only_windows_at_or_above_it_and_the_rest_keep_the_first_score(tmp_path, tiny_bundle, tiny_verifier):
    path = write_tone_wav(tmp_path / "b.wav", 30.0, sr=16000)
    first = Detector(load_bundle(tiny_bundle)).run(path).scores
    second = Detector(load_bundle(tiny_verifier)).run(path).scores
    gate = float(np.median(first[:, 1]))
    bundle = load_bundle(_pair(tmp_path, tiny_bundle, tiny_verifier, gate))
    # Small interpreter batches, so gated windows and uncut verifier windows cross many batch edges.
    bundle.__dict__["classifier"] = LiteRTClassifier(tiny_bundle / "model.tflite", batch_size=7)
    bundle.verifier.__dict__["classifier"] = LiteRTClassifier(tiny_verifier / "model.tflite", batch_size=5)
    result = Detector(bundle, block_s=1.7).run(path)
    gated = first[:, 1] >= gate
    assert 0 < gated.sum() < len(gated)
    np.testing.assert_allclose(result.scores[~gated], first[~gated], atol=1e-5)
    np.testing.assert_allclose(result.scores[gated], (first[gated] + second[gated]) / 2, atol=1e-5)
    assert result.timings["verified_windows"] == gated.sum()


def test_gate_follows_the_target_class(tmp_path, tiny_bundle, tiny_verifier):
    from anemonefish.params import DetectionParams

    path = write_tone_wav(tmp_path / "c.wav", 12.0)
    first = Detector(load_bundle(tiny_bundle)).run(path).scores
    gate = float(np.median(first[:, 2]))
    detector = Detector(load_bundle(_pair(tmp_path, tiny_bundle, tiny_verifier, gate)))
    result = detector.run(path, DetectionParams(target_class="biological"))
    assert result.timings["verified_windows"] == (first[:, 2] >= gate).sum()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda card: card.update(classes=["noise", "anemonefish", "other"]), "classes"),
        (lambda card: card["frontend"].update(stride_s=0.4), "stride_s"),
        (lambda card: card["frontend"].update(sample_rate=8000), "sample_rate"),
        (lambda card: card["frontend"].update(event_timing="containment"), "event_timing"),
        (lambda card: card["frontend"].update(class_event_timing={"biological": "containment"}), "class_event_timing"),
        (lambda card: card.update(verifier={"path": "verifier"}), "cannot have a verifier"),
    ],
)
def test_a_verifier_that_would_score_other_windows_or_classes_is_refused(tmp_path, tiny_bundle, tiny_verifier, change, message):
    verifier = tmp_path / "odd"
    shutil.copytree(tiny_verifier, verifier)
    card = json.loads((verifier / "card.json").read_text())
    change(card)
    (verifier / "card.json").write_text(json.dumps(card))
    out = tmp_path / "pair"
    assert main(["model", "add-verifier", str(tiny_bundle), str(verifier), "-o", str(out)]) == 2
    assert not out.exists() and not list(tmp_path.glob(".pair*"))  # nothing half-written
    # A card edited by hand to name it fails at load, with the same reason.
    shutil.copytree(tiny_bundle, out)
    shutil.copytree(verifier, out / "verifier")
    card = json.loads((out / "card.json").read_text())
    (out / "card.json").write_text(json.dumps({**card, "verifier": {"path": "verifier"}}))
    with pytest.raises(ModelBundleError, match=message):
        load_bundle(out)


def test_missing_verifier_folder_is_a_bundle_error(tmp_path, tiny_bundle):
    out = tmp_path / "pair"
    shutil.copytree(tiny_bundle, out)
    card = json.loads((out / "card.json").read_text())
    (out / "card.json").write_text(json.dumps({**card, "verifier": {"path": "second"}}))
    with pytest.raises(ModelBundleError, match="second: not a model bundle folder"):
        load_bundle(out)


@pytest.mark.parametrize("path", ["../elsewhere", "/abs/verifier", "a/../../b", "a\\b", ""])
def test_verifier_path_must_stay_inside_the_bundle(path):
    with pytest.raises(ValidationError):
        VerifierConfig(path=path)


def test_cards_without_a_verifier_still_load(tiny_bundle):
    card = json.loads((tiny_bundle / "card.json").read_text())
    card.pop("verifier", None)
    assert ModelCard.model_validate(card).verifier is None


def test_add_verifier_writes_the_gate_and_new_defaults_and_rejects_bad_values(tmp_path, tiny_bundle, tiny_verifier, capsys):
    out = tmp_path / "pair"
    assert main(["model", "add-verifier", str(tiny_bundle), str(tiny_verifier), "-o", str(out),
                 "--gate", "0.1", "--threshold", "0.4", "--smoothing", "3", "--version", "9.9.9"]) == 0
    card = read_card(out)
    assert card.verifier == VerifierConfig(path="verifier", gate=0.1)
    assert (card.detection_defaults["threshold"], card.detection_defaults["smoothing_windows"]) == (0.4, 3)
    assert card.version == "9.9.9" and read_card(out / "verifier").name == "tiny-test"
    assert load_bundle(out).verifier is not None
    for flag, value in (("--gate", "1.5"), ("--threshold", "-1"), ("--smoothing", "0")):
        capsys.readouterr()
        again = tmp_path / f"bad{flag}"
        assert main(["model", "add-verifier", str(tiny_bundle), str(tiny_verifier), "-o", str(again), flag, value]) == 2
        assert capsys.readouterr().err.startswith(f"error: {flag}:")
        assert not again.exists()
    assert main(["model", "add-verifier", str(out), str(tiny_verifier), "-o", str(tmp_path / "x")]) == 2
    assert "already has a verifier" in capsys.readouterr().err
    # A bad default the bundle's own card holds is blamed on the bundle, not on an option.
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    card_json = json.loads((broken / "card.json").read_text())
    card_json["detection_defaults"]["min_event_s"] = -1
    (broken / "card.json").write_text(json.dumps(card_json))
    assert main(["model", "add-verifier", str(broken), str(tiny_verifier), "-o", str(tmp_path / "y")]) == 2
    assert capsys.readouterr().err.startswith("error: BUNDLE_DIR:")


def test_deferred_windows_cut_the_same_images_as_the_stream(tiny_bundle):
    config = read_card(tiny_bundle).frontend.model_copy(update={"n_fft": 256, "hop_length": 64, "image_width": 60})
    extractor = FeatureExtractor(config)
    signal = np.random.default_rng(3).normal(size=int(9.7 * config.sample_rate)).astype(np.float32)
    expected, starts = extractor.windows_from_signal(signal)
    stream = extractor.windows()
    parts = []
    for block in np.array_split(signal, 7):
        if (batch := stream.push_deferred(block)) is not None:
            parts.append(batch[0])
    if (batch := stream.finish_deferred()) is not None:
        parts.append(batch[0])
    joined = DeferredWindows.join(parts)
    assert len(joined) == len(expected) == len(starts)
    np.testing.assert_array_equal(joined.images(), expected)
    head, tail = joined.split(5)
    np.testing.assert_array_equal(tail.images(np.array([0, 3])), expected[[5, 8]])
    np.testing.assert_array_equal(head.images(), expected[:5])


def test_batches_release_whole_batches_in_order_and_then_the_rest():
    batches = _Batches(4)
    rows = np.arange(11)
    out = [batches.add(rows[:3], -rows[:3]), batches.add(rows[3:9], -rows[3:9]), batches.add(rows[9:], -rows[9:])]
    assert out[0] is None and out[2] is None
    np.testing.assert_array_equal(out[1][0], np.arange(8))
    np.testing.assert_array_equal(out[1][1], -np.arange(8))
    rest = batches.rest()
    np.testing.assert_array_equal(rest[0], [8, 9, 10])
    assert batches.rest() is None


@pytest.mark.parametrize("name", ["../elsewhere.tflite", "/abs/model.tflite", "sub/model.tflite", "", ".."])
def test_card_files_must_be_plain_names_inside_the_bundle(name):
    from anemonefish.card import FrontEndConfig, ModelCard

    with pytest.raises(ValueError, match="must be a plain file name inside the bundle"):
        ModelCard(name="x", version="1", classes=["a", "b"], frontend=FrontEndConfig(), files={"tflite": name})


def test_a_stride_longer_than_the_window_is_refused():
    from anemonefish.card import FrontEndConfig

    with pytest.raises(ValueError, match="would go unscored"):
        FrontEndConfig(window_s=1.0, stride_s=1.5)
