"""Result documents (JSON, CSV, Raven selection table, Audacity labels, window scores)
and readers for the annotation tables people already have.

Writers return text, so the CLI writes files and the worker writes S3 objects from the
same code. :func:`write_documents` writes a recording's files all or none (temp files,
then renames): a crash or a full disk never leaves a half-written result behind.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from anemonefish import __version__
from anemonefish.detect import DetectionResult
from anemonefish.events import Event
from anemonefish.exceptions import AnnotationFormatError

FORMATS: tuple[str, ...] = ("json", "csv", "raven", "audacity", "scores")
DEFAULT_FORMATS: tuple[str, ...] = ("json", "csv", "raven", "audacity")
SCHEMA_VERSION = "1.0"

_SUFFIXES = {
    "json": ".events.json",
    "csv": ".events.csv",
    # Raven's own naming convention, so Raven's "open selection table" finds it.
    "raven": ".Table.1.selections.txt",
    "audacity": ".labels.txt",
    "scores": ".scores.csv",
}
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "raven": "text/plain",
    "audacity": "text/plain",
    "scores": "text/csv",
}
RAVEN_COLUMNS = (
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Begin File",
    "File Offset (s)",
    "Annotation",
    "Confidence",
)
CSV_COLUMNS = ("start", "end", "duration", "label", "confidence", "peak_confidence", "file")


def document_name(stem: str, fmt: str) -> str:
    """File name of format ``fmt`` for a recording named ``stem`` (e.g. ``reef.events.json``)."""
    try:
        return f"{stem}{_SUFFIXES[fmt]}"
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}") from None


def _t(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"


def result_document(result: DetectionResult, job_id: str | None = None) -> dict[str, Any]:
    """The result document of ``pipeline.md`` as a dict."""
    frontend = result.frontend
    return {
        "schema_version": SCHEMA_VERSION,
        "job_id": job_id,
        "audio": result.audio.as_document(),
        "model": result.model,
        # With the window grid and what a window's score of the target class says about time,
        # the stored scores can be turned into events again (``anemonefish evaluate --sweep``).
        "params": {
            **result.params.model_dump(),
            "window_s": frontend.window_s,
            "stride_s": frontend.stride_s,
            "model_sample_rate": frontend.sample_rate,
            "fmin": frontend.fmin,
            "fmax": frontend.fmax,
            "event_timing": frontend.timing_for(result.params.target_class),
        },
        "processing_time_s": round(result.processing_time_s, 4),
        "real_time_factor": round(result.real_time_factor, 1),
        "windows": int(len(result.scores)),
        "generator": f"anemonefish {__version__}",
        "events": [event.model_dump() for event in result.events],
    }


def render_json(result: DetectionResult, job_id: str | None = None) -> str:
    return json.dumps(result_document(result, job_id), indent=2) + "\n"


def render_csv(result: DetectionResult) -> str:
    return _csv_text(result.events, result.audio.filename)


# A cell a spreadsheet would run as a formula (OWASP's CSV injection): a recording named
# "=HYPERLINK(...).wav" put a live link, or worse, in every row a researcher opened in Excel.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text: a leading quote before a formula's
    first character, and before a name's own leading quote, so that every name reads back
    as itself (``_from_spreadsheet_cell``)."""
    return "'" + text if text.startswith((*_FORMULA_STARTS, "'")) else text


def _from_spreadsheet_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith((*_FORMULA_STARTS, "'")) else text


