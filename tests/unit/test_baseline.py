"""The band-energy baseline detector."""

from __future__ import annotations

import numpy as np

from anemonefish.baseline import EnergyDetector
from anemonefish.card import FrontEndConfig
from anemonefish.evaluate import evaluate_events
from anemonefish.params import DetectionParams
from anemonefish.synth import SynthConfig, synthesize, write_soundscape

FRONTEND = FrontEndConfig(n_fft=256, hop_length=128, fmin=100.0)
QUIET = dict(duration_s=30.0, sample_rate=6400, variety=False, boat_probability=0.0, biological_per_min=0.0, whistles_per_min=0.0, shrimp_per_s=(0.0, 0.0))


def test_scores_follow_the_window_grid():
    detector = EnergyDetector(FRONTEND)
    signal = np.random.default_rng(0).standard_normal(6400 * 10).astype(np.float32)
    scores = detector.score_signal(signal)
    assert scores.shape == (FRONTEND.n_windows(len(signal)), 2)
    assert np.allclose(scores.sum(axis=1), 1.0)
    assert np.all((scores >= 0) & (scores <= 1))


def test_loud_calls_are_found_with_their_onsets():
    scape = synthesize(SynthConfig(snr_db=15.0, anemonefish_per_min=12.0, **QUIET), seed=4)
    assert len(scape.labelled("anemonefish")) >= 3
    events = EnergyDetector(FRONTEND).detect_signal(scape.signal, DetectionParams(smoothing_windows=3))
    m = evaluate_events(events, scape.events)
    assert m.recall >= 0.75
    assert m.precision >= 0.75


def test_plain_noise_raises_few_events():
    scape = synthesize(SynthConfig(anemonefish_per_min=0.0, **QUIET), seed=8)
    events = EnergyDetector(FRONTEND).detect_signal(scape.signal, DetectionParams(smoothing_windows=3))
    assert len(events) <= 1


def test_detect_decodes_files_through_the_library(tmp_path):
    scape = synthesize(SynthConfig(snr_db=15.0, anemonefish_per_min=12.0, **{**QUIET, "sample_rate": 32000}), seed=4)
    wav, _ = write_soundscape(scape, tmp_path, "reef")
    from_file = EnergyDetector(FRONTEND).detect(wav, DetectionParams(smoothing_windows=3))
    assert evaluate_events(from_file, scape.events).recall >= 0.75
