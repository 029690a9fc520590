"""Scores -> events: smoothing, threshold, minimum event, gap merging, edges."""

from __future__ import annotations

import numpy as np
import pytest

from anemonefish.card import FrontEndConfig
from anemonefish.events import scores_to_events, smooth
from anemonefish.params import DetectionParams

CLASSES = ["noise", "anemonefish", "biological"]
FRONTEND = FrontEndConfig()  # 1.0 s windows, 0.2 s stride


def scores_for(target: list[float]) -> np.ndarray:
    target = np.asarray(target, dtype=np.float32)
    return np.stack([1 - target, target, np.zeros_like(target)], axis=1)


def test_smooth_is_a_centred_mean_that_keeps_edges() -> None:
    np.testing.assert_allclose(smooth(np.array([0, 0, 5, 0, 0.0]), 5), [5 / 3, 5 / 4, 1, 5 / 4, 5 / 3])
    np.testing.assert_allclose(smooth(np.array([1.0, 2.0]), 1), [1, 2])


def test_single_call_becomes_one_event_in_the_centre_slices() -> None:
    target = [0.0] * 20
    for i in range(8, 14):  # six windows see the call
        target[i] = 0.95
    events = scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams())
    assert len(events) == 1
    event = events[0]
    # windows 8 and 13 keep 3 of 5 neighbours (0.57 >= 0.5), 7 and 14 only 2 (0.38)
    assert event.start == pytest.approx(8 * 0.2 + 0.4)
    assert event.end == pytest.approx(13 * 0.2 + 0.6)
    assert event.label == "anemonefish"
    assert event.peak_confidence == pytest.approx(0.95)
    assert 0 < event.confidence <= event.peak_confidence


def test_isolated_two_window_blip_is_smoothed_away_but_kept_without_smoothing() -> None:
    target = [0.0] * 20
    target[10] = target[11] = 0.9
    assert scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams()) == []
    raw = scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams(smoothing_windows=1))
    assert len(raw) == 1 and raw[0].end - raw[0].start == pytest.approx(0.4)


def test_peak_threshold_keeps_a_call_that_one_window_sees() -> None:
    target = [0.0] * 20
    target[10] = 0.995  # its neighbour missed the call: the 2-window mean is ~0.5
    params = DetectionParams(smoothing_windows=2, threshold=0.75)
    assert scores_to_events(scores_for(target), CLASSES, FRONTEND, params) == []
    (event,) = scores_to_events(scores_for(target), CLASSES, FRONTEND, params.model_copy(update={"peak_threshold": 0.99}))
    # the window's own centre slice, as if smoothing had kept it
    assert event.start == pytest.approx(10 * 0.2 + 0.4)
    assert event.end == pytest.approx(10 * 0.2 + 0.6)
    assert event.peak_confidence == pytest.approx(0.995)
    # below the peak threshold the rule stays silent
    target[10] = 0.98
    assert scores_to_events(scores_for(target), CLASSES, FRONTEND, params.model_copy(update={"peak_threshold": 0.99})) == []


def test_peak_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="peak_threshold"):
        DetectionParams(peak_threshold=1.5)


def test_gap_shorter_than_min_gap_merges_events() -> None:
    target = [0.0] * 30
    target[5:9] = [1.0] * 4
    target[10:14] = [1.0] * 4  # one inactive window = 0.2 s gap
    params = DetectionParams(smoothing_windows=1)
    assert len(scores_to_events(scores_for(target), CLASSES, FRONTEND, params)) == 2
    merged = scores_to_events(scores_for(target), CLASSES, FRONTEND, params.model_copy(update={"min_gap_s": 0.25}))
    assert len(merged) == 1 and merged[0].start == pytest.approx(5 * 0.2 + 0.4)


def test_min_event_drops_short_events() -> None:
    target = [0.0] * 10
    target[4] = 1.0  # one window = 0.2 s
    params = DetectionParams(smoothing_windows=1)
    assert len(scores_to_events(scores_for(target), CLASSES, FRONTEND, params)) == 1
    assert scores_to_events(scores_for(target), CLASSES, FRONTEND, params.model_copy(update={"min_event_s": 0.3})) == []


def test_events_at_the_edges_reach_the_recording_edges() -> None:
    target = [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    events = scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams(smoothing_windows=1), duration_s=2.5)
    assert events[0].start == 0.0 and events[-1].end == pytest.approx(2.5)


def test_threshold_and_target_class_are_honoured() -> None:
    target = [0.0] * 10 + [0.6] * 10 + [0.0] * 10
    assert len(scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams(threshold=0.5))) == 1
    assert scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams(threshold=0.7)) == []
    noise_events = scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams(target_class="noise"))
    assert noise_events and all(e.label == "noise" for e in noise_events)
    with pytest.raises(ValueError, match="not one of the model's classes"):
        scores_to_events(scores_for(target), CLASSES, FRONTEND, DetectionParams(target_class="whale"))


