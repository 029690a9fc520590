"""Event-level matching, metrics, threshold sweep and the evaluate command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anemonefish.card import FrontEndConfig
from anemonefish.evaluate import (
    ScoredRecording,
    best_threshold,
    combine,
    evaluate_events,
    read_scores,
    threshold_sweep,
)
from anemonefish.events import Event
from anemonefish.exceptions import AnnotationFormatError
from anemonefish.params import DetectionParams


def ev(start: float, end: float, label: str = "anemonefish") -> Event:
    return Event(start=start, end=end, label=label)


def test_identical_events_score_one():
    truth = [ev(1, 1.2), ev(5, 5.3)]
    m = evaluate_events(truth, truth)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (2, 0, 0)
    assert m.precision == m.recall == m.f1 == 1.0


def test_onset_must_be_within_the_collar_and_events_must_overlap():
    truth = [ev(10.0, 10.3)]
    assert evaluate_events([ev(10.19, 10.6)], truth).true_positives == 1
    assert evaluate_events([ev(9.81, 10.05)], truth).true_positives == 1
    assert evaluate_events([ev(10.25, 10.6)], truth).true_positives == 0  # onset 0.25 s late
    assert evaluate_events([ev(9.7, 10.6)], truth).true_positives == 0  # overlaps, onset 0.3 s early
    assert evaluate_events([ev(9.7, 10.6)], truth, collar_s=0.5).true_positives == 1
    # onset within the collar but no overlap
    assert evaluate_events([ev(9.85, 9.95)], [ev(10.0, 10.3)]).true_positives == 0


def test_a_point_annotation_matches_by_its_onset_alone():
    """Audacity's point labels (start == end) had nothing to overlap: a detection starting at the
    point, or just after it, never matched."""
    detections = [ev(1.2, 1.6), ev(13.4, 13.8)]
    for points in ([1.2, 13.4], [1.19, 13.39], [1.21, 13.41], [1.0, 13.6]):
        assert evaluate_events(detections, [ev(p, p) for p in points]).true_positives == 2, points
    assert evaluate_events(detections, [ev(0.95, 0.95), ev(13.65, 13.65)]).true_positives == 0  # beyond the collar


def test_collar_edge_counts_despite_floating_point():
    # 1.4 - 1.2 is 0.19999999999999996 or 0.2000000000000002 depending on the path
    assert evaluate_events([ev(1.2 + 0.2 + 1e-12, 1.8)], [ev(1.2, 1.5)]).true_positives == 1


def test_matching_is_one_to_one():
    truth = [ev(3.0, 3.2)]
    m = evaluate_events([ev(3.0, 3.4), ev(3.1, 3.5)], truth)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 1, 0)
    assert m.precision == 0.5 and m.recall == 1.0
    m = evaluate_events([ev(3.0, 3.4)], [ev(3.0, 3.2), ev(3.05, 3.3)])
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 0, 1)


def test_other_labels_are_ignored_on_both_sides():
    truth = [ev(1, 1.2), ev(4, 4.5, "biological")]
    dets = [ev(1, 1.4), ev(4, 4.4, "biological"), ev(7, 7.2)]
    m = evaluate_events(dets, truth)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 1, 0)
    all_labels = evaluate_events(dets, truth, label=None)
    assert (all_labels.true_positives, all_labels.false_positives) == (2, 1)


def test_empty_sides():
    assert evaluate_events([], []).f1 == 1.0
    m = evaluate_events([], [ev(1, 2)])
    assert (m.recall, m.f1, m.false_negatives) == (0.0, 0.0, 1)
    m = evaluate_events([ev(1, 2)], [])
    assert (m.precision, m.f1, m.false_positives) == (0.0, 0.0, 1)
    with pytest.raises(ValueError):
        evaluate_events([], [], collar_s=-1)


def test_combine_pools_counts():
    m1 = evaluate_events([ev(1, 2)], [ev(1, 2)])
    m2 = evaluate_events([ev(5, 6), ev(9, 9.5)], [ev(5, 6), ev(20, 21), ev(30, 31)])
    pooled = combine([m1, m2])
    assert (pooled.true_positives, pooled.false_positives, pooled.false_negatives) == (2, 1, 2)
    assert pooled.f1 == pytest.approx(2 * 2 / (3 + 4))


def _scores_with_calls(n: int, fish_windows: dict[int, float]) -> np.ndarray:
    scores = np.zeros((n, 3))
    scores[:, 0] = 1.0
    for index, value in fish_windows.items():
        scores[index] = [1 - value, value, 0]
    return scores


def test_threshold_sweep_trades_recall_for_precision():
    frontend = FrontEndConfig()  # 1 s windows, 0.2 s stride: window k stands for [0.2k+0.4, 0.2k+0.6]
    classes = ["noise", "anemonefish", "biological"]
    # strong call: windows 10-11 -> event starting at 2.4; weak call: windows 40-41 -> 8.4; a blip at 70-71
    scores = _scores_with_calls(100, {10: 0.95, 11: 0.9, 40: 0.55, 41: 0.5, 70: 0.35, 71: 0.35})
    truth = [ev(2.45, 2.6), ev(8.5, 8.6)]
    params = DetectionParams(smoothing_windows=1)
    points = threshold_sweep([ScoredRecording(scores=scores, annotations=truth, duration_s=20.8)], classes, frontend, params, [0.3, 0.45, 0.6, 0.97])
    by_t = {p.threshold: p for p in points}
    assert (by_t[0.3].true_positives, by_t[0.3].false_positives) == (2, 1)
    assert (by_t[0.45].true_positives, by_t[0.45].false_positives, by_t[0.45].recall) == (2, 0, 1.0)
    assert (by_t[0.6].true_positives, by_t[0.6].false_negatives) == (1, 1)
    assert by_t[0.97].true_positives == 0 and by_t[0.97].precision == 1.0
    assert best_threshold(points).threshold == 0.45


def test_read_scores_checks_the_header(tmp_path):
    good = tmp_path / "a.scores.csv"
    good.write_text("start,end,noise,anemonefish\n0,1,0.9,0.1\n0.2,1.2,0.2,0.8\n")
    classes, starts, scores = read_scores(good)
    assert classes == ["noise", "anemonefish"]
    assert starts.tolist() == [0.0, 0.2]
    assert scores[1].tolist() == [0.2, 0.8]
    bad = tmp_path / "b.scores.csv"
    bad.write_text("begin,stop,x\n1,2,3\n")
    with pytest.raises(AnnotationFormatError, match="b.scores.csv"):
        read_scores(bad)


def test_evaluate_command_on_documents_and_tables_with_sweep(tmp_path, capsys):
    from anemonefish_services.cli import main

    detections = tmp_path / "det"
    annotations = tmp_path / "ann"
    detections.mkdir()
    annotations.mkdir()
    doc = {
        "audio": {"filename": "reef.wav", "duration_s": 20.8},
        "params": {"threshold": 0.5, "smoothing_windows": 1, "min_event_s": 0.2, "min_gap_s": 0.1, "target_class": "anemonefish", "channel": 0, "window_s": 1.0, "stride_s": 0.2, "model_sample_rate": 6400, "fmax": 2000.0},
        "events": [{"start": 2.4, "end": 2.8, "label": "anemonefish", "confidence": 0.9}, {"start": 14.0, "end": 14.4, "label": "anemonefish", "confidence": 0.6}],
    }
    (detections / "reef.events.json").write_text(json.dumps(doc))
    scores = _scores_with_calls(100, {10: 0.95, 11: 0.9, 40: 0.45, 41: 0.45, 68: 0.6, 69: 0.6})
    rows = ["start,end,noise,anemonefish,biological"] + [f"{0.2 * i:.1f},{0.2 * i + 1:.1f},{r[0]},{r[1]},{r[2]}" for i, r in enumerate(scores)]
    (detections / "reef.scores.csv").write_text("\n".join(rows) + "\n")
    (annotations / "reef.Table.1.selections.txt").write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tAnnotation\n"
        "1\tSpectrogram 1\t1\t2.45\t2.6\t300\t900\tanemonefish\n"
        "2\tSpectrogram 1\t1\t8.5\t8.6\t300\t900\tanemonefish\n"
    )
    assert main(["evaluate", "--detections", str(detections), "--annotations", str(annotations), "--sweep", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["true_positives"] == 1
    assert report["overall"]["false_positives"] == 1
    assert report["overall"]["false_negatives"] == 1
    by_t = {round(p["threshold"], 2): p for p in report["sweep"]}
    assert by_t[0.4]["true_positives"] == 2 and by_t[0.4]["false_positives"] == 1
    assert by_t[0.65]["true_positives"] == 1 and by_t[0.65]["false_positives"] == 0
    # single files and an Audacity label track work too
    labels = tmp_path / "reef.txt"
    labels.write_text("2.45\t2.6\tanemonefish\n")
    assert main(["evaluate", "--detections", str(detections / "reef.events.json"), "--annotations", str(labels), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["recall"] == 1.0


def test_evaluate_command_rejects_bad_input(tmp_path, capsys):
    from anemonefish_services.cli import main

    assert main(["evaluate", "--detections", str(tmp_path / "missing.json"), "--annotations", str(tmp_path)]) == 2
    assert "--detections" in capsys.readouterr().err
    broken = tmp_path / "x.events.json"
    broken.write_text("{not json")
    table = tmp_path / "x.txt"
    table.write_text("1\t2\tanemonefish\n")
    assert main(["evaluate", "--detections", str(broken), "--annotations", str(table)]) == 2
    assert "x.events.json" in capsys.readouterr().err
    # NaN passed the `< 0` check and was printed as "JSON" no parser reads; inf matched everything.
    for collar in ("nan", "inf", "-0.1"):
        assert main(["evaluate", "--detections", str(table), "--annotations", str(table), "--collar", collar]) == 2
        assert f"error: --collar must be a finite number of seconds >= 0, not {float(collar)}" in capsys.readouterr().err


def _document(path, events, event_timing="centre", threshold=0.5, duration=20.8, channel=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "audio": {"filename": "reef.wav", "duration_s": duration},
        "params": {"threshold": threshold, "smoothing_windows": 1, "min_event_s": 0.2, "min_gap_s": 0.1,
                   "target_class": "anemonefish", "channel": channel, "window_s": 1.0, "stride_s": 0.2,
                   "model_sample_rate": 6400, "fmin": 100.0, "fmax": 2000.0, "event_timing": event_timing},
        "events": [{"start": s, "end": e, "label": "anemonefish"} for s, e in events],
    }))


def _scores_document(path, scores):
    rows = ["start,end,noise,anemonefish,biological"] + [
        f"{0.2 * i:.1f},{0.2 * i + 1:.1f},{r[0]},{r[1]},{r[2]}" for i, r in enumerate(scores)
    ]
    path.write_text("\n".join(rows) + "\n")


RAVEN_TRUTH = (
    "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
    "1\tSpectrogram 1\t1\t2.45\t2.6\tanemonefish\n"
)


def test_the_sweep_re_runs_the_post_processing_the_documents_name(tmp_path, capsys):
    """A containment-timed model's events lie elsewhere than a centre-timed one's: the sweep must
    turn the stored scores into events as detect did, or its F1 describes another detector."""
    from anemonefish.events import scores_to_events
    from anemonefish_services.cli import main

    scores = _scores_with_calls(100, {8: 0.9, 9: 0.9, 10: 0.9, 11: 0.9, 12: 0.9})
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH)
    truth = [ev(2.45, 2.6)]
    seen = {}
    for timing in ("centre", "containment"):
        det = tmp_path / timing
        _document(det / "reef.events.json", [(2.4, 2.8)], event_timing=timing)
        _scores_document(det / "reef.scores.csv", scores)
        assert main(["evaluate", "--detections", str(det), "--annotations", str(tmp_path / "ann"), "--sweep", "--json"]) == 0
        point = {round(p["threshold"], 2): p for p in json.loads(capsys.readouterr().out)["sweep"]}[0.5]
        frontend = FrontEndConfig(fmin=100.0, event_timing=timing)
        params = DetectionParams(threshold=0.5, smoothing_windows=1, min_event_s=0.2, min_gap_s=0.1)
        expected = evaluate_events(scores_to_events(scores, ["noise", "anemonefish", "biological"], frontend, params, 20.8), truth)
        assert (point["true_positives"], point["false_positives"]) == (expected.true_positives, expected.false_positives)
        seen[timing] = point["true_positives"]
    # centre: the run's slices span 2.0-3.0, an onset 0.45 s early; containment: the five
    # windows' common part, 2.4-2.6, inside the collar
    assert seen == {"centre": 0, "containment": 1}
    # Documents made with different settings cannot share one sweep.
    _document(tmp_path / "mixed" / "a" / "reef.events.json", [], event_timing="centre")
    _document(tmp_path / "mixed" / "b" / "reef.events.json", [], event_timing="containment")
    for sub in ("a", "b"):
        _scores_document(tmp_path / "mixed" / sub / "reef.scores.csv", scores)
        (tmp_path / "mixedann" / sub).mkdir(parents=True)
        (tmp_path / "mixedann" / sub / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH)
    assert main(["evaluate", "--detections", str(tmp_path / "mixed"), "--annotations", str(tmp_path / "mixedann"), "--sweep"]) == 2
    assert "other settings" in capsys.readouterr().err
    # The channel each recording was analysed on is not a setting of the post-processing.
    for sub, channel in (("a", 0), ("b", 1)):
        _document(tmp_path / "channels" / sub / "reef.events.json", [], channel=channel)
        _scores_document(tmp_path / "channels" / sub / "reef.scores.csv", scores)
    assert main(["evaluate", "--detections", str(tmp_path / "channels"), "--annotations", str(tmp_path / "mixedann"), "--sweep"]) == 0


def test_folders_pair_by_the_path_below_them_and_say_what_is_left_unpaired(tmp_path, capsys):
    from anemonefish_services.cli import main

    det, ann = tmp_path / "det", tmp_path / "ann"
    for site in ("site-a", "site-b"):
        _document(det / site / "reef.events.json", [(2.4, 2.8)] if site == "site-a" else [])
        (ann / site).mkdir(parents=True)
        (ann / site / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH)
    (ann / "site-c").mkdir()
    (ann / "site-c" / "reef.labels.txt").write_text("1.0\t1.2\tanemonefish\n")
    _document(det / "site-d" / "reef.events.json", [])
    # Text beside the truth tables that is no annotation table is not a recording left unscored.
    (ann / "LICENSE.txt").write_text("Creative Commons Attribution 4.0\nYou are free to share.\n")
    (ann / "site-a" / "notes.csv").write_text("site,depth\nsite-a,12\n")
    (ann / "site-e").mkdir()
    (ann / "site-e" / "reef.labels.txt").write_text("1.0 1.2 anemonefish\n")  # spaces, not tabs: still a table
    assert main(["evaluate", "--detections", str(det), "--annotations", str(ann), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert [f["detections"] for f in report["files"]] == [str(det / "site-a" / "reef.events.json"), str(det / "site-b" / "reef.events.json")]
    assert (report["overall"]["true_positives"], report["overall"]["false_negatives"]) == (1, 1)
    assert "2 recording(s) with annotations but no detection document (not scored): site-c/reef, site-e/reef" in captured.err
    assert "1 recording(s) with a detection document but no annotation table (not scored): site-d/reef" in captured.err
    # The table names each row by its path below the folder, so the two sites' rows differ.
    assert main(["evaluate", "--detections", str(det), "--annotations", str(ann)]) == 0
    table = capsys.readouterr().out
    assert "site-a/reef.events.json" in table and "site-b/reef.events.json" in table


def test_detects_own_tables_are_never_taken_for_annotations(tmp_path, capsys):
    """detect writes a Raven table and Audacity labels beside its documents; evaluating such a
    folder against itself must not score the detector against its own output."""
    from anemonefish_services.cli import main

    folder = tmp_path / "same"
    _document(folder / "rec.events.json", [(1.0, 1.4), (5.0, 5.4)])
    (folder / "rec.Table.1.selections.txt").write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\tSpectrogram 1\t1\t1\t1.4\tanemonefish\n2\tSpectrogram 1\t1\t5\t5.4\tanemonefish\n"
    )
    assert main(["evaluate", "--detections", str(folder), "--annotations", str(folder)]) == 2
    assert "looks like detect's own output" in capsys.readouterr().err
    (folder / "rec.txt").write_text("1.0\t1.2\tanemonefish\n")  # the real truth, beside detect's table
    assert main(["evaluate", "--detections", str(folder), "--annotations", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "rec: several annotation tables" in err and "rec.txt" in err and "rec.Table.1.selections.txt" in err


def test_a_multichannel_table_is_scored_on_the_channel_detect_analysed(tmp_path, capsys):
    """Raven's Channel column used to be ignored: channel 2's selections counted as misses
    against a run on channel 1."""
    from anemonefish_services.cli import main

    _document(tmp_path / "det" / "reef.events.json", [(1.0, 1.4), (5.0, 5.4)])
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "reef.Table.1.selections.txt").write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\tSpectrogram 1\t1\t1.0\t1.3\tanemonefish\n"
        "2\tSpectrogram 1\t2\t3.0\t3.3\tanemonefish\n"
        "3\tSpectrogram 1\t1\t5.0\t5.3\tanemonefish\n"
        "4\tSpectrogram 1\t2\t9.0\t9.3\tanemonefish\n"
    )
    assert main(["evaluate", "--detections", str(tmp_path / "det"), "--annotations", str(tmp_path / "ann"), "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["overall"]
    assert (overall["true_positives"], overall["false_positives"], overall["false_negatives"]) == (2, 0, 0)
    # The same run on the second channel meets that channel's selections only.
    doc = json.loads((tmp_path / "det" / "reef.events.json").read_text())
    doc["params"]["channel"] = 1
    (tmp_path / "det" / "reef.events.json").write_text(json.dumps(doc))
    assert main(["evaluate", "--detections", str(tmp_path / "det"), "--annotations", str(tmp_path / "ann"), "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["overall"]
    assert (overall["true_positives"], overall["false_positives"], overall["false_negatives"]) == (0, 2, 2)
    # Detections as a Raven table (detect's own, on channel 2) say their channel too.
    (tmp_path / "det" / "reef.events.json").unlink()
    (tmp_path / "det" / "reef.Table.1.selections.txt").write_text(
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\tSpectrogram 1\t2\t3.0\t3.4\tanemonefish\n"
    )
    assert main(["evaluate", "--detections", str(tmp_path / "det" / "reef.Table.1.selections.txt"),
                 "--annotations", str(tmp_path / "ann" / "reef.Table.1.selections.txt"), "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["overall"]
    assert (overall["true_positives"], overall["false_positives"], overall["false_negatives"]) == (1, 0, 1)
    # An empty detections table names no channel: every channel's truth counts, said in a
    # warning, unless --channel says which.
    empty = tmp_path / "det" / "reef.labels.txt"
    empty.write_text("")
    args = ["evaluate", "--detections", str(empty), "--annotations", str(tmp_path / "ann" / "reef.Table.1.selections.txt"), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["overall"]["false_negatives"] == 4
    assert "warning: 1 truth table(s) name several channels" in captured.err and "give --channel" in captured.err
    assert main([*args, "--channel", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["overall"]["false_negatives"] == 2 and "warning" not in captured.err
    # --channel against a document that names another channel: done as asked, and said.
    _document(tmp_path / "det2" / "reef.events.json", [(1.0, 1.4)])  # params.channel 0
    assert main(["evaluate", "--detections", str(tmp_path / "det2" / "reef.events.json"),
                 "--annotations", str(tmp_path / "ann" / "reef.Table.1.selections.txt"), "--channel", "1", "--json"]) == 0
    assert "says detect analysed channel 0; scoring it against channel 1's selections" in capsys.readouterr().err


def test_a_truth_table_with_nothing_on_the_analysed_channel_is_named_in_a_warning(tmp_path, capsys):
    from anemonefish_services.cli import main

    _document(tmp_path / "det" / "reef.events.json", [(2.4, 2.8)], channel=2)
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH)  # all on Raven's Channel 1
    assert main(["evaluate", "--detections", str(tmp_path / "det"), "--annotations", str(tmp_path / "ann"), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["overall"]["false_positives"] == 1
    assert (f"warning: {tmp_path / 'ann' / 'reef.Table.1.selections.txt'} has selections on channel(s) 0 only "
            "(counted from 0, as --channel), none on the analysed channel 2") in captured.err


def test_labels_match_whatever_their_case():
    """An analyst's "Anemonefish" is the model's "anemonefish", as training reads it."""
    truth = [ev(1, 1.2, "Anemonefish"), ev(4, 4.5, "BIOLOGICAL")]
    dets = [ev(1, 1.3), ev(4, 4.4, "biological")]
    m = evaluate_events(dets, truth)
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 0, 0)
    assert evaluate_events(dets, truth, label="Biological").true_positives == 1


def test_a_truth_without_the_label_compared_is_named_and_a_sweep_of_another_class_refused(tmp_path, capsys):
    """A perfect F1 over no truth at all (the real reef table labels its fish FS) must not pass
    unremarked, and a sweep must score the class the table above it scores."""
    from anemonefish_services.cli import main

    _document(tmp_path / "det" / "reef.events.json", [(2.4, 2.8)])
    _scores_document(tmp_path / "det" / "reef.scores.csv", _scores_with_calls(100, {10: 0.9, 11: 0.9}))
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH.replace("\tanemonefish", "\tFS"))
    args = ["evaluate", "--detections", str(tmp_path / "det"), "--annotations", str(tmp_path / "ann"), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["overall"]["false_positives"] == 1
    assert ("warning: no truth selection is labelled 'anemonefish' (theirs: FS (1)), so every detection counts as "
            "a false one") in captured.err
    # Capitalised as an analyst writes it: the same calls, no warning.
    (tmp_path / "ann" / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH.replace("\tanemonefish", "\tAnemonefish"))
    assert main(args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["overall"]["true_positives"] == 1 and "warning" not in captured.err
    assert main(args + ["--sweep", "--label", "ANEMONEFISH"]) == 0
    assert json.loads(capsys.readouterr().out)["sweep"]
    assert main(args + ["--sweep", "--label", "biological"]) == 2
    assert ("error: --sweep: the detections are of 'anemonefish' (their target_class), not --label 'biological'"
            in capsys.readouterr().err)
    # An empty or header-only table holds no selection of any label: said too.
    (tmp_path / "ann" / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH.splitlines()[0] + "\n")
    assert main(args) == 0
    assert "warning: the truth tables hold no selections, so every detection counts as a false one" in capsys.readouterr().err
    assert main(args + ["--label", " "]) == 2
    assert "error: --label must name the label compared" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "raven", "audacity"])
def test_folders_of_detect_tables_alone_are_scored_like_result_documents(tmp_path, capsys, fmt):
    """detect --format raven (or csv, or audacity) writes no .events.json: its tables are the detections."""
    from anemonefish.audio import AudioInfo
    from anemonefish.detect import DetectionResult
    from anemonefish.formats import write_documents
    from anemonefish_services.cli import main

    result = DetectionResult(
        audio=AudioInfo("reef.wav", 20.8, 48000, 1, 20.8 * 48000, "WAV", "PCM_16"),
        model={"name": "m", "version": "1", "classes": ["noise", "anemonefish", "biological"]},
        params=DetectionParams(), frontend=FrontEndConfig(), classes=["noise", "anemonefish", "biological"],
        events=[ev(2.4, 2.8), ev(9.0, 9.3)], scores=np.zeros((1, 3), np.float32), window_starts=np.zeros(1),
        processing_time_s=1.0,
    )
    ann = tmp_path / "ann"
    for site in ("site-a", "site-b"):
        (ann / site).mkdir(parents=True)
        (ann / site / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH)
    scores = {}
    for which in ("json", fmt):
        write_documents(result, tmp_path / which / "site-a", "reef", [which])
        assert main(["evaluate", "--detections", str(tmp_path / which), "--annotations", str(ann), "--json"]) == 0
        scores[which] = json.loads(capsys.readouterr().out)["overall"]
    assert scores[fmt] == scores["json"]
    assert (scores["json"]["true_positives"], scores["json"]["false_positives"]) == (1, 1)


def test_detects_raven_table_taken_as_detections_is_not_also_a_truth_candidate(tmp_path, capsys):
    """One folder for both: detect's Raven table (no .events.json beside it) is the detections,
    and the person's labels the truth, not "several annotation tables"."""
    from anemonefish.audio import AudioInfo
    from anemonefish.detect import DetectionResult
    from anemonefish.formats import write_documents
    from anemonefish_services.cli import main

    result = DetectionResult(
        audio=AudioInfo("reef.wav", 20.8, 48000, 1, 20.8 * 48000, "WAV", "PCM_16"),
        model={"name": "m", "version": "1", "classes": ["noise", "anemonefish", "biological"]},
        params=DetectionParams(), frontend=FrontEndConfig(), classes=["noise", "anemonefish", "biological"],
        events=[ev(2.4, 2.8)], scores=np.zeros((1, 3), np.float32), window_starts=np.zeros(1), processing_time_s=1.0,
    )
    folder = tmp_path / "same"
    write_documents(result, folder, "reef", ["raven"])
    (folder / "reef.labels.txt").write_text("2.45\t2.6\tanemonefish\n")
    assert main(["evaluate", "--detections", str(folder), "--annotations", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["true_positives"] == 1


def test_a_truth_table_whose_begin_file_names_another_recording_is_said_to(tmp_path, capsys):
    """Pairing goes by file name; a table copied beside the wrong recording (7_0's truth as 7_1's)
    was scored without a word."""
    from anemonefish_services.cli import main

    _document(tmp_path / "det" / "reef.events.json", [(2.4, 2.8)])
    (tmp_path / "ann").mkdir()
    table = tmp_path / "ann" / "reef.Table.1.selections.txt"
    header, row = RAVEN_TRUTH.splitlines()
    args = ["evaluate", "--detections", str(tmp_path / "det"), "--annotations", str(tmp_path / "ann"), "--json"]
    table.write_text(f"{header}\tBegin File\n{row}\tC:\\\\sites\\\\other.wav\n")
    assert main(args) == 0
    assert (f"warning: {table} annotates other.wav (its Begin File), but {tmp_path / 'det' / 'reef.events.json'} "
            "is of reef.wav") in capsys.readouterr().err
    table.write_text(f"{header}\tBegin File\n{row}\tREEF.wav\n")
    assert main(args) == 0
    assert "Begin File" not in capsys.readouterr().err


def test_a_raven_table_over_a_file_sequence_is_scored_by_this_recordings_rows_and_file_offsets(tmp_path, capsys):
    """Raven over several files: Begin Time runs across the sequence, File Offset is the time within
    the row's Begin File. Scored with Begin Time and every file's rows, a perfect detection read 0."""
    from anemonefish_services.cli import main

    _document(tmp_path / "reef.events.json", [(2.4, 2.8), (9.0, 9.3)])  # reef.wav, the second of the files
    rows = [(1, "D:\\sea\\before.wav", 5.0, 5.0), (2, "D:\\sea\\reef.wav", 32.4, 2.4), (3, "D:\\sea\\reef.wav", 39.0, 9.0)]
    lines = ["Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin File\tFile Offset (s)\tAnnotation"]
    for number, path, begin, offset in rows:
        for view in ("Waveform 1", "Spectrogram 1"):
            lines.append(f"{number}\t{view}\t1\t{begin}\t{begin + 0.35}\t{path}\t{offset}\tanemonefish")
    table = tmp_path / "sequence.Table.1.selections.txt"
    table.write_text("\n".join(lines) + "\n")
    assert main(["evaluate", "--detections", str(tmp_path / "reef.events.json"), "--annotations", str(table), "--json"]) == 0
    overall = json.loads(capsys.readouterr().out)["overall"]
    assert (overall["true_positives"], overall["false_positives"], overall["false_negatives"]) == (2, 0, 0)
    from anemonefish.formats import load_annotations

    whole = load_annotations(table)
    assert [e.start for e in whole.events()] == [5.0, 2.4, 9.0]  # each in its own file's time
    assert whole.of_recordings({"other.wav"}) is whole  # names none of them: as it is (and warned of)


def test_in_folders_a_file_sequence_table_pairs_with_each_recording_it_names(tmp_path, capsys):
    """Raven's table over a deployment's folder is named after none of its files (or after the
    first): in folders it paired with no recording, or one, and the others went unscored."""
    from anemonefish_services.cli import main

    site = tmp_path / "det" / "site-a"
    _document(site / "reef.events.json", [(2.4, 2.8), (9.0, 9.3)])  # reef.wav: its filename
    _document(site / "alone.events.json", [(1.0, 1.3)])
    (site / "before.labels.txt").write_text("5.02\t5.3\tanemonefish\n")  # detections naming no file
    rows = [(1, "D:\\sea\\before.wav", 5.0, 5.0), (2, "D:\\sea\\reef.wav", 32.4, 2.4),
            (3, "D:\\sea\\reef.wav", 39.0, 9.0)]
    lines = ["Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin File\tFile Offset (s)\tAnnotation"]
    lines += [f"{n}\tSpectrogram 1\t1\t{begin}\t{begin + 0.35}\t{path}\t{offset}\tanemonefish"
              for n, path, begin, offset in rows]
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "deployment.Table.1.selections.txt").write_text("\n".join(lines) + "\n")
    assert main(["evaluate", "--detections", str(tmp_path / "det"), "--annotations", str(tmp_path / "ann"),
                 "--json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    overall = report["overall"]
    assert (overall["true_positives"], overall["false_positives"], overall["false_negatives"]) == (3, 0, 0)
    assert len(report["files"]) == 2
    assert "1 recording(s) with a detection document but no annotation table (not scored): site-a/alone" in out.err
    assert "annotations but no detection document" not in out.err

    # Two sequence tables naming one recording: which is the truth cannot be told.
    (tmp_path / "ann" / "site-a").mkdir()
    (tmp_path / "ann" / "site-a" / "copy.Table.1.selections.txt").write_text("\n".join(lines) + "\n")
    assert main(["evaluate", "--detections", str(tmp_path / "det"), "--annotations", str(tmp_path / "ann")]) == 2
    assert "site-a/before: named in several file-sequence tables" in capsys.readouterr().err


def test_labels_in_a_column_the_reader_does_not_know_are_warned_of(tmp_path, capsys):
    """Labels under 'Call Type' (or Type, Call, Sound type): with no label column every row was read
    as anemonefish, the grunts among them, and scored (or trained) without a word."""
    from anemonefish.formats import load_annotations
    from anemonefish_services.cli import main
    from support import REAL_RAVEN

    _document(tmp_path / "reef.events.json", [(2.4, 2.8)])
    table = tmp_path / "reef.Table.1.selections.txt"
    table.write_text("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tBegin File\tCall Type\n"
                     "1\tSpectrogram 1\t1\t2.45\t2.6\treef.wav\tanemonefish\n"
                     "2\tSpectrogram 1\t1\t7.0\t7.4\treef.wav\tbiological\n")
    assert main(["evaluate", "--detections", str(tmp_path / "reef.events.json"), "--annotations", str(table)]) == 0
    assert (f"warning: {table} has no label column (Annotation, Label, Class, Species), but its column 'Call Type' "
            "holds anemonefish, biological: every selection was read as 'anemonefish'; name that column Annotation "
            "if it holds the labels") in capsys.readouterr().err
    # Not for a table with a label column (the real one's Class), nor for notes in free text.
    assert load_annotations(REAL_RAVEN).label_lookalike is None
    notes = "".join(f"{i}\t{i}.0\t{i}.2\tnote number {i}\n" for i in range(1, 13))
    table.write_text("Selection\tBegin Time (s)\tEnd Time (s)\tNotes\n" + notes)
    assert load_annotations(table).label_lookalike is None


def test_truth_past_the_recordings_end_and_a_label_the_detections_are_not_of_are_warned_of(tmp_path, capsys):
    """A truth table in milliseconds scored F1 0 without a word (train and retune refuse it), and
    --label biological against anemonefish detections reported precision 1.0 without a word."""
    from anemonefish_services.cli import main

    _document(tmp_path / "reef.events.json", [(2.4, 2.8)], duration=20.8)
    truth = tmp_path / "reef.csv"
    truth.write_text("start,end,label\n2450,2600,anemonefish\n9000,9300,biological\n")
    args = ["evaluate", "--detections", str(tmp_path / "reef.events.json"), "--annotations", str(truth), "--json"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert (f"warning: {truth}: 2 selection(s) start past the end of the 20.8 s its detections analysed (the first at "
            "2450 s): are its times in seconds, and is it this recording's table? They count as missed") in err
    assert "the detections are of" not in err
    truth.write_text("start,end,label\n2.45,2.6,anemonefish\n9.0,9.3,biological\n")
    assert main(args) == 0
    assert capsys.readouterr().err == ""
    assert main([*args, "--label", "biological"]) == 0
    assert ("warning: the detections are of anemonefish, none of 'biological', so their precision says nothing; "
            "--label names the class compared") in capsys.readouterr().err


def test_a_document_named_by_a_windows_path_pairs_with_its_table_by_file_name(tmp_path, capsys):
    """A job's filename may keep the uploader's Windows path; Path().name split no backslashes,
    so its own table was said to annotate another recording."""
    from anemonefish_services.cli import main

    _document(tmp_path / "reef.events.json", [(2.4, 2.8)])
    document = json.loads((tmp_path / "reef.events.json").read_text())
    document["audio"]["filename"] = "C:\\Users\\me\\reef.wav"
    (tmp_path / "reef.events.json").write_text(json.dumps(document))
    header, row = RAVEN_TRUTH.splitlines()
    table = tmp_path / "reef.Table.1.selections.txt"
    table.write_text(f"{header}\tBegin File\n{row}\tD:\\\\sea\\\\reef.wav\n")
    assert main(["evaluate", "--detections", str(tmp_path / "reef.events.json"), "--annotations", str(table), "--json"]) == 0
    assert "annotates" not in capsys.readouterr().err


def test_folders_given_the_other_way_round_are_named_as_such(tmp_path, capsys):
    from anemonefish_services.cli import main

    _document(tmp_path / "results" / "reef.events.json", [(2.4, 2.8)])
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "reef.Table.1.selections.txt").write_text(RAVEN_TRUTH)
    assert main(["evaluate", "--detections", str(tmp_path / "truth"), "--annotations", str(tmp_path / "results")]) == 2
    assert ("holds detect's .events.json results and " + str(tmp_path / "truth") + " none: are --detections and "
            "--annotations the other way round?") in capsys.readouterr().err
    assert main(["evaluate", "--detections", str(tmp_path / "results"), "--annotations", str(tmp_path / "truth")]) == 0


def test_a_detection_that_only_touches_the_call_s_end_is_no_match() -> None:
    """Overlap is strict: a detection starting where the call ends saw none of it."""
    metrics = evaluate_events([ev(1.1, 1.3)], [ev(1.0, 1.1)])
    assert (metrics.true_positives, metrics.false_positives, metrics.false_negatives) == (0, 1, 1)


def test_a_call_taken_first_gives_way_so_that_both_calls_are_matched() -> None:
    """The matching is maximum: A could take either detection, B only the first; greedy would
    give A the first and leave B unmatched."""
    a, b = ev(1.0, 1.6), ev(0.85, 1.05)
    x, y = ev(1.0, 1.3), ev(1.15, 1.6)
    for dets in ([x, y], [y, x]):
        for refs in ([a, b], [b, a]):
            assert evaluate_events(dets, refs).true_positives == 2


def test_among_thresholds_of_one_f1_the_highest_is_chosen() -> None:
    """Ties go to the higher threshold: as good, with fewer false alarms to come."""
    from anemonefish.evaluate import SweepPoint

    def point(threshold: float, f1: float) -> SweepPoint:
        return SweepPoint(threshold=threshold, precision=f1, recall=f1, f1=f1, true_positives=1, false_positives=0,
                          false_negatives=0)

    assert best_threshold([point(0.3, 0.9), point(0.5, 0.9), point(0.4, 0.9), point(0.7, 0.8)]).threshold == 0.5
