"""Event-level evaluation of detections against annotations.

A detection matches an annotation of the same label when the two overlap in time and
their onsets lie within ``collar_s`` of each other (sed_eval's onset collar, 0.2 s by
default, which alone would also match a detection starting just after a short call ended;
the overlap keeps a match about the same sound). A point annotation (start == end: a
click at the call) has no extent to overlap, so the onset collar alone decides it. Each detection matches at most one annotation and vice versa, and the matching
is a maximum one (so the counts never depend on the order of the events). From the
matches: precision, recall and F1. :func:`threshold_sweep` re-runs the events
post-processing on stored window scores at many thresholds (no audio is decoded again).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, Field

from anemonefish.card import FrontEndConfig
from anemonefish.events import Event, scores_to_events
from anemonefish.exceptions import AnnotationFormatError
from anemonefish.params import DetectionParams

DEFAULT_COLLAR_S = 0.2
# Onsets are sums of window multiples: 0.2 s may come out as 0.2000000001.
_EPS = 1e-6


class TimedEvent(Protocol):
    start: float
    end: float
    label: str


class EventMetrics(BaseModel):
    """Counts and scores of one comparison."""

    label: str | None = Field(description="Label compared (None: every label).")
    collar_s: float
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float
    # Matched (annotation index, detection index) pairs, for reports.
    matches: list[tuple[int, int]] = Field(default_factory=list, exclude=True)

    @classmethod
    def from_counts(cls, label: str | None, collar_s: float, tp: int, n_det: int, n_ref: int) -> EventMetrics:
        fp, fn = n_det - tp, n_ref - tp
        precision = tp / n_det if n_det else 1.0
        recall = tp / n_ref if n_ref else 1.0
        f1 = 2 * tp / (n_det + n_ref) if (n_det + n_ref) else 1.0
        return cls(
            label=label,
            collar_s=collar_s,
            true_positives=tp,
            false_positives=fp,
            false_negatives=fn,
            precision=round(precision, 6),
            recall=round(recall, 6),
            f1=round(f1, 6),
        )


def _candidates(references: Sequence[TimedEvent], detections: Sequence[TimedEvent], collar_s: float) -> list[list[int]]:
    """For each reference, the detections it may match (overlap, or a point reference, and
    onset within the collar)."""
    order = sorted(range(len(detections)), key=lambda j: detections[j].start)
    starts = np.array([detections[j].start for j in order])
    result: list[list[int]] = []
    for ref in references:
        lo = int(np.searchsorted(starts, ref.start - collar_s - _EPS, side="left"))
        hi = int(np.searchsorted(starts, ref.start + collar_s + _EPS, side="right"))
        ok = []
        for position in range(lo, hi):
            det = detections[order[position]]
            if ref.end <= ref.start or (det.start < ref.end and ref.start < det.end):
                ok.append(order[position])
        result.append(ok)
    return result


def _maximum_matching(candidates: list[list[int]], n_detections: int) -> list[tuple[int, int]]:
    """Maximum bipartite matching by augmenting paths (Kuhn's algorithm).

    Hand-written because the library's runtime has no graph package (scipy is not a
    runtime dependency) and the graphs are tiny and sparse: each annotation can only
    reach the few detections within its collar, so this is effectively linear.
    """
    owner = [-1] * n_detections  # detection -> reference

    def augment(ref: int, seen: set[int]) -> bool:
        for det in candidates[ref]:
            if det in seen:
                continue
            seen.add(det)
            if owner[det] == -1 or augment(owner[det], seen):
                owner[det] = ref
                return True
        return False

    for ref in range(len(candidates)):
        if candidates[ref]:
            augment(ref, set())
    return sorted((ref, det) for det, ref in enumerate(owner) if ref != -1)


def evaluate_events(
    detections: Iterable[TimedEvent],
    annotations: Iterable[TimedEvent],
    label: str | None = "anemonefish",
    collar_s: float = DEFAULT_COLLAR_S,
) -> EventMetrics:
    """Precision, recall and F1 of ``detections`` against ``annotations`` for ``label``.

    ``label=None`` compares every event regardless of label. Events of other labels are
    ignored on both sides (a detector of anemonefish is not penalised for fish grunts in
    the truth, but a detection on a grunt is a false positive). Labels match whatever
    their case (an analyst's ``Anemonefish`` is the model's ``anemonefish``), as in training.
    """
    if collar_s < 0:
        raise ValueError("collar_s must be >= 0")
    wanted = None if label is None else label.casefold()
    dets = [d for d in detections if wanted is None or d.label.casefold() == wanted]
    refs = [a for a in annotations if wanted is None or a.label.casefold() == wanted]
    matches = _maximum_matching(_candidates(refs, dets, collar_s), len(dets))
    metrics = EventMetrics.from_counts(label, collar_s, len(matches), len(dets), len(refs))
    metrics.matches = matches
    return metrics


def combine(metrics: Sequence[EventMetrics]) -> EventMetrics:
    """Pool the counts of several files (micro-average) into one score."""
    if not metrics:
        raise ValueError("nothing to combine")
    tp = sum(m.true_positives for m in metrics)
    n_det = tp + sum(m.false_positives for m in metrics)
    n_ref = tp + sum(m.false_negatives for m in metrics)
    return EventMetrics.from_counts(metrics[0].label, metrics[0].collar_s, tp, n_det, n_ref)


class SweepPoint(BaseModel):
    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


class ScoredRecording(BaseModel):
    """Window scores of one recording plus its truth: what a sweep needs."""

    model_config = {"arbitrary_types_allowed": True}

    scores: np.ndarray
    annotations: list[Event]
    duration_s: float | None = None


def threshold_sweep(
    recordings: Sequence[ScoredRecording],
    classes: list[str],
    frontend: FrontEndConfig,
    params: DetectionParams,
    thresholds: Sequence[float] | None = None,
    collar_s: float = DEFAULT_COLLAR_S,
) -> list[SweepPoint]:
    """Pooled precision/recall/F1 at each threshold, re-running ``scores_to_events``."""
    grid = np.round(np.arange(0.05, 0.96, 0.05), 4) if thresholds is None else thresholds
    points = []
    for threshold in grid:
        p = params.model_copy(update={"threshold": float(threshold)})
        per_file = [
            evaluate_events(
                scores_to_events(r.scores, classes, frontend, p, r.duration_s),
                r.annotations,
                p.target_class,
                collar_s,
            )
            for r in recordings
        ]
        pooled = combine(per_file)
        points.append(
            SweepPoint(
                threshold=float(threshold),
                precision=pooled.precision,
                recall=pooled.recall,
                f1=pooled.f1,
                true_positives=pooled.true_positives,
                false_positives=pooled.false_positives,
                false_negatives=pooled.false_negatives,
            )
        )
    return points


def best_threshold(points: Sequence[SweepPoint]) -> SweepPoint:
    """The sweep point with the highest F1 (ties: the higher threshold, fewer false alarms)."""
    return max(points, key=lambda p: (p.f1, p.threshold))


# --- reading detection documents and window scores ------------------------------------


def read_scores(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(classes, window starts, scores [n, n_classes])`` from a ``*.scores.csv`` document."""
    import csv

    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or rows[0][:2] != ["start", "end"] or len(rows[0]) < 4:
        raise AnnotationFormatError(f"{path}: not a scores document (header start,end,<classes>...)")
    classes = rows[0][2:]
    try:
        data = np.array([[float(v) for v in row] for row in rows[1:] if row], dtype=np.float64)
    except ValueError as exc:
        raise AnnotationFormatError(f"{path}: {exc}") from None
    if data.size == 0:
        return classes, np.zeros(0), np.zeros((0, len(classes)))
    if data.shape[1] != 2 + len(classes):
        raise AnnotationFormatError(f"{path}: rows do not have {2 + len(classes)} columns")
    return classes, data[:, 0], data[:, 2:]


def document_settings(doc: dict[str, Any]) -> tuple[DetectionParams, FrontEndConfig, dict]:
    """What re-runs a result document's post-processing on its window scores: the detection
    parameters, the window grid and event timing (``formats.result_document`` writes them),
    and its ``audio`` object. ``doc`` as ``formats.load_annotations`` read it (``.document``)."""
    stored = doc.get("params") or {}
    params = DetectionParams(**{k: v for k, v in stored.items() if k in DetectionParams.model_fields})
    # Documents written before event_timing was recorded came from 'centre'-timed models.
    frontend = FrontEndConfig(
        sample_rate=int(stored.get("model_sample_rate", 6400)),
        fmin=float(stored.get("fmin", 0.0)),
        fmax=float(stored.get("fmax", 2000.0)),
        window_s=float(stored.get("window_s", 1.0)),
        stride_s=float(stored.get("stride_s", 0.2)),
        event_timing=stored.get("event_timing", "centre"),
    )
    return params, frontend, doc.get("audio") or {}