def test_params_are_validated_with_limits() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DetectionParams(threshold=1.5)
    with pytest.raises(ValueError, match="smoothing_windows"):
        DetectionParams(smoothing_windows=0)


CONTAINMENT = FrontEndConfig(event_timing="containment")


def test_containment_timing_puts_a_short_call_where_its_windows_overlap() -> None:
    # a call at 5.05-5.15 s lies wholly inside the windows starting at 4.2 .. 5.0 s
    target = [0.0] * 40
    for i in range(21, 26):
        target[i] = 0.95
    events = scores_to_events(scores_for(target), CLASSES, CONTAINMENT, DetectionParams())
    assert len(events) == 1
    assert events[0].start == pytest.approx(5.0) and events[0].end == pytest.approx(5.2)


def test_containment_timing_of_a_run_longer_than_a_window() -> None:
    target = [0.0] * 60
    for i in range(10, 30):  # windows 2.0 .. 5.8 s: a 4 s bout
        target[i] = 1.0
    (event,) = scores_to_events(scores_for(target), CLASSES, CONTAINMENT, DetectionParams(smoothing_windows=1))
    assert event.start == pytest.approx(3.0) and event.end == pytest.approx(5.8)


def test_containment_timing_never_narrower_than_a_stride() -> None:
    target = [0.0] * 40
    for i in range(20, 27):  # one window more than a 0.2 s call allows: no common part
        target[i] = 1.0
    (event,) = scores_to_events(scores_for(target), CLASSES, CONTAINMENT, DetectionParams(smoothing_windows=1))
    assert event.end - event.start == pytest.approx(0.2)
    assert event.start == pytest.approx(5.0)


def test_a_window_exactly_at_the_threshold_counts_and_confidence_is_the_run_s_mean() -> None:
    """Two rules no test held (a mutation review): `>=` the threshold, and the mean, not the peak."""
    params = DetectionParams(smoothing_windows=1, threshold=0.5, peak_threshold=None, min_event_s=0.0)
    [event] = scores_for_events([0.0, 0.0, 0.5, 0.0, 0.0], params)
    assert event.confidence == event.peak_confidence == 0.5
    [event] = scores_for_events([0.0, 0.0, 0.625, 1.0, 0.0, 0.0], params)
    assert (event.confidence, event.peak_confidence) == (0.8125, 1.0)


def test_runs_merged_across_a_short_gap_are_scored_over_both() -> None:
    """The merged event's confidence and peak come from every window of both runs."""
    params = DetectionParams(smoothing_windows=1, threshold=0.5, peak_threshold=None, min_event_s=0.0, min_gap_s=5.0)
    [event] = scores_for_events([0.0] * 3 + [0.6, 0.6] + [0.0] * 6 + [0.9, 0.9] + [0.0] * 3, params)
    assert event.peak_confidence == 0.9
    assert event.confidence == pytest.approx((0.6 * 2 + 0.9 * 2) / 10, abs=1e-4)  # the 6 quiet windows between too


def scores_for_events(target: list[float], params: DetectionParams) -> list:
    return scores_to_events(scores_for(target), CLASSES, FRONTEND, params)


def test_scores_with_another_number_of_classes_than_named_are_refused() -> None:
    """Two columns for three classes would read the wrong class's scores as anemonefish."""
    with pytest.raises(ValueError, match=r"scores must be \[n_windows, 3\]"):
        scores_to_events(np.zeros((4, 2), np.float32), CLASSES, FRONTEND, DetectionParams())


def test_a_gap_exactly_as_long_as_the_shortest_merged_one_keeps_two_events() -> None:
    """Only shorter gaps merge (docs/detection.md): at exactly min_gap_s, two events."""
    params = DetectionParams(smoothing_windows=1, threshold=0.5, peak_threshold=None, min_event_s=0.0, min_gap_s=0.2)
    target = [0.0] * 5 + [0.9] + [0.0] + [0.9] + [0.0] * 5  # centre slices 0.2 s each, 0.2 s apart
    events = scores_for_events(target, params)
    assert len(events) == 2 and events[1].start - events[0].end == pytest.approx(0.2)
    merged = scores_for_events(target, params.model_copy(update={"min_gap_s": 0.2 + 0.001}))
    assert len(merged) == 1


def test_a_short_run_of_an_overlap_timed_class_is_an_event_a_stride_wide() -> None:
    """Classes timed by overlap (the shipped card's biological sounds): a run of one window
    would place its end before its start, and the event was lost."""
    frontend = FRONTEND.model_copy(update={"class_event_timing": {"anemonefish": "overlap"}})
    params = DetectionParams(smoothing_windows=1, threshold=0.5, peak_threshold=None, min_event_s=0.0)
    events = scores_to_events(scores_for([0.0] * 5 + [0.9] + [0.0] * 5), CLASSES, frontend, params)
    assert len(events) == 1 and events[0].end - events[0].start == pytest.approx(FRONTEND.stride_s)
