"""One feature front end for training and serving.

A streamed, centred STFT (the same frames ``librosa.stft(center=True, pad_mode="constant")``
computes, with a periodic Hann window) -> power in dB for the bins up to ``fmax`` ->
1.0 s windows on the frame grid -> bilinear resize exactly as ``tf.image.resize``
(half-pixel centres, no antialias) -> per-window normalisation.

Training calls :meth:`FeatureExtractor.windows_from_signal`, which runs the very same
streaming code over one block, so a model always sees the features it was trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from anemonefish.card import FrontEndConfig

# Short transforms (the shipped model's 128-point frames, 39 kept bins) run as one matrix
# product over the kept bins only: measured 3x faster than numpy's rfft and faster than
# scipy.fft, whose import alone (~150 ms) was half the library's import time. Above this
# many matrix entries (n_fft 512 and up) the FFT is as fast or faster: numpy.fft does those.
_MAX_DFT_MATRIX_ENTRIES = 50_000

# (images [n, H, W, 1], window start times in seconds [n])
WindowBatch = tuple[np.ndarray, np.ndarray]


def resize_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Row-stochastic matrix R (out x in) with ``R @ v`` == tf.image.resize's bilinear 1-D pass.

    Mirrors TensorFlow's ``compute_interpolation_weights`` with ``HalfPixelScaler``:
    ``in = (o + 0.5) * in/out - 0.5``, lower = max(floor(in), 0), upper = min(ceil(in),
    in - 1), weight of upper = in - floor(in).
    """
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    scale = in_size / out_size
    for o in range(out_size):
        position = (o + 0.5) * scale - 0.5
        floor = np.floor(position)
        lower = max(int(floor), 0)
        upper = min(int(np.ceil(position)), in_size - 1)
        lerp = position - floor
        matrix[o, lower] += 1.0 - lerp
        matrix[o, upper] += lerp
    return matrix.astype(np.float32)


