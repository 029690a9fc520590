"""The small CNN the shipped model uses (Keras; imported only by training code).

Sized for the worker: about 3 M multiply-adds per 39x100 window, so an hour of audio
(18,000 windows at a 0.2 s stride) is detected in about 3.5 s on two cores, decoding
included (docs/benchmarks.md). The last
feature map is flattened rather than pooled: where a sound sits in frequency (anemonefish
f0 370-900 Hz vs lower fish grunts) is part of what tells them apart.
"""

from __future__ import annotations

from typing import Any


def build_classifier(
    input_shape: tuple[int, int, int], n_classes: int, width: int, dense_units: int, frequency_pool: int = 2,
    time_pool: int = 2,
) -> Any:
    """Contrast front layers -> three conv blocks (width, 2*width, 4*width) -> dense -> softmax.

    Each block halves both axes, except that the first pools ``frequency_pool`` bins and
    ``time_pool`` frames into one: a finer spectrogram (more bins, or more frames at a
    shorter hop) is read at full resolution by the first convolutions only, and the rest
    of the network costs what it did on the coarser one.

    The first layers (built-in Keras layers only, so the model loads without custom code
    and converts to plain LiteRT ops) give the convolutions two views of the window:
    the dB image minus each frequency row's mean over time (removes stationary
    background: hum, boats, 1/f tilt), and that minus each frame's mean over frequency
    (removes broadband clicks such as snapping shrimp, leaving a call's narrow band).
    """
    from tensorflow import keras

    layers = keras.layers
    height, width_frames, _ = input_shape
    inputs = keras.Input(shape=input_shape, name="spectrogram")
    row_mean = layers.AveragePooling2D((1, width_frames), name="row_mean")(inputs)
    background_free = layers.Subtract(name="minus_row_mean")([inputs, row_mean])
    col_mean = layers.AveragePooling2D((height, 1), name="frame_mean")(background_free)
    click_free = layers.Subtract(name="minus_frame_mean")([background_free, col_mean])
    x = layers.Concatenate(name="views")([background_free, click_free])
    for i, filters in enumerate((width, 2 * width, 4 * width)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        pool = (frequency_pool, time_pool) if i == 0 else (2, 2)
        x = layers.MaxPooling2D(pool, padding="same", name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="anemonefish_cnn")
