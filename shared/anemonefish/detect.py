"""Detection: any recording in, anemonefish events out, streamed in bounded memory.

Decoding, resampling and features run in a producer thread while the main thread runs
the classifier: numpy's matrix products and FFT, soxr and LiteRT all release the GIL, so
the two stages use both cores. The queue between them holds at most a couple of batches.
A bundle with a verifier (``card.verifier``) runs its second front end in the producer
too, and its network on the main thread, only for the windows the first network passes.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

from anemonefish.audio import AudioInfo, AudioSource, CountedBlocks, stream_audio
from anemonefish.card import FrontEndConfig
from anemonefish.events import Event, class_index, scores_to_events
from anemonefish.exceptions import AudioTooShortError, DetectionCancelled, UnsupportedAudioError
from anemonefish.features import DeferredWindows, FeatureExtractor, WindowBatch
from anemonefish.model import LiteRTClassifier, ModelBundle
from anemonefish.params import DetectionParams

ProgressCallback = Callable[[float], None]
StopCallback = Callable[[], bool]

_DONE = object()
_T = TypeVar("_T")


class _Batches:
    """Rows of aligned arrays, released in whole batches.

    An interpreter's batch size is fixed (resizing it re-allocates), and a 20 s block yields
    ~100 windows, so windows wait here until whole batches are full instead of padding each
    block's windows up to a batch (that had cost 5x in inference).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._parts: list[tuple[np.ndarray, ...]] = []
        self._count = 0

    def add(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """Add rows; returns every whole batch now waiting (their rows, in order), if any."""
        self._parts.append(arrays)
        self._count += len(arrays[0])
        if self._count < self.size:
            return None
        joined = tuple(np.concatenate(column) for column in zip(*self._parts, strict=True))
        full = self._count - self._count % self.size
        self._parts = [tuple(array[full:] for array in joined)] if full < self._count else []
        self._count -= full
        return tuple(array[:full] for array in joined)

    def rest(self) -> tuple[np.ndarray, ...] | None:
        """The rows still waiting (a last, partial batch)."""
        if not self._count:
            return None
        joined = tuple(np.concatenate(column) for column in zip(*self._parts, strict=True))
        self._parts, self._count = [], 0
        return joined


class _WindowScorer:
    """Scores windows with the bundle's network and, where its gate opens, with the verifier.

    A window's scores are the first network's, or the mean of both where the verifier ran
    (the card's :class:`~anemonefish.card.VerifierConfig`).
    """

    def __init__(self, bundle: ModelBundle, target: int) -> None:
        self._classifier = bundle.classifier
        self._target = target
        self._waiting = _Batches(self._classifier.batch_size)
        self._scores: list[np.ndarray] = []
        self._scored = 0
        self._inference_s = 0.0
        verifier, config = bundle.verifier, bundle.card.verifier
        self._verifier = _VerifierQueue(verifier.classifier, config.gate) if verifier is not None and config is not None else None

    def add(self, images: np.ndarray, verifier_windows: DeferredWindows | None) -> None:
        if self._verifier is not None and verifier_windows is not None:
            self._verifier.add(verifier_windows)
        if (ready := self._waiting.add(images)) is not None:
            self._score(ready[0])

    def finish(self) -> np.ndarray:
        """Scores ``[n_windows, n_classes]`` of every window added, in order."""
        if (rest := self._waiting.rest()) is not None:
            self._score(rest[0])
        if not self._scores:
            return np.zeros((0, self._classifier.n_outputs), np.float32)
        scores = np.concatenate(self._scores)
        if self._verifier is not None:
            for indices, verifier_scores in self._verifier.finish():
                scores[indices] = (scores[indices] + verifier_scores) / 2
        return scores

    def timings(self) -> dict[str, float]:
        timings = {"inference_s": self._inference_s}
        if self._verifier is not None:
            timings["verifier_inference_s"] = self._verifier.inference_s
            timings["verified_windows"] = float(self._verifier.verified_count)
        return timings

    def _score(self, images: np.ndarray) -> None:
        tick = time.perf_counter()
        scores = self._classifier.predict(images)
        self._inference_s += time.perf_counter() - tick
        if self._verifier is not None:
            self._verifier.scored(scores[:, self._target], self._scored)
        self._scores.append(scores)
        self._scored += len(scores)


class _VerifierQueue:
    """The verifier's side of :class:`_WindowScorer`: uncut windows in, scores of the gated ones out."""

    def __init__(self, classifier: LiteRTClassifier, gate: float) -> None:
        self._classifier = classifier
        self._gate = gate
        # Uncut windows in step with the windows added; the first is window number
        # ``_uncut_from``. They are dropped once the first network has scored them.
        self._uncut: list[DeferredWindows] = []
        self._uncut_from = 0
        self._to_verify = _Batches(classifier.batch_size)
        self._verified: list[tuple[np.ndarray, np.ndarray]] = []  # (window indices, verifier scores)
        self.verified_count = 0
        self.inference_s = 0.0

    def add(self, windows: DeferredWindows) -> None:
        self._uncut.append(windows)

    def scored(self, target_scores: np.ndarray, first: int) -> None:
        """The first network scored windows ``first..``: cut the gated ones, forget the rest."""
        gated = np.flatnonzero(target_scores >= self._gate) + first
        scored_until = first + len(target_scores)
        while self._uncut:
            part = self._uncut[0]
            end = self._uncut_from + len(part)
            mine = gated[(gated >= self._uncut_from) & (gated < end)]
            if len(mine) and (ready := self._to_verify.add(part.images(mine - self._uncut_from), mine)) is not None:
                self._verify(*ready)
            if end > scored_until:
                # Later windows of this part are scored with the next batch.
                self._uncut[0] = part.split(scored_until - self._uncut_from)[1]
                self._uncut_from = scored_until
                break
            self._uncut.pop(0)
            self._uncut_from = end

    def finish(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(window indices, verifier scores)`` of every gated window."""
        if (rest := self._to_verify.rest()) is not None:
            self._verify(*rest)
        return self._verified

    def _verify(self, images: np.ndarray, indices: np.ndarray) -> None:
        tick = time.perf_counter()
        self._verified.append((indices, self._classifier.predict(images)))
        self.inference_s += time.perf_counter() - tick
        self.verified_count += len(indices)


@dataclass
class DetectionResult:
    """Everything the result documents are made from."""

    audio: AudioInfo
    model: dict[str, object]
    params: DetectionParams
    frontend: FrontEndConfig
    classes: list[str]
    events: list[Event]
    scores: np.ndarray  # [n_windows, n_classes]
    window_starts: np.ndarray  # seconds
    processing_time_s: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def real_time_factor(self) -> float:
        return self.audio.duration_s / self.processing_time_s if self.processing_time_s else float("inf")

    @property
    def warnings(self) -> list[str]:
        """What the events do not show: a file cut short, a recording that cannot hold the
        model's whole band. Each names the file; the results stand."""
        found = [warning for warning in (self.audio.length_warning(), self.audio.resync_warning()) if warning]
        nyquist = self.audio.sample_rate / 2
        if nyquist < self.frontend.fmax:
            found.append(f"{self.audio.filename}: recorded at {self.audio.sample_rate} Hz, it holds sound up to "
                         f"{nyquist:.0f} Hz only, but the model listens up to {self.frontend.fmax:.0f} Hz: calls "
                         f"above {nyquist:.0f} Hz cannot be found in it")
        return found

    def with_params(self, params: DetectionParams) -> DetectionResult:
        """Re-run the post-processing with other parameters on the stored scores (no decoding)."""
        events = scores_to_events(self.scores, self.classes, self.frontend, params, self.audio.duration_s)
        return DetectionResult(**{**self.__dict__, "params": params, "events": events})


# A complete MP3 without a Xing/Info frame decodes up to ~0.5 % short of libsndfile's
# estimate from its size (fractional frames at 44.1/22.05 kHz); a half-copied one stops far
# shorter. An MP3's shortfall is said beyond 1 % (at least 0.25 s); every other format's
# length is a count, said beyond 0.25 s. Either way the length analysed is the one decoded.
DECODE_SHORTFALL_TOLERANCE_S = 0.25
MP3_ESTIMATE_TOLERANCE = 0.01
_SAME_LENGTH_S = 0.01


def _as_decoded(info: AudioInfo, decoded_s: float) -> AudioInfo:
    """``info`` with the length actually decoded, when a compressed file ran out before the
    length libsndfile gave for it: it stops there without a word, as it does for a cut WAV
    (whose header the info already compared with the file). The shortfall is declared (and
    warned of) only when an estimate's error cannot explain it."""
    shortfall = info.duration_s - decoded_s
    damaged = info.decode_error is not None  # it stopped at damage, not at an estimate's end: always said
    if not damaged and (info.declared_frames is not None or shortfall <= _SAME_LENGTH_S):
        return info
    said = damaged or shortfall > max(DECODE_SHORTFALL_TOLERANCE_S,
                                      MP3_ESTIMATE_TOLERANCE * info.duration_s if info.format == "MP3" else 0.0)
    frames = round(decoded_s * info.sample_rate)
    return replace(info, frames=frames, duration_s=frames / info.sample_rate,
                   declared_frames=info.frames if said else None)


class Detector:
    """Holds a loaded model; ``run`` may be called any number of times."""

    def __init__(self, bundle: ModelBundle, block_s: float = 20.0) -> None:
        self.bundle = bundle
        self.frontend = bundle.card.frontend
        self.extractor = FeatureExtractor(self.frontend)
        verifier = bundle.verifier
        self.verifier_extractor = FeatureExtractor(verifier.card.frontend) if verifier is not None else None
        self.block_s = block_s
        self.default_params = DetectionParams(**bundle.card.detection_defaults)

    def run(
        self,
        source: AudioSource,
        params: DetectionParams | None = None,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
        should_stop: StopCallback | None = None,
    ) -> DetectionResult:
        params = params or self.default_params
        target = class_index(self.bundle.classes, params.target_class)  # fails before decoding
        started = time.perf_counter()
        info, blocks = stream_audio(source, self.frontend.sample_rate, params.channel, self.block_s)
        if filename:
            info = AudioInfo(**{**info.__dict__, "filename": filename})
        if info.sample_rate / 2 <= self.frontend.fmin:
            # Not one bin the model reads (a header's rate of 1 Hz, say): refused, not analysed
            # as hours of silence with a warning.
            raise UnsupportedAudioError(
                f"{info.filename}: recorded at {info.sample_rate} Hz, it holds sound up to {info.sample_rate / 2:g} Hz "
                f"only, below the model's band ({self.frontend.fmin:g}-{self.frontend.fmax:g} Hz)"
            )
        if info.duration_s < self.frontend.window_s:
            # Rounded down, so that 47,999 samples at 48 kHz do not read as the 1.000 s they fall short of.
            shown = math.floor(info.duration_s * 1000) / 1000
            raise AudioTooShortError(
                f"{info.filename}: {shown:.3f} s of audio ({info.frames} samples at {info.sample_rate} Hz) "
                f"is shorter than one {self.frontend.window_s} s analysis window"
            )
        expected_samples = max(1.0, info.duration_s * self.frontend.sample_rate)
        decoded = CountedBlocks(blocks)

        scorer = _WindowScorer(self.bundle, target)
        starts: list[np.ndarray] = []
        for images, window_starts, verifier_windows in self._produce(self._windows(decoded)):
            if should_stop is not None and should_stop():
                raise DetectionCancelled(f"{info.filename}: detection cancelled")
            starts.append(window_starts)
            scorer.add(images, verifier_windows)
            if progress is not None:
                progress(min(1.0, decoded.samples / expected_samples))
        all_scores = scorer.finish()
        if blocks.damage is not None:  # a damaged frame ended decoding: what came before is analysed, and said
            info = replace(info, decode_error=str(blocks.damage))
        if blocks.resyncs:  # damaged frames skipped: the audio went on, minus them
            info = replace(info, resyncs=blocks.resyncs, skipped_bytes=blocks.skipped_bytes)
        info = _as_decoded(info, decoded.samples / self.frontend.sample_rate)
        if len(all_scores) == 0:
            raise AudioTooShortError(f"{info.filename}: no complete {self.frontend.window_s} s window")
        events = scores_to_events(all_scores, self.bundle.classes, self.frontend, params, info.duration_s)
        elapsed = time.perf_counter() - started
        if progress is not None:
            progress(1.0)
        return DetectionResult(
            audio=info,
            model=self.bundle.describe(),
            params=params,
            frontend=self.frontend,
            classes=list(self.bundle.classes),
            events=events,
            scores=all_scores,
            window_starts=np.concatenate(starts),
            processing_time_s=elapsed,
            timings=scorer.timings(),
        )

    def _windows(
        self, blocks: Iterable[np.ndarray]
    ) -> Iterator[tuple[np.ndarray, np.ndarray, DeferredWindows | None]]:
        """``(images, start times, the verifier's windows or None)`` for the same windows, as they complete.

        The verifier's windows stay uncut: only those behind an open gate are cut, later.
        Its front end may complete a window a few samples earlier or later (frames are
        centred), so whichever stream is ahead waits for the other.
        """
        if self.verifier_extractor is None:
            for images, starts in self.extractor.stream(blocks):
                yield images, starts, None
            return
        primary = self.extractor.windows()
        second = self.verifier_extractor.windows()
        images: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        deferred: list[DeferredWindows] = []

        def paired(
            first: WindowBatch | None, other: tuple[DeferredWindows, np.ndarray] | None
        ) -> Iterator[tuple[np.ndarray, np.ndarray, DeferredWindows]]:
            if first is not None:
                images.append(first[0])
                starts.append(first[1])
            if other is not None:
                deferred.append(other[0])
            ready = min(sum(len(part) for part in images), sum(len(part) for part in deferred))
            if ready:
                joined_images, joined_starts = np.concatenate(images), np.concatenate(starts)
                verifier_windows, later = DeferredWindows.join(deferred).split(ready)
                images[:] = [joined_images[ready:]] if len(joined_images) > ready else []
                starts[:] = [joined_starts[ready:]] if len(joined_starts) > ready else []
                deferred[:] = [later] if len(later) else []
                yield joined_images[:ready], joined_starts[:ready], verifier_windows

        for block in blocks:
            yield from paired(primary.push(block), second.push_deferred(block))
        yield from paired(primary.finish(), second.finish_deferred())
        if images or deferred:  # both count windows from the same samples, rate, length and stride
            raise RuntimeError("the verifier's front end produced a different number of windows")

    @staticmethod
    def _produce(batches: Iterator[_T]) -> Iterator[_T]:
        """Run ``batches`` in a background thread, handing results over a bounded queue."""
        handoff: queue.Queue[object] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def work() -> None:
            try:
                for item in batches:
                    while not stop.is_set():
                        try:
                            handoff.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                handoff.put(_DONE)
            except BaseException as exc:  # handed to the consumer, re-raised there
                handoff.put(exc)

        thread = threading.Thread(target=work, name="anemonefish-features", daemon=True)
        thread.start()
        try:
            while True:
                item = handoff.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            stop.set()
            # Unblock a producer waiting on a full queue, then let it finish.
            while thread.is_alive():
                try:
                    handoff.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)
