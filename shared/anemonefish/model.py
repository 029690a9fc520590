"""Model bundles and the light inference runtime (LiteRT), with no TensorFlow import.

A bundle is a folder holding ``card.json`` and the exported ``model.tflite`` (plus the
``model.keras`` it came from, which only training and import use). A card may name a
verifier: a second bundle in a sub-folder, with its own front end
(:class:`anemonefish.card.VerifierConfig`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from anemonefish.card import ModelCard
from anemonefish.exceptions import ModelBundleError
from anemonefish.native import native_stderr_silenced

DEFAULT_BUNDLE = Path(__file__).parent / "models" / "default"
SHIPPED = "shipped"  # the name the model commands take for DEFAULT_BUNDLE
# Windows per interpreter call. The interpreter's arena holds every layer's activations
# for a whole batch: at 512 windows that is ~100 MB a network, far outside the caches. At
# 32 the shipped network ran an hour's windows in 1.11 s against 1.36 s at 512 (2 threads),
# and the process peaks ~110 MB lower (docs/benchmarks.md). The detector still gathers
# windows into whole batches, so no block pads one.
DEFAULT_BATCH = 32


def _threads() -> int:
    return int(os.environ.get("ANEMONEFISH_INFERENCE_THREADS", os.cpu_count() or 1))


class LiteRTClassifier:
    """Runs a ``.tflite`` classifier over batches of window images."""

    def __init__(self, path: Path, batch_size: int = DEFAULT_BATCH, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter  # light: no TensorFlow

        try:
            with native_stderr_silenced():
                self._interpreter = Interpreter(model_path=str(path), num_threads=threads or _threads())
        except (ValueError, RuntimeError) as exc:
            raise ModelBundleError(f"{path}: not a loadable LiteRT model ({exc})") from exc
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])
        self.batch_size = batch_size
        self._interpreter.resize_tensor_input(self._input["index"], [batch_size, *self.input_shape])
        with native_stderr_silenced():
            self._interpreter.allocate_tensors()
        self.n_outputs = int(self._interpreter.get_output_details()[0]["shape"][-1])

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``[n, n_classes]`` for images ``[n, *input_shape]``."""
        images = np.asarray(images, dtype=np.float32)
        if images.shape[1:] != self.input_shape:
            raise ModelBundleError(
                f"model expects windows of shape {self.input_shape}, got {images.shape[1:]}"
            )
        out = np.empty((len(images), self.n_outputs), dtype=np.float32)
        batch = np.zeros((self.batch_size, *self.input_shape), dtype=np.float32)
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch[: len(chunk)] = chunk
            if len(chunk) < self.batch_size:
                batch[len(chunk) :] = 0.0
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            out[start : start + len(chunk)] = self._interpreter.get_tensor(self._output["index"])[: len(chunk)]
        return out


@dataclass
class ModelBundle:
    """A model card plus the files it names."""

    path: Path
    card: ModelCard

    @property
    def classes(self) -> list[str]:
        return self.card.classes

    @cached_property
    def classifier(self) -> LiteRTClassifier:
        name = self.card.files.get("tflite")
        if not name:
            raise ModelBundleError(f"{self.path}: the card names no 'tflite' model to serve")
        file = self.path / name
        if not file.is_file():
            raise ModelBundleError(f"{self.path}: the card names {name} but the file is missing")
        classifier = LiteRTClassifier(file)
        expected = (*self.card.frontend.image_shape, 1)
        if classifier.input_shape != expected:
            raise ModelBundleError(
                f"{file}: model input {classifier.input_shape} does not match the card's "
                f"image shape {expected}"
            )
        if classifier.n_outputs != len(self.card.classes):
            raise ModelBundleError(
                f"{file}: model has {classifier.n_outputs} outputs but the card lists "
                f"{len(self.card.classes)} classes"
            )
        return classifier

    @cached_property
    def verifier(self) -> ModelBundle | None:
        """The card's second network, checked to score the same classes on the same windows."""
        config = self.card.verifier
        if config is None:
            return None
        path = self.path / config.path
        verifier = ModelBundle(path=path, card=read_card(path))
        check_verifier(self.card, verifier, str(path))
        return verifier

    def describe(self) -> dict[str, object]:
        """The ``model`` object of the result document."""
        return {"name": self.card.name, "version": self.card.version, "classes": list(self.card.classes)}


def check_verifier(card: ModelCard, verifier: ModelBundle, where: str) -> None:
    """Refuse a verifier (named ``where``) that would not score the same classes on the same windows."""
    if verifier.card.verifier is not None:
        raise ModelBundleError(f"{where}: a verifier cannot have a verifier of its own")
    if verifier.classes != card.classes:
        raise ModelBundleError(f"{where}: the verifier's classes {verifier.classes} differ from the bundle's {card.classes}")
    ours, theirs = card.frontend, verifier.card.frontend
    # The same windows, and the same meaning of a positive one (events use our timing).
    for name in ("sample_rate", "window_s", "stride_s", "event_timing", "class_event_timing"):
        if getattr(ours, name) != getattr(theirs, name):
            why = ("both networks' positive windows must mean the same, as their scores are averaged"
                   if "timing" in name else "both networks must score the same windows")
            raise ModelBundleError(
                f"{where}: the verifier's {name} {getattr(theirs, name)} differs from the bundle's "
                f"{getattr(ours, name)}; {why}"
            )


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    card_file = Path(path) / "card.json"
    if not Path(path).is_dir():
        raise ModelBundleError(f"{path}: not a model bundle folder" + ("" if Path(path).exists() else " (no such folder)"))
    try:
        return ModelCard.model_validate(json.loads(card_file.read_text(encoding="utf-8")))
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise ModelBundleError(f"{path}: no card.json (not a model bundle)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        raise ModelBundleError(f"{card_file}: invalid model card ({exc})") from exc


def bundle_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``ANEMONEFISH_MODEL_DIR``, else the bundle shipped in the package; the
    name ``shipped`` is that bundle wherever a bundle folder is taken, unless a folder of
    that name is there (``./shipped`` reads as ``shipped`` once it is a Path: the user's own
    folder must not be swapped for the package's)."""
    chosen = Path(path if path is not None else os.environ.get("ANEMONEFISH_MODEL_DIR", DEFAULT_BUNDLE))
    return DEFAULT_BUNDLE if str(chosen) == SHIPPED and not chosen.exists() else chosen


def load_bundle(path: str | os.PathLike[str] | None = None, *, eager: bool = True) -> ModelBundle:
    """Load a bundle (the one shipped in the package by default); ``eager`` loads the model now."""
    where = bundle_path(path)
    bundle = ModelBundle(path=where, card=read_card(where))
    if eager:
        _ = bundle.classifier
        if bundle.verifier is not None:
            _ = bundle.verifier.classifier
    return bundle
