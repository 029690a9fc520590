"""Export a Keras classifier to LiteRT and write a model bundle (model.keras, model.tflite, card.json)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from anemonefish.card import ModelCard, VerifierConfig
from anemonefish.exceptions import ModelBundleError

CARD_FILE = "card.json"
KERAS_FILE = "model.keras"
TFLITE_FILE = "model.tflite"


def to_tflite(model: Any) -> bytes:
    """LiteRT flatbuffer with input [batch, H, W, 1] float32 and a resizable batch dimension.

    The converter traces a concrete function whose batch dimension is ``None``, so the
    serving interpreter can ``resize_tensor_input`` to any batch size.
    """
    import tensorflow as tf

    shape = [None, *model.input_shape[1:]]
    spec = tf.TensorSpec(shape, tf.float32, name="spectrogram")

    @tf.function(input_signature=[spec])
    def serve(images: tf.Tensor) -> tf.Tensor:
        return model(images, training=False)

    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    # Freeze the weights into constants: otherwise the converter keeps resource variables
    # (VAR_HANDLE/READ_VARIABLE ops), which XNNPACK cannot fuse (BatchNorm stays unfolded).
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.optimizations = []  # float32 throughout: the model is tiny, exactness matters more
    return bytes(converter.convert())


def run_tflite(tflite: bytes | str | Path, images: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Run a LiteRT model on a batch (used to check an export against Keras)."""
    from ai_edge_litert.interpreter import Interpreter

    content = tflite if isinstance(tflite, bytes) else Path(tflite).read_bytes()
    interpreter = Interpreter(model_content=content, num_threads=num_threads)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(images.shape), strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, np.ascontiguousarray(images, dtype=np.float32))
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def write_bundle(model: Any, card: ModelCard, out_dir: str | Path, check_images: np.ndarray | None = None) -> Path:
    """Write the bundle to ``out_dir`` atomically (a sibling temp folder renamed into place).

    If ``check_images`` is given, the LiteRT export must agree with Keras on them, so a
    broken conversion can never be shipped.
    """
    out = Path(out_dir)
    height, width = card.frontend.image_shape
    in_shape = tuple(model.input_shape[1:])
    if in_shape[:2] != (height, width):
        raise ModelBundleError(
            f"model input {in_shape} does not match the card's image shape {(height, width)}"
        )
    if model.output_shape[-1] != len(card.classes):
        raise ModelBundleError(
            f"model has {model.output_shape[-1]} outputs but the card lists {len(card.classes)} classes"
        )
    tflite = to_tflite(model)
    if check_images is not None and len(check_images):
        expected = np.asarray(model.predict(check_images, verbose=0))
        got = run_tflite(tflite, check_images)
        if not np.allclose(expected, got, atol=1e-4):
            raise ModelBundleError(
                f"LiteRT export differs from Keras by {np.max(np.abs(expected - got)):.2e}"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save(staging / KERAS_FILE)
        (staging / TFLITE_FILE).write_bytes(tflite)
        if card.created_at is None:
            card = card.model_copy(update={"created_at": datetime.now(UTC).isoformat(timespec="seconds")})
        card = card.model_copy(update={"files": {"tflite": TFLITE_FILE, "keras": KERAS_FILE}})
        (staging / CARD_FILE).write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _move_into_place(staging: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``staging`` folder (a sibling), never leaving half of either."""
    if out.exists():
        backup = out.with_name(f".{out.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        out.rename(backup)
        staging.rename(out)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        staging.rename(out)


def attach_verifier(
    bundle_dir: str | Path,
    verifier_dir: str | Path,
    out_dir: str | Path,
    gate: float = VerifierConfig.model_fields["gate"].default,
    detection_defaults: dict[str, Any] | None = None,
    name: str | None = None,
    version: str | None = None,
) -> Path:
    """Write a copy of a bundle that carries a second bundle as its verifier (atomically).

    Both bundles are loaded first, and the result is loaded again before it is moved into
    place, so a pair whose classes or windows disagree never reaches ``out_dir``.
    """
    from anemonefish.model import load_bundle

    primary, verifier = load_bundle(bundle_dir), load_bundle(verifier_dir)
    if primary.card.verifier is not None:
        raise ModelBundleError(f"{bundle_dir}: already has a verifier")
    if verifier.card.verifier is not None:
        raise ModelBundleError(f"{verifier_dir}: a verifier cannot have a verifier of its own")
    config = VerifierConfig(gate=gate)
    update: dict[str, Any] = {"verifier": config}
    if detection_defaults is not None:
        update["detection_defaults"] = detection_defaults
    if name is not None:
        update["name"] = name
    if version is not None:
        update["version"] = version
    card = ModelCard.model_validate({**primary.card.model_dump(), **update})
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for role, file in primary.card.files.items():
            if not (primary.path / file).is_file():
                raise ModelBundleError(f"{primary.path}: the card's {role} file {file} is missing")
            shutil.copy2(primary.path / file, staging / file)
        shutil.copytree(verifier.path, staging / config.path)
        (staging / CARD_FILE).write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
        load_bundle(staging)  # the pair's own checks: same classes, rate, window, stride, timing
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def update_card(bundle_dir: str | Path, metrics: dict[str, Any] | None = None, detection_defaults: dict[str, Any] | None = None) -> ModelCard:
    """Merge ``metrics`` into a bundle's card and/or replace its ``detection_defaults`` (atomically).

    The quality benchmark writes its numbers here; ``anemonefish model retune`` its defaults.
    """
    path = Path(bundle_dir) / CARD_FILE
    card = ModelCard.model_validate_json(path.read_text())
    update: dict[str, Any] = {"metrics": {**card.metrics, **(metrics or {})}}
    if detection_defaults is not None:
        update["detection_defaults"] = detection_defaults
    card = ModelCard.model_validate({**card.model_dump(), **update})
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
    tmp.replace(path)
    return card
