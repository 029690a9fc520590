"""The model card: everything needed to feed a model exactly the features it was trained on.

A model bundle is a folder with ``card.json`` beside the exported model(s). The card's
``frontend`` drives :mod:`anemonefish.features` both when training and when serving, so
the two can never drift apart.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Normalisation = Literal["standardize", "minmax", "none"]
EventTiming = Literal["centre", "containment", "overlap"]


class FrontEndConfig(BaseModel):
    """Spectrogram and windowing parameters, read from the model card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_rate: int = Field(6400, gt=0, description="Rate the audio is resampled to (Hz).")
    n_fft: int = Field(1024, gt=0, description="FFT length in samples (periodic Hann window).")
    hop_length: int = Field(256, gt=0, description="STFT hop in samples.")
    fmin: float = Field(0.0, ge=0, description="Lowest frequency bin kept (Hz).")
    fmax: float = Field(2000.0, gt=0, description="Highest frequency bin kept (Hz).")
    window_s: float = Field(1.0, gt=0, description="Length of one classified window (s).")
    # The seed used 0.4 s; with its 5-window moving-average smoothing an isolated 0.1 s pop
    # lies in only 2-3 windows and is smoothed below a 0.5 threshold. At 0.2 s it spans
    # 5-6 windows, so the seed's post-processing defaults keep working on single calls.
    stride_s: float = Field(0.2, gt=0, description="Step between windows (s).")
    amin: float = Field(1e-10, gt=0, description="Floor of the power before log10.")
    normalisation: Normalisation = Field(
        "standardize", description="Per-window scaling applied after the resize."
    )
    event_timing: EventTiming = Field(
        "centre",
        description="What an active window says about time, so runs of windows map to events: "
        "'centre' - each window stands for the stride-long slice at its centre (a model whose "
        "positive windows hold a call's onset in that zone); 'containment' - a positive window "
        "contains the whole call, so the call lies where the run's windows overlap; 'overlap' - a "
        "positive window overlaps the sound by at least MIN_OVERLAP_S (or half the sound).",
    )
    class_event_timing: dict[str, EventTiming] = Field(
        default_factory=dict,
        description="Classes whose positive windows mean something else than event_timing says: "
        "the product's training marks anemonefish by its onset ('centre') but other fish sounds "
        "by overlap, so events of those are timed as 'overlap'.",
    )
    image_height: int | None = Field(
        None, gt=0, description="Frequency rows after resize; None keeps the native bins."
    )
    image_width: int | None = Field(
        None, gt=0, description="Time columns after resize; None keeps the native frames."
    )

    def timing_for(self, class_name: str) -> EventTiming:
        """What a positive window of ``class_name`` says about time."""
        return self.class_event_timing.get(class_name, self.event_timing)

    @model_validator(mode="after")
    def _check(self) -> FrontEndConfig:
        if self.fmax > self.sample_rate / 2:
            raise ValueError(f"fmax {self.fmax} Hz is above Nyquist ({self.sample_rate / 2} Hz)")
        if self.fmin >= self.fmax:
            raise ValueError("fmin must be below fmax")
        if self.n_fft < self.hop_length:
            raise ValueError(f"n_fft {self.n_fft} is shorter than hop_length {self.hop_length}")
        if self.stride_s > self.window_s:
            raise ValueError(f"stride_s {self.stride_s} is longer than window_s {self.window_s}: audio between windows would go unscored")
        return self

    @property
    def bin_range(self) -> tuple[int, int]:
        """Half-open range of rfft bins whose centre frequency lies in [fmin, fmax]."""
        lo = math.ceil(self.fmin * self.n_fft / self.sample_rate - 1e-9)
        hi = math.floor(self.fmax * self.n_fft / self.sample_rate + 1e-9) + 1
        return lo, hi

    @property
    def n_bins(self) -> int:
        lo, hi = self.bin_range
        return hi - lo

    @property
    def frames_per_window(self) -> int:
        """STFT frames whose centres fall inside one window (frames are centred, as librosa)."""
        return max(1, round(self.window_s * self.sample_rate / self.hop_length))

    @property
    def window_samples(self) -> int:
        return round(self.window_s * self.sample_rate)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the image the model sees."""
        return (self.image_height or self.n_bins, self.image_width or self.frames_per_window)

    def window_start_frame(self, index: int) -> int:
        """First STFT frame of window ``index`` (its start sample rounded to the hop grid)."""
        return round(index * self.stride_s * self.sample_rate / self.hop_length)

    def window_start_s(self, index: int) -> float:
        return index * self.stride_s

    def n_windows(self, n_samples: int) -> int:
        """Complete windows in a recording of ``n_samples`` samples at ``sample_rate``."""
        if n_samples < self.window_samples:
            return 0
        return int((n_samples - self.window_samples) / (self.stride_s * self.sample_rate) + 1e-9) + 1


class VerifierConfig(BaseModel):
    """A second network, with its own front end, that re-scores the windows the first finds plausible.

    Two networks that look at the audio differently (20 ms and 10 ms frames) err on
    different windows, so their mean score is more precise than either. Most windows of
    a recording are plain noise to the first network, and the verifier would not change
    their events, so it only runs where the first network's score for the target class
    reaches ``gate``: on held-out soundscapes about one window in seven, for the same
    F1 as running it everywhere (docs/benchmarks.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        "verifier", min_length=1, description="Folder of the verifier's own bundle, inside this bundle."
    )
    gate: float = Field(
        0.02,
        ge=0.0,
        le=1.0,
        description="The verifier scores a window when the first network's target-class score is at "
        "least this; the window's scores become the mean of the two. Elsewhere the first network's "
        "scores stand. 0 runs the verifier on every window.",
    )

    @model_validator(mode="after")
    def _check(self) -> VerifierConfig:
        parts = PurePosixPath(self.path).parts
        if PurePosixPath(self.path).is_absolute() or ".." in parts or "\\" in self.path:
            raise ValueError(f"verifier path {self.path!r} must be a relative folder inside the bundle")
        return self


class ModelCard(BaseModel):
    """``card.json``: what the model is, what it expects and how well it did."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    name: str
    version: str
    classes: list[str] = Field(min_length=2)
    frontend: FrontEndConfig
    files: dict[str, str] = Field(
        default_factory=lambda: {"tflite": "model.tflite", "keras": "model.keras"},
        description="Files of the bundle by role: 'tflite' (or 'onnx') is served, 'keras' trains.",
    )
    detection_defaults: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    verifier: VerifierConfig | None = Field(
        None, description="Optional second network that re-scores plausible windows (see VerifierConfig)."
    )
    notes: str = ""
    created_at: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fish_sounds_timed_as_trained(cls, data: Any) -> Any:
        """Cards ``anemonefish train`` wrote before ``class_event_timing`` existed (they record
        ``training.spec``): that training already labelled other fish sounds by overlap."""
        if not isinstance(data, dict) or not isinstance(data.get("frontend"), dict):
            return data
        trained_here = isinstance(data.get("training"), dict) and "spec" in data["training"]
        if trained_here and "class_event_timing" not in data["frontend"] and "biological" in (data.get("classes") or []):
            data = {**data, "frontend": {**data["frontend"], "class_event_timing": {"biological": "overlap"}}}
        return data

    @model_validator(mode="after")
    def _files_are_in_the_bundle(self) -> ModelCard:
        # Bundles are copied file by file (add-verifier): a name must not lead elsewhere.
        for role, name in self.files.items():
            if not name or PurePosixPath(name).name != name or name in (".", "..") or "\\" in name:
                raise ValueError(f"files.{role}: {name!r} must be a plain file name inside the bundle")
        return self