def _csv_text(events: Iterable[Event], filename: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    file_cell = spreadsheet_cell(filename)
    for e in events:
        writer.writerow([_t(e.start), _t(e.end), _t(e.duration), e.label, e.confidence, e.peak_confidence, file_cell])
    return out.getvalue()


def tsv_cell(text: str) -> str:
    """``text`` as one cell of a tab-separated line: a tab or a line break in a file's name
    (legal on Linux and macOS) would shift the columns or split the row."""
    return " ".join(text.replace("\t", " ").splitlines())


def render_raven(result: DetectionResult) -> str:
    """A Raven Pro selection table: tab-separated, one header row, 1-based channels."""
    return _raven_text(result.events, result.audio.channel, result.frontend.fmin, result.frontend.fmax,
                       result.audio.filename)


def _raven_text(events: Iterable[Event], channel: int, fmin: float, fmax: float, filename: str) -> str:
    rows = ["\t".join(RAVEN_COLUMNS)]
    for number, e in enumerate(events, start=1):
        rows.append(
            "\t".join(
                [
                    str(number),
                    "Spectrogram 1",
                    str(channel + 1),
                    _t(e.start),
                    _t(e.end),
                    _t(fmin),
                    _t(fmax),
                    tsv_cell(filename),
                    _t(e.start),
                    tsv_cell(e.label),
                    "" if e.confidence is None else str(e.confidence),
                ]
            )
        )
    return "\n".join(rows) + "\n"


def render_audacity(result: DetectionResult) -> str:
    """Audacity label track: ``start<TAB>end<TAB>label``, no header."""
    return _audacity_labels(result.events)


def _audacity_labels(events: Iterable[Event]) -> str:
    return "".join(f"{e.start:.6f}\t{e.end:.6f}\t{tsv_cell(e.label)}\n" for e in events)


def render_scores(result: DetectionResult) -> str:
    """Per-window class probabilities, for those who want the raw predictions."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", *result.classes])
    window = result.frontend.window_s
    for start, row in zip(result.window_starts, result.scores, strict=True):
        writer.writerow([_t(float(start)), _t(float(start) + window), *(f"{v:.5f}" for v in row)])
    return out.getvalue()


def render_document(result: DetectionResult, fmt: str, job_id: str | None = None) -> str:
    """One document as text."""
    if fmt == "json":
        return render_json(result, job_id)
    renderers = {"csv": render_csv, "raven": render_raven, "audacity": render_audacity, "scores": render_scores}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return renderers[fmt](result)


def staging_path(path: Path) -> Path:
    """A new hidden temp name beside ``path``, for a document written whole before it is renamed
    onto its name (never a half-written document under it)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")


def _staged(path: Path, text: str) -> Path:
    """``text`` in a new temp file beside ``path``, for an atomic rename onto it.

    The file gets the mode any new file gets (0644 under the usual umask 022), not the
    0600 of a ``mkstemp`` file: results are shared with colleagues.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_path(path)
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


# Names only detect gives its documents; its Raven table and Audacity labels bear the names
# people give their own annotation tables too.
DETECT_ONLY_SUFFIXES = tuple(_SUFFIXES[fmt] for fmt in ("json", "csv", "scores"))


def is_detect_output(path: Path) -> bool:
    """Whether ``path`` is recognisably one of detect's documents: by a name only detect gives,
    a Raven table with detect's exact header, or Audacity labels that are exactly what the
    result document beside them holds (a person's labels, or detect's edited since, are not);
    a CSV or Raven table that differs from the document beside it is not either (an analyst's
    checked selections, an added note)."""
    if path.name.endswith(_SUFFIXES["audacity"]):
        return _matches_their_document(path) is True
    if _matches_their_document(path) is False:
        return False
    if path.name.endswith(DETECT_ONLY_SUFFIXES):
        return True
    return path.name.endswith(_SUFFIXES["raven"]) and _has_detects_raven_header(path)


def _has_detects_raven_header(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.readline().rstrip("\r\n") == "\t".join(RAVEN_COLUMNS)
    except (OSError, UnicodeDecodeError):
        return False


# The documents whose text the result document beside them can render again, so an edited one
# can be told from detect's own.
CHECKED_AGAINST_JSON = ("csv", "raven", "audacity")


def _matches_their_document(path: Path) -> bool | None:
    """Whether Audacity labels, a CSV or a Raven table are what the result document beside
    them renders; None for other files, or when there is no such document to tell by."""
    fmt = next((f for f in CHECKED_AGAINST_JSON if path.name.endswith(_SUFFIXES[f])), None)
    if fmt is None:
        return None
    stem = path.name.removesuffix(_SUFFIXES[fmt])
    try:
        document = json.loads(path.with_name(document_name(stem, "json")).read_text(encoding="utf-8"))
        events = [Event.model_validate(event) for event in document["events"]]
        audio, params = document["audio"], document["params"]
        expected = {
            "audacity": lambda: _audacity_labels(events),
            "csv": lambda: _csv_text(events, audio["filename"]),
            "raven": lambda: _raven_text(events, int(audio.get("channel_analysed", 0)), float(params["fmin"]),
                                         float(params["fmax"]), audio["filename"]),
        }[fmt]()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # no document, or not detect's
        return None
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read() == expected
    except (OSError, UnicodeDecodeError):
        return False


def stale_companions(outdir: Path, stem: str, formats: Iterable[str]) -> list[str]:
    """The formats, of those not in ``formats``, whose file for ``stem`` is detect's own and
    would contradict a new result document: one that is exactly what the document beside it
    renders, and window scores (a name only detect gives; they may be another model's, and
    nothing in the document tells)."""
    outdir = Path(outdir)
    return [fmt for fmt in (*CHECKED_AGAINST_JSON, "scores") if fmt not in formats and (
        (outdir / document_name(stem, fmt)).is_file() if fmt == "scores"
        else _matches_their_document(outdir / document_name(stem, fmt)) is True)]


def foreign_document(existing: list[Path]) -> Path | None:
    """Of the files found under a recording's result names, one that is certainly not an
    earlier run's results, or None: a Raven table without detect's header (a truth table under
    Raven's own name), or Audacity labels, a CSV or a Raven table that differ from the result
    document beside them (labels made or corrected by hand, selections an analyst checked).
    No ``--overwrite`` replaces such a file."""
    return next((path for path in existing
                 if (path.name.endswith(_SUFFIXES["raven"]) and not _has_detects_raven_header(path))
                 or _matches_their_document(path) is False), None)


def unrecognised_document(existing: list[Path]) -> Path | None:
    """The first of a set in which nothing is recognisably detect's (Audacity labels alone, say,
    which cannot be told from a person's without their document), or None. Replaced only with
    ``--overwrite``."""
    return None if any(map(is_detect_output, existing)) else next(iter(existing), None)


# ext4, XFS, APFS and NTFS hold at most 255 bytes (NTFS: UTF-16 units) in one file name; a
# document is first written under its staging name, which is longer.
NAME_MAX_BYTES = 255
DOCUMENT_NAME_MAX_BYTES = NAME_MAX_BYTES - (len(staging_path(Path("x")).name) - 1)


def overlong_name(stem: str, formats: Iterable[str]) -> str | None:
    """Why the documents of ``stem`` cannot be written under their names (a recording's legal
    name plus ``.Table.1.selections.txt``, and the staging name's additions, can pass a file
    system's limit), or None."""
    name = max((Path(document_name(stem, fmt)).name for fmt in formats), key=lambda n: len(os.fsencode(n)))
    if len(os.fsencode(name)) <= DOCUMENT_NAME_MAX_BYTES:
        return None
    return (f"its results' file name {name!r} would be {len(os.fsencode(name))} bytes, and written first under a "
            f"longer temporary name it may be at most {DOCUMENT_NAME_MAX_BYTES} ({NAME_MAX_BYTES} in a file system): "
            "give the recording (a copy of it) a shorter name")


def document_stem(filename: str) -> str | None:
    """The name a recording's documents are saved under (``<stem>.events.json``, as ``detect``
    names them) for a job's or a file's name, or None when it has none to give: "." or "/" would
    make hidden files, and a name too long would not take the documents' suffixes."""
    name = recording_name(filename)
    stem = Path(name).stem if name not in ("", ".", "..") else ""
    return stem if stem and not overlong_name(stem, FORMATS) else None


def existing_documents(outdir: Path, stem: str, formats: Iterable[str]) -> list[Path]:
    """The files of ``formats`` for ``stem`` that already exist in ``outdir``."""
    return [path for fmt in formats if (path := Path(outdir) / document_name(stem, fmt)).exists()]


def write_documents(
    result: DetectionResult, outdir: Path, stem: str, formats: Iterable[str] = DEFAULT_FORMATS, job_id: str | None = None
) -> dict[str, Path]:
    """Write every format's file, or none: all are rendered and staged as temp files first
    (a rendering error or a full disk leaves nothing new), then renamed into place."""
    texts = {fmt: render_document(result, fmt, job_id) for fmt in formats}
    paths = {fmt: Path(outdir) / document_name(stem, fmt) for fmt in texts}
    staged: dict[str, Path] = {}
    try:
        for fmt, text in texts.items():
            staged[fmt] = _staged(paths[fmt], text)
        for fmt, tmp in staged.items():
            os.replace(tmp, paths[fmt])
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)  # left only when a step above failed
    return paths


# --- reading annotations and detections ------------------------------------------------

# Matched whatever their case, in this order of preference.
_LABEL_COLUMNS = ("annotation", "label", "class", "species")


def _float(value: str | None, where: str, decimal_comma: bool = False) -> float:
    if value is None or not value.strip():
        raise AnnotationFormatError(f"{where}: a time is missing")
    try:
        return float(value)
    except ValueError:
        pass
    text = value.strip()
    # A ';'-separated table is a spreadsheet's where the decimal separator is a comma ("12,5");
    # elsewhere "1,234" may be a thousands separator, and is refused rather than guessed.
    if decimal_comma and text.count(",") == 1 and "." not in text:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            pass
    raise AnnotationFormatError(f"{where}: {value!r} is not a number")


def _optional_float(value: str | None) -> float | None:
    """A confidence column, when it holds numbers (people also write 'high', 'sure'...): scoring never uses it."""
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _event(start: float, end: float, label: str, where: str, confidence: float | None = None) -> Event:
    if not 0 <= start <= end:
        raise AnnotationFormatError(f"{where}: start {start:g} and end {end:g} must satisfy 0 <= start <= end")
    return Event(start=start, end=end, label=label, confidence=confidence)


def _channel(value: str | None, where: str) -> int | None:
    """A Raven ``Channel`` cell (1-based) as a 0-based channel; None when the table has none."""
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    channel = int(number) if number.is_integer() else 0  # "2" and "2.0" (a spreadsheet's) alike
    if channel < 1:
        raise AnnotationFormatError(f"{where} (Channel): {value!r} is not a channel number (they start at 1)")
    return channel - 1


# An annotation as read: the event, the 0-based channel a Raven table gives it (None: none
# given), and its Raven selection number (None: none given).
class _Annotation(NamedTuple):
    """One row of a table: its event, the 0-based channel and Raven selection it names, where
    it stands (``file:line``), and whether its label was written (not the table's default)."""

    event: Event
    channel: int | None
    selection: str | None
    at: str = ""
    labelled: bool = True
    begin_file: str | None = None  # the recording a Raven selection names (its Begin File)


@dataclass(frozen=True)
class AnnotationTable:
    """An annotation table (or result document), read once: its events for any channel, the
    channels it names, and the channel it is about."""

    rows: list[_Annotation]
    # The result document it was read from (None for tables): its params and audio say how
    # the events were made, for a sweep that re-makes them.
    document: dict[str, Any] | None = None
    # A table without a label column whose column of this name holds a few words that look
    # like labels ("Call Type": anemonefish, biological): every row got the default label.
    label_lookalike: tuple[str, tuple[str, ...]] | None = None

    def label_lookalike_message(self, where: str, default_label: str) -> str | None:
        """What to say of a table whose labels may be in a column not read as labels, or None."""
        if self.label_lookalike is None:
            return None
        column, values = self.label_lookalike
        return (f"{where} has no label column ({', '.join(c.title() for c in _LABEL_COLUMNS)}), but its column "
                f"{column!r} holds {', '.join(values)}: every selection was read as {default_label!r}; "
                f"name that column Annotation if it holds the labels")

    @property
    def recordings_named(self) -> set[str]:
        """The file names its selections give as theirs (Raven's Begin File, without a folder)."""
        return {recording_name(row.begin_file) for row in self.rows if row.begin_file}

    def of_recordings(self, filenames: set[str]) -> AnnotationTable:
        """Only the selections of ``filenames`` (case aside), when the table covers several
        recordings (Raven's table over a file sequence, each row's Begin File saying whose it
        is) and names one of them; rows that name no recording stay. Else the table as it is."""
        wanted = {name.casefold() for name in filenames}
        named = {name.casefold() for name in self.recordings_named}
        if len(named) < 2 or not named & wanted:
            return self
        kept = [row for row in self.rows if row.begin_file is None or recording_name(row.begin_file).casefold() in wanted]
        return AnnotationTable(kept, self.document, self.label_lookalike)

    def names_none_of(self, filenames: set[str]) -> bool:
        """Whether its selections name recordings (Begin File), none of them one of ``filenames``
        (case aside): a table paired by its name with a recording it may not be about."""
        named = {name.casefold() for name in self.recordings_named}
        return bool(named) and not named & {name.casefold() for name in filenames}

    @property
    def analysed_channel(self) -> int | None:
        """A result document's channel detect analysed (None for tables)."""
        return _document_channel(self.document) if self.document is not None else None

    def events(self, channel: int | None = None) -> list[Event]:
        """With ``channel`` (0-based), a Raven table's selections on other channels are left
        out: they annotate other audio; rows that name no channel apply to every channel.
        Without it, a selection made on several channels (one number and the same times,
        a row for each of its channels) counts once; rows that merely share a number stay."""
        if channel is not None:
            return [row.event for row in self.rows if row.channel is None or row.channel == channel]
        seen: set[tuple[str, float, float]] = set()
        events = []
        for event, on, selection, *_ in self.rows:
            if selection is not None and on is not None:
                key = (selection, event.start, event.end)
                if key in seen:
                    continue
                seen.add(key)
            events.append(event)
        return events

    @property
    def channels(self) -> set[int]:
        """The 0-based channels its selections name (empty when it names none)."""
        return {row.channel for row in self.rows if row.channel is not None}

    @property
    def channel(self) -> int | None:
        """The channel it is about: a document's analysed channel, or the one its selections
        all name; None when it does not say."""
        if self.analysed_channel is not None:
            return self.analysed_channel
        return next(iter(self.channels)) if len(self.channels) == 1 else None

    def by_channel(self) -> dict[int | None, list[Event]]:
        """Its events grouped by the channel they name (key None: no channel named)."""
        grouped: dict[int | None, list[Event]] = {}
        for row in self.rows:
            grouped.setdefault(row.channel, []).append(row.event)
        return grouped


def recording_name(path: str) -> str:
    """A recording's file name without its folder, whichever system wrote it: Raven's Begin File
    (``D:\\reef\\a.wav``), a job's filename (``site-a/a.wav``)."""
    return re.split(r"[\\/]", path)[-1].strip()


def _table_rows(text: str, delimiter: str) -> list[list[str]]:
    """The table's rows of cells. Raven quotes nothing: a quote in its cell (a file named
    "reef.wav) is text, which csv's quoting would join with the cells up to the next quote.
    So tab-separated rows are split as Raven writes them, and a cell a spreadsheet quoted
    whole ("anemonefish, adult", or every cell) is unquoted; only when that leaves rows of
    uneven width (a quoted cell holding a tab or a line break) are they read as CSV quotes
    them. Comma and semicolon tables are CSV."""
    if delimiter == "\t":
        rows = [row for row in csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE) if row]
        if len({len(row) for row in rows}) <= 1:
            return [[_unquoted(cell) for cell in row] for row in rows] or [[]]
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True) if row]
    return rows or [[]]


