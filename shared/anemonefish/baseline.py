"""The baseline to beat: a band-limited energy detector on the model's own window grid.

Per STFT frame (the feature front end's spectrogram, so both detectors see the same
frames), the energy in 300-1000 Hz is compared with an adaptive noise floor (a running
median over ``floor_s`` seconds). A window's score is a logistic of its loudest frame's
excess over the floor, so :func:`anemonefish.events.scores_to_events` turns baseline
scores into events with the very same smoothing, threshold, min-event and min-gap rules
as the model (the target class is ``anemonefish``, the other column its complement).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from anemonefish.audio import AudioSource, CountedBlocks, stream_audio
from anemonefish.card import FrontEndConfig
from anemonefish.events import Event, onset_zone, scores_to_events
from anemonefish.features import StreamingSpectrogram
from anemonefish.params import DetectionParams

CLASSES = ["noise", "anemonefish"]


class EnergyDetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    band_hz: tuple[float, float] = (300.0, 1000.0)
    floor_s: float = Field(10.0, gt=0, description="Length of the running-median noise floor.")
    excess_db: float = Field(6.0, description="Excess over the floor that scores 0.5.")
    slope_db: float = Field(1.5, gt=0, description="dB per logistic unit around excess_db.")
    # Only frames in the window's onset zone count, as for the model's labels, so both
    # detectors' events start near the call's onset.
    zone_s: tuple[float, float] | None = Field(None, description="Part of each window scored (s); None: the onset zone.")


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Centred running median (edges use the frames that exist)."""
    n = len(values)
    half = max(1, width // 2)
    if n <= 2 * half:
        return np.full(n, np.median(values) if n else 0.0)
    padded = np.pad(values, half, mode="reflect")
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(view, axis=1)[:n]


class EnergyDetector:
    """Band energy over an adaptive floor; offline (a whole recording's frames at once)."""

    def __init__(self, frontend: FrontEndConfig | None = None, config: EnergyDetectorConfig | None = None) -> None:
        # The full native spectrogram: the band is cut from it, not from resized images.
        base = frontend or FrontEndConfig()
        self.frontend = base.model_copy(update={"fmin": 0.0, "image_height": None, "image_width": None})
        self.config = config or EnergyDetectorConfig()

    def frame_excess_db(self, blocks: Iterable[np.ndarray]) -> np.ndarray:
        """Band energy (dB) of each frame minus the running-median floor."""
        stft = StreamingSpectrogram(self.frontend)
        parts = [stft.push(block) for block in blocks]
        parts.append(stft.finish())
        spec_db = np.concatenate(parts, axis=1)
        freqs = np.arange(spec_db.shape[0]) * self.frontend.sample_rate / self.frontend.n_fft
        lo, hi = self.config.band_hz
        rows = (freqs >= lo) & (freqs <= hi)
        band = 10.0 * np.log10(np.sum(10.0 ** (spec_db[rows] / 10.0), axis=0) + 1e-20)
        frames_per_s = self.frontend.sample_rate / self.frontend.hop_length
        floor = _running_median(band, int(round(self.config.floor_s * frames_per_s)))
        return band - floor

    def window_scores(self, excess_db: np.ndarray, n_samples: int) -> np.ndarray:
        """``[n_windows, 2]`` scores (noise, anemonefish) on the front end's window grid."""
        fe = self.frontend
        n = fe.n_windows(n_samples)
        frames_per_s = fe.sample_rate / fe.hop_length
        zone = self.config.zone_s or onset_zone(fe)
        lo = int(round(zone[0] * frames_per_s))
        hi = max(lo + 1, int(round(zone[1] * frames_per_s)))
        peak = np.full(n, -np.inf)
        for i in range(n):
            first = fe.window_start_frame(i)
            segment = excess_db[first + lo : first + hi]
            if len(segment):
                peak[i] = segment.max()
        z = (peak - self.config.excess_db) / self.config.slope_db
        target = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return np.stack([1.0 - target, target], axis=1)

    def score_signal(self, signal: np.ndarray) -> np.ndarray:
        """Window scores of a signal already at ``frontend.sample_rate``."""
        return self.window_scores(self.frame_excess_db([np.asarray(signal, np.float32)]), len(signal))

    def detect_signal(self, signal: np.ndarray, params: DetectionParams | None = None) -> list[Event]:
        params = params or DetectionParams(smoothing_windows=3)
        scores = self.score_signal(signal)
        return scores_to_events(scores, CLASSES, self.frontend, params, len(signal) / self.frontend.sample_rate)

    def detect(self, source: AudioSource, params: DetectionParams | None = None) -> list[Event]:
        """Decode ``source`` through the library's audio path, then detect."""
        params = params or DetectionParams(smoothing_windows=3)
        info, blocks = stream_audio(source, self.frontend.sample_rate, params.channel)
        counted = CountedBlocks(blocks)
        excess = self.frame_excess_db(counted)
        blocks.raise_if_damaged()  # a baseline scored on part of a file would be compared with the whole
        scores = self.window_scores(excess, counted.samples)
        return scores_to_events(scores, CLASSES, self.frontend, params, info.duration_s)
