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
from functools import cached_property

import numpy as np

from anemonefish.card import FrontEndConfig

# Short transforms (the shipped model's 128-point frames, 39 kept bins) run as one matrix
# product over the kept bins only: measured 3x faster than numpy's rfft and faster than
# scipy.fft, whose import alone (~150 ms) was half the library's import time. Above this
# many matrix entries (n_fft 512 and up) the FFT is as fast or faster: numpy.fft does those.
_MAX_DFT_MATRIX_ENTRIES = 50_000


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

    def stream(self, blocks: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(images [n, H, W, 1], window start times [n])`` as soon as windows are complete.

        Only windows lying wholly inside the recording are produced, the last one ending at
        or before the final sample. Frames older than the next window are dropped, so memory
        does not grow with the stream.
        """
        config = self.config
        stft = StreamingSpectrogram(config)
        frames_per_window = config.frames_per_window
        held = np.zeros((self._row_matrix.shape[0] if self._row_matrix is not None else config.n_bins, 0), np.float32)
        held_offset = 0  # global index of held[:, 0]
        next_window = 0

        def cut(available_until: int, limit: int | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            nonlocal held, held_offset, next_window
            ready = []
            while limit is None or next_window < limit:
                start = config.window_start_frame(next_window)
                if start + frames_per_window > available_until:
                    break
                ready.append(next_window)
                next_window += 1
            if ready:
                indices = np.asarray(ready)
                first = np.asarray([config.window_start_frame(i) for i in ready]) - held_offset
                yield self._images(held, first), indices * config.stride_s
            drop = config.window_start_frame(next_window) - held_offset
            if drop > 0:
                held = held[:, drop:]
                held_offset += drop

        def add(spec: np.ndarray) -> None:
            nonlocal held
            if spec.shape[1] == 0:
                return
            if self._row_matrix is not None:
                spec = self._row_matrix @ spec
            held = np.concatenate([held, spec], axis=1) if held.shape[1] else spec

        for block in blocks:
            add(stft.push(block))
            yield from cut(held_offset + held.shape[1], None)
        add(stft.finish())
        total_windows = config.n_windows(stft._samples_seen)
        yield from cut(held_offset + held.shape[1], total_windows)

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
