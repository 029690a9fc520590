"""Detection: any recording in, anemonefish events out, streamed in bounded memory.

Decoding, resampling and features run in a producer thread while the main thread runs
the classifier: numpy's matrix products and FFT, soxr and LiteRT all release the GIL, so
the two stages use both cores. The queue between them holds at most a couple of batches.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from anemonefish.audio import AudioInfo, AudioSource, CountedBlocks, stream_audio
from anemonefish.card import FrontEndConfig
from anemonefish.events import Event, class_index, scores_to_events
from anemonefish.exceptions import AudioTooShortError, DetectionCancelled
from anemonefish.features import FeatureExtractor
from anemonefish.model import ModelBundle
from anemonefish.params import DetectionParams

ProgressCallback = Callable[[float], None]
StopCallback = Callable[[], bool]

_DONE = object()


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

    def with_params(self, params: DetectionParams) -> DetectionResult:
        """Re-run the post-processing with other parameters on the stored scores (no decoding)."""
        events = scores_to_events(self.scores, self.classes, self.frontend, params, self.audio.duration_s)
        return DetectionResult(**{**self.__dict__, "params": params, "events": events})


class Detector:
    """Holds a loaded model; ``run`` may be called any number of times."""

    def __init__(self, bundle: ModelBundle, block_s: float = 20.0) -> None:
        self.bundle = bundle
        self.frontend = bundle.card.frontend
        self.extractor = FeatureExtractor(self.frontend)
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
        class_index(self.bundle.classes, params.target_class)  # fail before decoding
        started = time.perf_counter()
        info, blocks = stream_audio(source, self.frontend.sample_rate, params.channel, self.block_s)
        if filename:
            info = AudioInfo(**{**info.__dict__, "filename": filename})
        if info.duration_s < self.frontend.window_s:
            raise AudioTooShortError(
                f"{info.filename}: {info.duration_s:.3f} s of audio is shorter than one "
                f"{self.frontend.window_s} s analysis window"
            )
        expected_samples = max(1.0, info.duration_s * self.frontend.sample_rate)
        decoded = CountedBlocks(blocks)

        classifier = self.bundle.classifier
        batch = classifier.batch_size
        scores: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        # A block yields ~100 windows; the interpreter's batch is fixed (resizing it means
        # re-allocating), so windows wait here until whole batches are full instead of
        # padding every block's windows up to a batch.
        waiting: list[np.ndarray] = []
        waiting_count = 0
        inference_s = 0.0

        def infer(images: np.ndarray) -> None:
            nonlocal inference_s
            tick = time.perf_counter()
            scores.append(classifier.predict(images))
            inference_s += time.perf_counter() - tick

        for images, window_starts in self._produce(self.extractor.stream(decoded)):
            if should_stop is not None and should_stop():
                raise DetectionCancelled(f"{info.filename}: detection cancelled")
            starts.append(window_starts)
            waiting.append(images)
            waiting_count += len(images)
            if waiting_count >= batch:
                pending = np.concatenate(waiting)
                full = len(pending) - len(pending) % batch
                infer(pending[:full])
                waiting, waiting_count = [pending[full:]], len(pending) - full
            if progress is not None:
                progress(min(1.0, decoded.samples / expected_samples))
        if waiting_count:
            infer(np.concatenate(waiting))
        all_scores = np.concatenate(scores) if scores else np.zeros((0, len(self.bundle.classes)), np.float32)
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
            timings={"inference_s": inference_s},
        )

    @staticmethod
    def _produce(batches: Iterator[tuple[np.ndarray, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
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