def _unquoted(cell: str) -> str:
    if len(cell) >= 2 and cell[0] == cell[-1] == '"':
        return cell[1:-1].replace('""', '"')
    return cell


def _read_table(
    text: str, delimiter: str, where: str, start_col: str, end_col: str, default_label: str
) -> AnnotationTable:
    header, *body = _table_rows(text, delimiter)
    reader = (dict(zip(header, cells, strict=False)) for cells in body)
    # Label columns by their name in any case (a spreadsheet's LABEL), in _LABEL_COLUMNS' order.
    by_folded = {name.strip().casefold(): name for name in header}
    label_columns = [by_folded[c] for c in _LABEL_COLUMNS if c in by_folded]
    # The recording a row is of: Raven's Begin File, or a CSV's file column (detect's own CSV has one).
    file_column = next((by_folded[c] for c in ("begin file", "file", "filename") if c in by_folded), None)
    events = []
    selections = set()
    for line, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        # Raven lists each selection once per view (Waveform 1, Spectrogram 1, Spectrogram 2...)
        # under one Selection number: keep its first row. A selection made on several channels
        # shares its number too, one row per channel: those are kept, one per channel.
        selection = (row.get("Selection") or "").strip() or None
        if row.get("View") and selection:
            key = (selection, (row.get("Channel") or "").strip())
            if key in selections:
                continue
            selections.add(key)
        # Cells are trimmed: a CSV written "1.2, 1.4, anemonefish" means the label, not " anemonefish".
        written = next(((row.get(c) or "").strip() for c in label_columns if (row.get(c) or "").strip()), "")
        label = written or default_label
        at = f"{where}:{line}"
        start = _float(row.get(start_col), f"{at} ({start_col})", decimal_comma=delimiter == ";")
        end = _float(row.get(end_col), f"{at} ({end_col})", decimal_comma=delimiter == ";")
        begin_file = _from_spreadsheet_cell((row.get(file_column) or "").strip()) or None if file_column else None
        # Over a file sequence Raven's Begin Time runs across the files; File Offset is the
        # selection's time within its Begin File, the recording a result is timed by.
        offset_cell = (row.get("File Offset (s)") or "").strip() if begin_file else ""
        offset = _float(offset_cell, f"{at} (File Offset (s))", decimal_comma=delimiter == ";") if offset_cell else None
        if offset is not None and math.isfinite(offset) and offset >= 0:
            start, end = offset, offset + (end - start)
        event = _event(start, end, label, at, _optional_float(row.get("Confidence") or row.get("confidence")))
        # A label column with this row's cell blank is a selection nobody named (training
        # refuses it); a table with no label column at all is all the default's.
        events.append(_Annotation(event, _channel(row.get("Channel"), at), selection, at, bool(written), begin_file))
    lookalike = None if label_columns else _label_lookalike(header, body, default_label)
    return AnnotationTable(_blank_labels_marked(events), label_lookalike=lookalike)


