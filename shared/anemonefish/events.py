"""From per-window class scores to timestamped events.

smoothing (centred moving average over windows) -> threshold (plus, with
``peak_threshold``, any single window scoring that high before smoothing) -> runs of
active windows -> time spans -> merge gaps shorter than ``min_gap_s`` -> drop events
shorter than ``min_event_s``.

How a run of active windows becomes a time span depends on what the model's positive
windows mean (the card's ``event_timing``):

- ``centre``: each window stands for the ``stride``-long slice at its centre, so
  consecutive windows tile the timeline and an event's edges land within half a stride of
  where the scores change (rather than a whole window early, as a union of windows
  would). The first and last windows also stand for the recording's edges they alone cover.
- ``containment``: a positive window contains the whole call, so the call lies where all
  windows of the run overlap (see :func:`_contained_span`).
- ``overlap``: a positive window overlaps the sound by at least ``MIN_OVERLAP_S``, as the
  product's training marks sounds other than anemonefish (see :func:`_overlapped_span`).
  The card's ``class_event_timing`` says which classes are timed so.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from anemonefish.card import FrontEndConfig
from anemonefish.params import DetectionParams

# Window times are multiples of the stride: 1.4 - 1.2 is 0.19999... in floating point.
_EPS = 1e-9

# A window overlapping a sound by this much (or by half of a shorter sound) is positive for
# an 'overlap'-timed class: training labels by it, and events are placed by it.
MIN_OVERLAP_S = 0.1


class Event(BaseModel):
    """One detected (or annotated) call or bout of calls."""

    start: float = Field(ge=0, description="Seconds from the start of the recording.")
    end: float = Field(ge=0)
    label: str
    confidence: float | None = Field(None, description="Mean target-class score over the event.")
    peak_confidence: float | None = Field(None, description="Highest target-class score in the event.")

    @property
    def duration(self) -> float:
        return self.end - self.start


def smooth(scores: np.ndarray, windows: int) -> np.ndarray:
    """Centred moving average; at the edges the mean of the windows that exist."""
    scores = np.asarray(scores, dtype=np.float64)
    if windows <= 1 or len(scores) == 0:
        return scores.copy()
    kernel = np.ones(windows)
    before = (windows - 1) // 2
    padded = np.concatenate([np.zeros(before), scores, np.zeros(windows - 1 - before)])
    counts = np.concatenate([np.zeros(before), np.ones(len(scores)), np.zeros(windows - 1 - before)])
    return np.convolve(padded, kernel, "valid") / np.convolve(counts, kernel, "valid")


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive index ranges of consecutive True values."""
    if not active.any():
        return []
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _contained_span(first: int, final: int, window: float, stride: float) -> tuple[float, float]:
    """Where a sound lies if every window of the run ``first..final`` contains it.

    That is the windows' common part, from the last window's start to the first window's
    end. A run longer than a window (a bout, or a sound longer than the window) has no
    common part: the sound then spans from the first window's end to the last one's start.
    A span is never narrower than one stride, the resolution of the window grid.
    """
    start, end = sorted((final * stride, first * stride + window))
    if end - start < stride:
        middle = (start + end) / 2
        start, end = middle - stride / 2, middle + stride / 2
    return start, end


def _overlapped_span(
    first: int, final: int, window: float, stride: float, start_edge: float | None, end_edge: float | None
) -> tuple[float, float]:
    """Where a sound lies if the windows ``first..final`` are those overlapping it by ``MIN_OVERLAP_S``.

    The first of them ends ``MIN_OVERLAP_S`` after the sound starts, at most a stride later
    than that (the window before it overlapped less), so the start is placed half a stride
    before; the end likewise after the last window's start. A run that begins at the
    recording's first window (or ends at its last) may hold a sound the edge cut: it reaches
    that edge (``start_edge``, ``end_edge``; None elsewhere). Spans are at least a stride
    wide, as for containment.
    """
    start = first * stride + window - MIN_OVERLAP_S - stride / 2 if start_edge is None else start_edge
    end = final * stride + MIN_OVERLAP_S + stride / 2 if end_edge is None else end_edge
    if end - start < stride:
        middle = (start + end) / 2
        start, end = middle - stride / 2, middle + stride / 2
    return start, end


def onset_zone(frontend: FrontEndConfig) -> tuple[float, float]:
    """Call onsets (s after a window's start) for which a ``centre``-timed model's window is positive.

    Training labels windows by it (:mod:`anemonefish.training.dataset`); the energy
    baseline places its evidence by it.

    The zone ends 3/4 of a stride after the centre slice's start, so the event starts
    between 3/4 of a stride before and 1/4 after the onset (-0.15..+0.05 s at a 0.2 s
    stride): inside the 0.2 s onset collar and, for 10-50 ms pops, rarely after the
    call has already ended (an event must overlap the call to count).
    """
    hi = (frontend.window_s - frontend.stride_s) / 2 + 0.75 * frontend.stride_s
    return max(0.0, hi - 2 * frontend.stride_s), hi


def class_index(classes: list[str], target: str) -> int:
    try:
        return classes.index(target)
    except ValueError:
        raise ValueError(f"target_class {target!r} is not one of the model's classes {classes}") from None


def scores_to_events(
    scores: np.ndarray,
    classes: list[str],
    frontend: FrontEndConfig,
    params: DetectionParams,
    duration_s: float | None = None,
) -> list[Event]:
    """Events of ``params.target_class`` from window scores ``[n_windows, n_classes]``."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or (len(scores) and scores.shape[1] != len(classes)):
        raise ValueError(f"scores must be [n_windows, {len(classes)}], got {scores.shape}")
    if len(scores) == 0:
        return []
    target = scores[:, class_index(classes, params.target_class)].astype(np.float64)
    smoothed = smooth(target, params.smoothing_windows)
    active = smoothed >= params.threshold
    if params.peak_threshold is not None:
        # A short call may be seen by one window only; averaging halves it below threshold.
        active |= target >= params.peak_threshold
    runs = _runs(active)
    window, stride = frontend.window_s, frontend.stride_s
    last = len(scores) - 1
    end_of_audio = duration_s if duration_s is not None else last * stride + window
    spans: list[list[float]] = []
    timing = frontend.timing_for(params.target_class)
    for first, final in runs:
        if timing == "containment":
            start, end = _contained_span(first, final, window, stride)
        elif timing == "overlap":
            start, end = _overlapped_span(first, final, window, stride, 0.0 if first == 0 else None,
                                          end_of_audio if final == last else None)
        else:
            start = 0.0 if first == 0 else first * stride + (window - stride) / 2
            end = end_of_audio if final == last else final * stride + (window + stride) / 2
        start, end = max(0.0, start), min(end, end_of_audio)
        if spans and start - spans[-1][1] < params.min_gap_s - _EPS:
            spans[-1][1] = max(end, spans[-1][1])
            spans[-1][3] = final
        else:
            spans.append([start, end, first, final])
    events = []
    for start, end, first, final in spans:
        if end - start < params.min_event_s - _EPS:
            continue
        values = target[int(first) : int(final) + 1]
        events.append(
            Event(
                start=round(start, 4),
                end=round(min(end, end_of_audio), 4),
                label=params.target_class,
                confidence=round(float(values.mean()), 4),
                peak_confidence=round(float(values.max()), 4),
            )
        )
    return events
