"""Helpers shared by the test suites: generated audio, a tiny model bundle, paths to the given material.

A plain module (on pytest's pythonpath), not a conftest: several suites have their own
conftest.py, and ``from conftest import`` would pick whichever was loaded first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
GIVEN = REPO.parent / "shared"  # material handed to the project, beside the repo
REAL_DIR = GIVEN / "data" / "real"
REAL_WAV = REAL_DIR / "AMAR173.4.20190920T004248Z.wav"
REAL_RAVEN = REAL_DIR / "FS_plot_AMAR173.4.20190920T004248Z.chan1.Table.1.selections.txt"


def write_tone_wav(path: Path, seconds: float, sr: int = 48000, channels: int = 1, subtype: str = "PCM_16",
                   seed: int = 0, fmt: str | None = None) -> Path:
    """Noise plus a 600 Hz tone: a valid recording of known length."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    mono = 0.05 * rng.standard_normal(len(t)) + 0.2 * np.sin(2 * np.pi * 600 * t)
    data = np.stack([mono * (0.5 + 0.5 * c) for c in range(channels)], axis=1) if channels > 1 else mono
    sf.write(path, data.astype(np.float32), sr, subtype=subtype, format=fmt)
    return path


def build_tiny_bundle(directory: Path, frontend: dict | None = None, classes=("noise", "anemonefish", "biological"),
                      seed: int = 0) -> Path:
    """A randomly initialised (untrained) CNN exported to LiteRT: exercises the runtime, not quality."""
    import tensorflow as tf

    from anemonefish.card import FrontEndConfig, ModelCard

    config = FrontEndConfig(**(frontend or {"image_height": 32}))
    height, width = config.image_shape
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.Input((height, width, 1)),
        tf.keras.layers.Conv2D(4, 3, activation="relu"),
        tf.keras.layers.GlobalAveragePooling2D(),
        tf.keras.layers.Dense(len(classes), activation="softmax"),
    ])
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / "model.keras")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    (directory / "model.tflite").write_bytes(converter.convert())
    card = ModelCard(name="tiny-test", version="0.0.0", classes=list(classes), frontend=config)
    (directory / "card.json").write_text(card.model_dump_json(indent=2))
    return directory
