"""Turn a Keras classifier trained elsewhere (e.g. the seed team's 256x256 model) into a bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from anemonefish.card import FrontEndConfig, ModelCard
from anemonefish.exceptions import ModelBundleError
from anemonefish.training.dataset import DEFAULT_CLASSES


def _adapt_input(model: Any, height: int, width: int) -> Any:
    """Serve every model on [batch, H, W, 1]: a 3-channel model gets the window repeated."""
    from tensorflow import keras

    channels = model.input_shape[-1]
    if channels == 1:
        return model
    if channels != 3:
        raise ModelBundleError(f"model input has {channels} channels; expected 1 (or 3, fed the same image)")
    inputs = keras.Input(shape=(height, width, 1), name="spectrogram")
    rgb = keras.layers.Concatenate(axis=-1, name="gray_to_rgb")([inputs, inputs, inputs])
    return keras.Model(inputs, model(rgb), name=f"{model.name}_gray")


def _fixed_input(model: Any, height: int, width: int, channels: int | None) -> Any:
    """The same model on a fixed [H, W] input (LiteRT wants static image dimensions)."""
    from tensorflow import keras

    inputs = keras.Input(shape=(height, width, channels or 1), name="image")
    return keras.Model(inputs, model(inputs), name=model.name)


def _add_softmax(model: Any) -> Any:
    from tensorflow import keras

    outputs = keras.layers.Softmax(name="probabilities")(model.output)
    return keras.Model(model.input, outputs, name=model.name)


def import_keras_model(
    path: str | Path,
    frontend: FrontEndConfig,
    classes: list[str],
    out_dir: str | Path,
    name: str,
    version: str,
    *,
    outputs_logits: bool = False,
    notes: str = "",
    detection_defaults: dict[str, Any] | None = None,
    replace: bool = False,
) -> ModelCard:
    """Load ``path`` (.keras/.h5), check it against the front end and classes, write a bundle.

    The front end must describe the features the model was trained on; its image size is
    taken from the model's input when the front end leaves it unset. A model whose last
    layer emits logits needs ``outputs_logits=True`` (a softmax is appended).
    """
    from anemonefish.training.export import check_bundle_target, write_bundle

    source = Path(path)
    if not source.is_file():
        raise ModelBundleError(f"{source}: no such model file")
    check_bundle_target(out_dir, replace)  # before TensorFlow's seconds of import
    from tensorflow import keras

    try:
        model = keras.models.load_model(source, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ModelBundleError(f"{source}: not a loadable Keras model ({exc})") from exc
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4:
        raise ModelBundleError(f"{source}: expected one image input [batch, H, W, C], got {shape}")
    if None in shape[1:3]:
        # A model that takes any image size: the front end's size is the one it serves.
        if frontend.image_height is None or frontend.image_width is None:
            raise ModelBundleError(f"{source}: the model takes images of any size {shape}; give --image-size HEIGHTxWIDTH")
        model = _fixed_input(model, frontend.image_height, frontend.image_width, shape[3])
        shape = model.input_shape
    height, width = int(shape[1]), int(shape[2])
    if frontend.image_height is None and frontend.image_width is None:
        frontend = frontend.model_copy(update={"image_height": height, "image_width": width})
    if frontend.image_shape != (height, width):
        raise ModelBundleError(
            f"{source}: model input is {height}x{width} but the front end makes {frontend.image_shape[0]}x"
            f"{frontend.image_shape[1]} images (set --image-size {height}x{width})"
        )
    output = model.output_shape
    several = any(isinstance(part, (list, tuple)) for part in output)  # one shape per output
    if several or len(output) != 2:
        raise ModelBundleError(f"{source}: expected one output of class scores [batch, classes], got {output}")
    n_outputs = int(output[-1])
    if n_outputs != len(classes):
        raise ModelBundleError(f"{source}: model has {n_outputs} outputs but {len(classes)} classes were given: {classes} "
                               f"(--classes names one per output, in order; its default is {','.join(DEFAULT_CLASSES)})")
    served = _adapt_input(model, height, width)
    if outputs_logits:
        served = _add_softmax(served)
    card = ModelCard(
        name=name,
        version=version,
        classes=list(classes),
        frontend=frontend,
        detection_defaults=detection_defaults or {},
        training={"imported_from": source.name, "original_input_shape": list(shape[1:])},
        notes=notes
        or (
            f"Imported from {source.name} (trained elsewhere). Native image size {height}x{width} is the "
            "original model's input; the front end above must match how it was trained."
        ),
    )
    check = np.random.default_rng(0).standard_normal((4, height, width, 1)).astype(np.float32)
    write_bundle(served, card, out_dir, check_images=check, replace=replace)
    return card
