"""The quality benchmark's uncertainty: a bootstrap over soundscapes of the pooled event F1."""

from __future__ import annotations

import pytest

from anemonefish.evaluate import EventMetrics, combine
from benchmarks.quality import f1_interval


def _metrics(tp: int, fp: int, fn: int) -> EventMetrics:
    return EventMetrics.from_counts("anemonefish", 0.2, tp, tp + fp, tp + fn)


def test_the_interval_brackets_the_pooled_f1_and_widens_with_disagreeing_soundscapes() -> None:
    alike = [_metrics(9, 1, 1) for _ in range(12)]
    spread = [_metrics(10, 0, 0), _metrics(5, 3, 5)] * 6

    steady = f1_interval(alike)
    assert steady["standard_error"] == 0.0
    assert steady["low"] == steady["high"] == pytest.approx(combine(alike).f1, abs=1e-4)

    varied = f1_interval(spread)
    pooled = combine(spread).f1
    assert varied["low"] < pooled < varied["high"]
    assert 0.0 < varied["standard_error"] < varied["high"] - varied["low"]
    assert varied["confidence_level"] == 0.90


def test_the_interval_is_reproducible() -> None:
    files = [_metrics(tp, fp, fn) for tp, fp, fn in [(10, 1, 2), (8, 0, 3), (12, 2, 1), (9, 1, 4), (7, 3, 0)]]
    assert f1_interval(files) == f1_interval(files)