def resize_bilinear(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a batch ``[n, h, w]`` like ``tf.image.resize(..., "bilinear")`` (float32)."""
    _, h, w = images.shape
    out = images
    if h != height:
        out = np.einsum("oh,nhw->now", resize_matrix(h, height), out, optimize=True)
    if w != width:
        out = out @ resize_matrix(w, width).T
    return np.ascontiguousarray(out, dtype=np.float32)


def normalise(images: np.ndarray, method: str) -> np.ndarray:
    """Per-window scaling of a batch ``[n, h, w]`` in place."""
    if method == "none" or len(images) == 0:
        return images
    flat = images.reshape(len(images), -1)
    if method == "standardize":
        mean = flat.mean(axis=1, keepdims=True)
        std = flat.std(axis=1, keepdims=True)
        flat -= mean
        flat /= np.maximum(std, 1e-3)  # a silent window stays ~0 instead of exploding
    elif method == "minmax":
        low = flat.min(axis=1, keepdims=True)
        high = flat.max(axis=1, keepdims=True)
        flat -= low
        flat /= np.maximum(high - low, 1e-6)
    else:  # pragma: no cover - the card's Literal forbids it
        raise ValueError(f"unknown normalisation {method!r}")
    return images


def _windowed_band_dft(n_fft: int, lo: int, hi: int, window: np.ndarray) -> np.ndarray | None:
    """``[n_fft, 2 * bins]`` float32 matrix: a frame times it gives the windowed rfft's real
    and imaginary parts for bins ``lo..hi-1``; None where the FFT is cheaper."""
    if n_fft * 2 * (hi - lo) > _MAX_DFT_MATRIX_ENTRIES:
        return None
    # Angles reduced modulo n_fft in integers first, so cos/sin stay exact for every bin.
    phase = 2.0 * np.pi * (np.outer(np.arange(n_fft), np.arange(lo, hi)) % n_fft) / n_fft
    matrix = np.concatenate([np.cos(phase), -np.sin(phase)], axis=1) * window[:, None].astype(np.float64)
    return matrix.astype(np.float32)


class StreamingSpectrogram:
    """Centred STFT power (dB) over a stream of blocks, identical to one pass over the whole signal.

    Keeps only the samples the next frame still needs (less than ``n_fft``) between blocks.
    """

    def __init__(self, config: FrontEndConfig) -> None:
        self.config = config
        self._window = np.hanning(config.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
        self._lo, self._hi = config.bin_range
        self._dft = _windowed_band_dft(config.n_fft, self._lo, self._hi, self._window)
        # center=True: the signal is padded with n_fft // 2 zeros on both sides.
        self._pending = np.zeros(config.n_fft // 2, dtype=np.float32)
        self._samples_seen = 0
        self.frames_emitted = 0

    def _frames(self, padded: np.ndarray) -> tuple[np.ndarray, int]:
        n_fft, hop = self.config.n_fft, self.config.hop_length
        if len(padded) < n_fft:
            return np.zeros((self._hi - self._lo, 0), np.float32), 0
        count = 1 + (len(padded) - n_fft) // hop
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[:: hop][:count]
        if self._dft is not None:
            parts = frames @ self._dft  # [frames, 2 * bins]: real parts, then imaginary parts
            real, imag = parts[:, : self._hi - self._lo], parts[:, self._hi - self._lo :]
        else:
            band = np.fft.rfft(frames * self._window, axis=1)[:, self._lo : self._hi]
            real, imag = band.real, band.imag
        power = real * real + imag * imag
        np.maximum(power, self.config.amin, out=power)
        db = 10.0 * np.log10(power)
        return np.ascontiguousarray(db.T, dtype=np.float32), count

    def push(self, block: np.ndarray) -> np.ndarray:
        """Feed samples; return the new complete frames as ``[bins, frames]`` dB."""
        block = np.asarray(block, dtype=np.float32)
        self._samples_seen += len(block)
        padded = np.concatenate([self._pending, block]) if len(self._pending) else block
        spec, count = self._frames(padded)
        self._pending = padded[count * self.config.hop_length :]
        self.frames_emitted += count
        return spec

    def finish(self) -> np.ndarray:
        """Flush with the trailing ``n_fft // 2`` zeros; frames total ``1 + n // hop`` like librosa."""
        n_fft, hop = self.config.n_fft, self.config.hop_length
        total = 1 + self._samples_seen // hop
        padded = np.concatenate([self._pending, np.zeros(n_fft // 2, np.float32)])
        spec, count = self._frames(padded)
        keep = max(0, min(count, total - self.frames_emitted))
        self.frames_emitted += keep
        self._pending = np.zeros(0, np.float32)
        return spec[:, :keep]


class FeatureExtractor:
    """Turns a stream of samples at ``config.sample_rate`` into batches of window images."""

    def __init__(self, config: FrontEndConfig) -> None:
        self.config = config

    @cached_property
    def _row_matrix(self) -> np.ndarray | None:
        height, _ = self.config.image_shape
        return None if height == self.config.n_bins else resize_matrix(self.config.n_bins, height)

    @cached_property
    def _column_matrix(self) -> np.ndarray | None:
        _, width = self.config.image_shape
        frames = self.config.frames_per_window
        return None if width == frames else resize_matrix(frames, width).T.copy()

    def _images(self, spec: np.ndarray, first_frame: np.ndarray) -> np.ndarray:
        """Cut windows (starting at the given frame offsets into ``spec``) and finish them."""
        frames = self.config.frames_per_window
        index = first_frame[:, None] + np.arange(frames)[None, :]
        windows = np.transpose(spec[:, index], (1, 0, 2))  # [n, rows, frames]
        if self._column_matrix is not None:
            windows = windows @ self._column_matrix
        images = normalise(np.ascontiguousarray(windows, dtype=np.float32), self.config.normalisation)
        return images[..., None]

    def stream(self, blocks: Iterable[np.ndarray]) -> Iterator[WindowBatch]:
        """Yield ``(images [n, H, W, 1], window start times [n])`` as soon as windows are complete.

        Only windows lying wholly inside the recording are produced, the last one ending at
        or before the final sample. Frames older than the next window are dropped, so memory
        does not grow with the stream.
        """
        windows = self.windows()
        for block in blocks:
            if (batch := windows.push(block)) is not None:
                yield batch
        if (batch := windows.finish()) is not None:
            yield batch

    def windows(self) -> WindowStream:
        """A push-style window stream, for callers that feed one stream of blocks to two front ends."""
        return WindowStream(self)

    def windows_from_signal(self, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All windows of an in-memory signal (at ``config.sample_rate``): the training path."""
        height, width = self.config.image_shape
        images, starts = [np.zeros((0, height, width, 1), np.float32)], [np.zeros(0)]
        for batch, batch_starts in self.stream([np.asarray(signal, dtype=np.float32)]):
            images.append(batch)
            starts.append(batch_starts)
        return np.concatenate(images), np.concatenate(starts)

    def spectrogram(self, signal: np.ndarray) -> np.ndarray:
        """The full dB spectrogram ``[bins, frames]`` of a signal (for tests and plots)."""
        stft = StreamingSpectrogram(self.config)
        return np.concatenate([stft.push(signal), stft.finish()], axis=1)


@dataclass(frozen=True)
class DeferredWindows:
    """Windows of one front end not yet cut out of their spectrogram.

    Neighbouring windows share 80 % of their frames, so the spectrogram they span is about a
    fifth the size of their images, and a caller that needs only some of them (a verifier
    behind a gate) cuts only those.
    """

    extractor: FeatureExtractor
    spec: np.ndarray  # [rows, frames]: the rows of every window, before the column resize
    first_frames: np.ndarray  # [n]: each window's first column in ``spec``

    def __len__(self) -> int:
        return len(self.first_frames)

    def images(self, which: np.ndarray | None = None) -> np.ndarray:
        """Images ``[n, H, W, 1]`` of all windows, or of the positions ``which``."""
        first = self.first_frames if which is None else self.first_frames[which]
        return self.extractor._images(self.spec, first)

    def split(self, count: int) -> tuple[DeferredWindows, DeferredWindows]:
        """The first ``count`` windows and the rest (both still share ``spec``)."""
        return (
            DeferredWindows(self.extractor, self.spec, self.first_frames[:count]),
            DeferredWindows(self.extractor, self.spec, self.first_frames[count:]),
        )

    @staticmethod
    def join(parts: list[DeferredWindows]) -> DeferredWindows:
        """One batch of the windows of ``parts``, in order (their spectrograms side by side)."""
        if len(parts) == 1:
            return parts[0]
        offsets = np.cumsum([0] + [part.spec.shape[1] for part in parts[:-1]])
        return DeferredWindows(
            parts[0].extractor,
            np.concatenate([part.spec for part in parts], axis=1),
            np.concatenate([part.first_frames + offset for part, offset in zip(parts, offsets, strict=True)]),
        )


def _finished(batch: tuple[DeferredWindows, np.ndarray] | None) -> WindowBatch | None:
    return None if batch is None else (batch[0].images(), batch[1])


class WindowStream:
    """The state of one :meth:`FeatureExtractor.stream`: push blocks, take the windows completed."""

    def __init__(self, extractor: FeatureExtractor) -> None:
        config = extractor.config
        self._extractor = extractor
        self._config = config
        self._stft = StreamingSpectrogram(config)
        rows = extractor._row_matrix.shape[0] if extractor._row_matrix is not None else config.n_bins
        self._held = np.zeros((rows, 0), np.float32)
        self._held_offset = 0  # global index of held[:, 0]
        self._next_window = 0

    def push(self, block: np.ndarray) -> WindowBatch | None:
        """Add samples; returns the windows they complete, if any."""
        return _finished(self.push_deferred(block))

    def finish(self) -> WindowBatch | None:
        """End of the stream: the last complete windows."""
        return _finished(self.finish_deferred())

    def push_deferred(self, block: np.ndarray) -> tuple[DeferredWindows, np.ndarray] | None:
        """As :meth:`push`, with the windows not yet cut out (see :class:`DeferredWindows`)."""
        self._add(self._stft.push(block))
        return self._cut(None)

    def finish_deferred(self) -> tuple[DeferredWindows, np.ndarray] | None:
        """As :meth:`finish`, with the windows not yet cut out."""
        self._add(self._stft.finish())
        return self._cut(self._config.n_windows(self._stft._samples_seen))

    def _add(self, spec: np.ndarray) -> None:
        if spec.shape[1] == 0:
            return
        if self._extractor._row_matrix is not None:
            spec = self._extractor._row_matrix @ spec
        self._held = np.concatenate([self._held, spec], axis=1) if self._held.shape[1] else spec

    def _cut(self, limit: int | None) -> tuple[DeferredWindows, np.ndarray] | None:
        config = self._config
        available_until = self._held_offset + self._held.shape[1]
        ready = []
        while limit is None or self._next_window < limit:
            start = config.window_start_frame(self._next_window)
            if start + config.frames_per_window > available_until:
                break
            ready.append(self._next_window)
            self._next_window += 1
        batch = None
        if ready:
            indices = np.asarray(ready)
            first = np.asarray([config.window_start_frame(i) for i in ready]) - self._held_offset
            # A view: ``held`` is only ever replaced, never written in place.
            spec = self._held[:, first[0] : first[-1] + config.frames_per_window]
            batch = (DeferredWindows(self._extractor, spec, first - first[0]), indices * config.stride_s)
        drop = config.window_start_frame(self._next_window) - self._held_offset
        if drop > 0:
            self._held = self._held[:, drop:]
            self._held_offset += drop
        return batch
