"""Export a Keras classifier to LiteRT and write a model bundle (model.keras, model.tflite, card.json)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from anemonefish.card import ModelCard, VerifierConfig
from anemonefish.exceptions import BundleTargetError, ModelBundleError

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


def check_bundle_target(out_dir: str | Path, replace: bool = False) -> Path:
    """Where a new bundle may go, or :class:`BundleTargetError` saying why not.

    A bundle replaces only a bundle, and only when asked (``replace``): a folder that holds
    anything else (recordings, the model being imported, a thesis) is never touched. Called
    before any work, so a 20-minute training run cannot fail at its very end over ``-o``.
    """
    out = Path(os.path.abspath(out_dir))  # "." has no name to stage a sibling by
    if out.is_symlink():
        raise BundleTargetError(f"{out_dir}: is a link; give the folder itself")
    if out.exists():
        if not out.is_dir():
            raise BundleTargetError(f"{out_dir}: exists and is not a folder")
        if not (out / CARD_FILE).is_file():
            if any(out.iterdir()):
                raise BundleTargetError(f"{out_dir}: holds files and is not a model bundle; not replacing it")
        elif not replace:
            raise BundleTargetError(f"{out_dir}: is a model bundle already (--overwrite replaces it)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleTargetError(f"{out_dir}: cannot create its folder ({exc.strerror or exc})") from exc
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise BundleTargetError(f"{out_dir}: its folder {out.parent} is not writable")
    return out


def _staging_folder(out: Path) -> Path:
    """A new sibling of ``out`` to build the bundle in: made by mkdir, so it gets the usual
    mode (0755 under umask 022), not ``mkdtemp``'s 0700 that other users cannot read."""
    staging = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
    staging.mkdir()
    return staging


def write_bundle(
    model: Any, card: ModelCard, out_dir: str | Path, check_images: np.ndarray | None = None, replace: bool = False
) -> Path:
    """Write the bundle to ``out_dir`` atomically (a sibling temp folder renamed into place).

    If ``check_images`` is given, the LiteRT export must agree with Keras on them, so a
    broken conversion can never be shipped. An existing ``out_dir`` is replaced only if it
    is a bundle and ``replace`` is set (:func:`check_bundle_target`).
    """
    out = check_bundle_target(out_dir, replace)
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
    staging = _staging_folder(out)
    try:
        model.save(staging / KERAS_FILE)
        (staging / TFLITE_FILE).write_bytes(tflite)
        if card.created_at is None:
            card = card.model_copy(update={"created_at": datetime.now(UTC).isoformat(timespec="seconds")})
        card = card.model_copy(update={"files": {"tflite": TFLITE_FILE, "keras": KERAS_FILE}})
        (staging / CARD_FILE).write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
        _move_into_place(staging, out, replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _move_into_place(staging: Path, out: Path, replace: bool) -> None:
    """Replace ``out`` by the finished ``staging`` folder (a sibling), never leaving half of either.

    Checked again here, since the folder may have changed while the bundle was built.
    """
    check_bundle_target(out, replace)
    if out.exists():
        backup = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.old")
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
    replace: bool = False,
) -> Path:
    """Write a copy of a bundle that carries a second bundle as its verifier (atomically).

    Both bundles are loaded and checked against each other first (errors name them), and
    the result is loaded again before it is moved into place, so a pair whose classes or
    windows disagree never reaches ``out_dir``. ``out_dir`` may be ``bundle_dir`` itself
    with ``replace``.
    """
    from anemonefish.model import check_verifier, load_bundle

    out = check_bundle_target(out_dir, replace)
    primary, verifier = load_bundle(bundle_dir), load_bundle(verifier_dir)
    if primary.card.verifier is not None:
        raise ModelBundleError(f"{bundle_dir}: already has a verifier")
    check_verifier(primary.card, verifier, str(verifier_dir))
    config = VerifierConfig(gate=gate)
    update: dict[str, Any] = {"verifier": config}
    if detection_defaults is not None:
        update["detection_defaults"] = detection_defaults
    if name is not None:
        update["name"] = name
    if version is not None:
        update["version"] = version
    card = ModelCard.model_validate({**primary.card.model_dump(), **update})
    staging = _staging_folder(out)
    try:
        for role, file in primary.card.files.items():
            if not (primary.path / file).is_file():
                raise ModelBundleError(f"{primary.path}: the card's {role} file {file} is missing")
            shutil.copyfile(primary.path / file, staging / file)
        # Contents only: new files and folders get the usual modes, whatever the sources had.
        shutil.copytree(verifier.path, staging / config.path, copy_function=shutil.copyfile)
        os.chmod(staging / config.path, staging.stat().st_mode & 0o777)
        (staging / CARD_FILE).write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
        load_bundle(staging)  # the copies load as a pair
        _move_into_place(staging, out, replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


# Where update_card keeps the metrics a change of defaults left behind.
BEFORE_RETUNE = "before_retune"


def update_card(bundle_dir: str | Path, metrics: dict[str, Any] | None = None, detection_defaults: dict[str, Any] | None = None) -> ModelCard:
    """Merge ``metrics`` into a bundle's card and/or replace its ``detection_defaults`` (atomically).

    The quality benchmark writes its numbers here; ``anemonefish model retune`` its defaults.
    Metrics measured at other defaults than the new ones no longer describe the bundle as
    served: they move under ``metrics.before_retune`` with the defaults they were measured
    at (replacing an earlier such set), so the card's own figures are all at its defaults.
    """
    path = Path(bundle_dir) / CARD_FILE
    card = ModelCard.model_validate_json(path.read_text())
    kept = dict(card.metrics)
    if detection_defaults is not None and detection_defaults != card.detection_defaults:
        stale = {k: v for k, v in card.metrics.items() if k not in (metrics or {}) and k != BEFORE_RETUNE}
        kept = {BEFORE_RETUNE: {"detection_defaults": card.detection_defaults, **stale}} if stale else {}
    update: dict[str, Any] = {"metrics": {**kept, **(metrics or {})}}
    if detection_defaults is not None:
        update["detection_defaults"] = detection_defaults
    card = ModelCard.model_validate({**card.model_dump(), **update})
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
    tmp.replace(path)
    return card
