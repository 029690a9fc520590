"""The model bundle installed with the package: small, consistent, served without TensorFlow, and it works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from anemonefish.detect import Detector
from anemonefish.evaluate import evaluate_events
from anemonefish.features import FeatureExtractor
from anemonefish.model import DEFAULT_BUNDLE, load_bundle
from anemonefish.synth import SynthConfig, synthesize

# Far from the training and validation seed streams the card records.
HELD_OUT_SEED = [424_242, 0]


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_bundle())


# The shipped bundle and the verifier it carries (each a complete bundle of its own).
NETWORKS = [DEFAULT_BUNDLE, DEFAULT_BUNDLE / "verifier"]


def test_bundle_is_small_and_complete() -> None:
    files = {str(p.relative_to(DEFAULT_BUNDLE)): p.stat().st_size for p in DEFAULT_BUNDLE.rglob("*") if p.is_file()}
    for prefix in ("", "verifier/"):
        assert {f"{prefix}card.json", f"{prefix}model.tflite", f"{prefix}model.keras"} <= set(files)
    assert sum(files.values()) < 5 * 1024 * 1024
    for bundle in NETWORKS:
        card = json.loads((bundle / "card.json").read_text())
        assert card["classes"] == ["noise", "anemonefish", "biological"]
        assert card["training"].get("seed") is not None  # reproducible from `anemonefish train`
    assert load_bundle().verifier is not None


@pytest.mark.parametrize("bundle_dir", NETWORKS, ids=["first", "verifier"])
def test_exported_model_agrees_with_keras(bundle_dir: Path) -> None:
    import keras  # the dev extra installs it

    bundle = load_bundle(bundle_dir)
    frontend = bundle.card.frontend
    scape = synthesize(SynthConfig(duration_s=20.0, sample_rate=frontend.sample_rate, snr_db=10.0), seed=HELD_OUT_SEED)
    images, _ = FeatureExtractor(frontend).windows_from_signal(scape.signal)
    reference = keras.models.load_model(bundle_dir / "model.keras", compile=False).predict(images, verbose=0)
    np.testing.assert_allclose(bundle.classifier.predict(images), reference, atol=1e-4)


def test_finds_the_calls_of_a_held_out_soundscape(tmp_path: Path, detector: Detector) -> None:
    scape = synthesize(SynthConfig(duration_s=120.0, snr_db=10.0), seed=HELD_OUT_SEED)
    path = tmp_path / "held_out.wav"
    sf.write(path, scape.signal, scape.sample_rate, subtype="PCM_16")
    truth = scape.labelled("anemonefish")
    assert len(truth) >= 5
    result = detector.run(path)
    metrics = evaluate_events(result.events, truth)
    assert metrics.f1 >= 0.8, metrics


def test_other_fish_sounds_asked_for_are_found_where_they_are(tmp_path: Path, detector: Detector) -> None:
    """The network marks other fish sounds by overlap, not by onset: events of them must be
    placed so, or every one lands about 0.4 s early and misses the 0.2 s onset collar."""
    scape = synthesize(SynthConfig(duration_s=120.0, snr_db=10.0, biological_per_min=10.0), seed=HELD_OUT_SEED)
    path = tmp_path / "held_out.wav"
    sf.write(path, scape.signal, scape.sample_rate, subtype="PCM_16")
    truth = [e for e in scape.labelled("biological") if e.f0 < 2000.0]  # whistles above the model's band aside
    assert len(truth) >= 5
    result = detector.run(path, detector.default_params.model_copy(update={"target_class": "biological"}))
    metrics = evaluate_events(result.events, truth, label="biological")
    assert metrics.f1 >= 0.8, metrics


@pytest.mark.parametrize("bundle_dir", NETWORKS, ids=["first", "verifier"])
def test_card_reproduce_line_asks_for_the_shipped_spec(bundle_dir: Path) -> None:
    """The card's `reproduce` command, run through the CLI's own parsing, asks for exactly the
    recorded spec: its flags for what they name, the training defaults for everything else."""
    import shlex

    from anemonefish_services.cli import build_parser
    from anemonefish_services.cli.modeling import train_spec_from_args

    card = json.loads((bundle_dir / "card.json").read_text())
    command = shlex.split(card["training"]["reproduce"])
    assert command[:3] == ["anemonefish", "train", "--synthetic"]
    asked = train_spec_from_args(build_parser().parse_args(command[1:]))
    assert asked.model_dump(mode="json") == card["training"]["spec"]  # every field, as recorded