# Columns of words that are never labels: Raven's view and software, and any column of times,
# dates, clock times, files or paths (by a word in its name).
_NEVER_LABELS = frozenset({"view", "software"})
_NEVER_LABEL_WORDS = ("time", "date", "clock", "file", "path", "start", "end", "begin", "onset", "offset")
_MAX_LABELS = 10  # more distinct words than this is free text (notes), not a set of labels


def _label_lookalike(header: list[str], body: list[list[str]], default_label: str) -> tuple[str, tuple[str, ...]] | None:
    """A column of a table without a label column that holds 2-10 distinct words and no
    numbers, and the words: labels under a name the reader does not know ("Call Type"). One
    holding the default label comes first (synth's tables also have a Kind: grunt, knock)."""
    found = []
    for index, name in enumerate(header):
        folded = name.strip().casefold()
        if folded in _NEVER_LABELS or any(word in folded for word in _NEVER_LABEL_WORDS):
            continue
        values = {cells[index].strip() for cells in body if index < len(cells) and cells[index].strip()}
        if 2 <= len(values) <= _MAX_LABELS and all(_optional_float(v) is None for v in values):
            found.append((name.strip(), tuple(sorted(values))))
    return min(found, key=lambda column: default_label.casefold() not in map(str.casefold, column[1]), default=None)


def _blank_labels_marked(rows: list[_Annotation]) -> list[_Annotation]:
    """Rows whose label is blank where others in the table are written are marked unlabelled
    (nobody named that selection; training refuses it). A table that names none, or has no
    label column, is all the default label's: that is how people mark calls of one kind."""
    if not any(row.labelled for row in rows):
        return [row._replace(labelled=True) for row in rows]
    return rows


def parse_annotations(
    text: str, where: str = "<annotations>", default_label: str = "anemonefish", channel: int | None = None
) -> list[Event]:
    """Events from a Raven selection table, an Audacity label track, a CSV or a result
    document (``AnnotationTable.events`` says what ``channel`` does)."""
    return _parse_annotations(text, where, default_label).events(channel)


def _document_channel(doc: dict[str, Any]) -> int | None:
    for part, key in (("params", "channel"), ("audio", "channel_analysed")):
        value = doc.get(part, {}).get(key) if isinstance(doc.get(part), dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


# A table's time columns by the names people and tools give them (any case, a unit "(s)" aside):
# spreadsheets' start/end, DCASE's onset/offset, begin.
_START_NAMES = frozenset({"start", "start time", "start_time", "starttime", "begin", "onset"})
_END_NAMES = frozenset({"end", "end time", "end_time", "endtime", "stop", "offset"})


def _time_column(header: list[str], names: frozenset[str]) -> str | None:
    """The header's cell (as written, for the rows' lookup) that names one of ``names``."""
    for cell in header:
        if re.sub(r"\s*\((s|sec|seconds)\)$", "", cell.strip().casefold()) in names:
            return cell
    return None


def _comma_or_semicolon(header: str) -> str:
    """A spreadsheet's separator: the one its header line uses more (a column named "Notes; misc"
    in a comma table, or "a, b" in a ';' one, does not decide it)."""
    return ";" if header.count(";") > header.count(",") else ","


def _parse_annotations(text: str, where: str, default_label: str) -> AnnotationTable:
    stripped = text.lstrip("\ufeff")
    first = stripped.splitlines()[0] if stripped.strip() else ""
    if stripped.lstrip().startswith("{"):
        try:
            doc = json.loads(stripped)
            rows = [_Annotation(Event.model_validate(e), None, None, f"{where}: events[{i}]")
                    for i, e in enumerate(doc["events"])]
            return AnnotationTable(rows, document=doc)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AnnotationFormatError(f"{where}: not a result document ({exc})") from exc
    if "Begin Time (s)" in first:
        # Raven writes tabs; a table saved again by a spreadsheet has commas, or semicolons
        # where the decimal separator is a comma.
        delimiter = "\t" if "\t" in first else _comma_or_semicolon(first)
        return _read_table(stripped, delimiter, where, "Begin Time (s)", "End Time (s)", default_label)
    delimiter = "\t" if "\t" in first else _comma_or_semicolon(first)
    header = _table_rows(first, delimiter)[0] if first.strip() else []
    # A header names its columns: a first line starting with times is a row (Audacity labels,
    # whose first label may well be "onset"), not a header.
    if any(_optional_float(cell) is not None for cell in header[:2]):
        header = []
    if start_col := _time_column(header, _START_NAMES):
        end_col = _time_column(header, _END_NAMES)
        if end_col is None:
            raise AnnotationFormatError(f"{where}: the table has a start column ({start_col.strip()!r}) but no end column")
        columns = {c.strip().lower() for c in header}
        if columns.isdisjoint(_LABEL_COLUMNS) and default_label.lower() in columns and len(columns) >= 4:
            # Every row a window with a probability per class (every class a column, so at least
            # two): as events, each window would be one.
            raise AnnotationFormatError(
                f"{where}: detect's window scores (start,end,<class probabilities>), not events or annotations; "
                "give the recording's .events.json or .events.csv")
        return _read_table(stripped, delimiter, where, start_col, end_col, default_label)
    events = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):
            continue  # Audacity writes spectral-selection lines starting with a backslash
        parts = line.split("\t")
        if len(parts) < 2:
            raise AnnotationFormatError(
                f"{where}:{number}: not a Raven table, CSV with start/end, or Audacity labels"
            )
        written = parts[2].strip() if len(parts) > 2 else ""
        at = f"{where}:{number}"
        event = _event(_float(parts[0], at), _float(parts[1], at), written or default_label, at)
        events.append(_Annotation(event, None, None, at, bool(written)))
    return AnnotationTable(_blank_labels_marked(events))


def _annotation_text(path: Path) -> str:
    """A table as the tools that write them encode it: UTF-8 (with or without a BOM), UTF-16
    with its BOM (Excel's "Unicode text"), or else Windows-1252, the ANSI code page Raven
    and Excel use on Windows (an accented folder in Begin Path is not UTF-8 there)."""
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)  # a BOM before a stray ANSI byte is still no text
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in data:
        encodings = ()  # binary, or UTF-16 without its BOM, which nothing writes
    else:
        encodings = ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AnnotationFormatError(f"{path}: not a text file (tables are read as UTF-8, UTF-16 or Windows-1252)")


def load_annotations(path: str | os.PathLike[str], default_label: str = "anemonefish") -> AnnotationTable:
    """A file's annotation table (or result document), read and parsed once."""
    return _parse_annotations(_annotation_text(Path(path)), str(path), default_label)


def file_sequence_tables(tables: Iterable[Path], *, by_stem: bool = False) -> dict[str, list[Path]]:
    """The tables of ``tables`` made over a file sequence (their selections' Begin File naming
    two recordings or more, as Raven's table over a folder of a deployment's files does), by
    each recording file name they name (``by_stem``: without its suffix), case folded. Tables
    that do not parse are not tables of anything here: they are refused where they are read
    for their own recording."""
    named: dict[str, list[Path]] = {}
    for table in tables:
        try:
            recordings = {name.casefold() for name in load_annotations(table).recordings_named}
        except (AnnotationFormatError, OSError):
            continue
        if len(recordings) > 1:
            for name in recordings:
                named.setdefault(Path(name).stem if by_stem else name, []).append(table)
    return named


def file_sequence_table(naming: dict[str, list[Path]], name: str, folder: Path, what: str) -> Path | None:
    """The table of ``naming`` (:func:`file_sequence_tables`) that names ``name`` and lies in
    ``folder`` or one above it, or None. Two are refused, naming ``what``: which one is the truth
    cannot be told."""
    found = sorted({t for t in naming.get(name.casefold(), []) if t.parent in (folder, *folder.parents)})
    if len(found) > 1:
        raise AnnotationFormatError(f"{what}: named in several file-sequence tables ({', '.join(map(str, found))}); keep one")
    return found[0] if found else None


def read_annotations(
    path: str | os.PathLike[str], default_label: str = "anemonefish", channel: int | None = None
) -> list[Event]:
    """``parse_annotations`` of a file."""
    return load_annotations(path, default_label).events(channel)
