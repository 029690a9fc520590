"""Training windows from synthetic soundscapes, through the detector's own audio path.

Each soundscape is written to an in-memory WAV at a random recording rate and bit depth,
decoded and resampled by :func:`anemonefish.audio.read_audio` and cut into window images
by :class:`anemonefish.features.FeatureExtractor` -- exactly what detection does -- so the
model never sees features the detector cannot produce.

Window labels follow how :mod:`anemonefish.events` turns windows into time: window ``k``
stands for the stride-long slice starting ``c = (window - stride) / 2`` after its start, and
an event starts where its first active window's slice starts. So a window is
``anemonefish`` when a call *starts* in ``(c + 3/4 stride - 2*stride, c + 3/4 stride]`` after
the window's start (0.15-0.55 s for 1 s windows at a 0.2 s stride): two consecutive windows
per call, the first of which puts the event's start 0.15 s before to 0.05 s after the
call's onset -- inside the 0.2 s onset collar of the evaluation, and early enough that
the event overlaps even a short pop. A window that holds a call
elsewhere is *not* anemonefish (the classifier answers "a call starts here"). Windows whose
call onset lies within ``ignore_s`` of the zone's edges carry no weight: either answer is
right there. That is the ``centre`` timing; a front end whose anemonefish timing is
``containment`` or ``overlap`` (an imported model, fine-tuned) labels its calls as that
timing reads them. Other fish sounds (``biological``) are always labelled by overlap, and
the card says so (``class_event_timing``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from anemonefish.audio import AUDIO_SUFFIXES, probe_audio, read_audio
from anemonefish.card import FrontEndConfig
from anemonefish.exceptions import AnnotationFormatError, AudioError
from anemonefish.events import MIN_OVERLAP_S, Event, onset_zone
from anemonefish.features import FeatureExtractor
from anemonefish.synth import ANEMONEFISH, BIOLOGICAL, MAX_SEED, SynthConfig, SynthEvent, soundscape_seed, synthesize

DEFAULT_CLASSES = ["noise", ANEMONEFISH, BIOLOGICAL]


class DatasetSpec(BaseModel):
    """How a synthetic training set is drawn (recorded in the model card)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seed: int = Field(1, ge=0, le=MAX_SEED, description="Base seed: soundscape i uses the seed sequence [seed, i].")
    soundscapes: int = Field(300, ge=1)
    duration_s: float = Field(60.0, ge=2.0, le=24 * 3600, description="Seconds per soundscape (as SynthConfig).")
    sample_rates: tuple[int, ...] = (16000, 22050, 32000, 48000)
    snr_range_db: tuple[float, float] = (-12.0, 15.0)
    anemonefish_per_min: tuple[float, float] = (8.0, 24.0)
    chirp_fraction: float = Field(
        0.6, ge=0, le=1, description="Chirps among anemonefish calls; the rest are 1-2 pulse pops."
    )
    biological_per_min: tuple[float, float] = (2.0, 16.0)
    whistles_per_min: tuple[float, float] = (0.0, 3.0)
    boat_probability: float = 0.3
    min_gap_s: float = Field(1.0, ge=0, description="Least quiet between labelled sounds.")
    train_stride_s: float = Field(
        0.08, gt=0, description="Window step when cutting training windows (2 frames): more, "
        "differently placed views of each call than the detector's stride gives."
    )
    keep_noise: float = Field(0.3, gt=0, le=1, description="Share of plain-noise windows kept.")
    ignore_s: float = Field(0.04, ge=0, description="Half-width of the don't-care band at zone edges.")


@dataclass
class WindowSet:
    images: np.ndarray  # [n, H, W, 1] float32
    labels: np.ndarray  # [n] int (index into classes)
    weights: np.ndarray  # [n] float32 (0 = don't care)
    soundscape: np.ndarray  # [n] int: which soundscape a window came from
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> WindowSet:
        return WindowSet(self.images[mask], self.labels[mask], self.weights[mask], self.soundscape[mask], self.classes)


def window_labels(
    events: Sequence[SynthEvent | Event],
    starts: np.ndarray,
    frontend: FrontEndConfig,
    classes: list[str],
    ignore_s: float = 0.04,
) -> tuple[np.ndarray, np.ndarray]:
    """Label and weight of each window from the truth (see the module docstring)."""
    window, stride = frontend.window_s, frontend.stride_s
    labels = np.zeros(len(starts), dtype=np.int64)  # noise
    weights = np.ones(len(starts), dtype=np.float32)
    fish = classes.index(ANEMONEFISH)
    bio = classes.index(BIOLOGICAL) if BIOLOGICAL in classes else None
    zone_lo, zone_hi = onset_zone(frontend)
    timing = frontend.timing_for(ANEMONEFISH)
    for i, s in enumerate(starts):
        end = s + window
        positive = False
        unsure = False
        for e in events:
            if e.label != ANEMONEFISH or e.end <= s or e.start >= end:
                continue
            if timing == "containment":
                # The whole call inside the window; a call cut by the window's edge is
                # neither answer (don't care), so the run's edges stay sharp.
                if e.start >= s - ignore_s / 2 and e.end <= end + ignore_s / 2:
                    positive = True
                else:
                    unsure = True
                continue
            if timing == "overlap":
                if min(e.end, end) - max(e.start, s) >= min(MIN_OVERLAP_S, 0.5 * (e.end - e.start)):
                    positive = True
                else:
                    unsure = True  # in the window, by less than the rule asks
                continue
            onset = e.start - s
            if zone_lo + ignore_s < onset <= zone_hi - ignore_s:
                positive = True
            elif zone_lo - ignore_s < onset <= zone_hi + ignore_s:
                unsure = True
        if positive:
            labels[i] = fish
            continue
        if unsure:
            weights[i] = 0.0
            continue
        if bio is None:
            continue
        for e in events:
            # Sounds the front end cannot see (whistles above fmax) are noise to the model.
            if e.label != BIOLOGICAL or getattr(e, "f0", 0.0) >= frontend.fmax:
                continue
            overlap = min(e.end, end) - max(e.start, s)
            if overlap >= min(MIN_OVERLAP_S, 0.5 * (e.end - e.start)):
                labels[i] = bio
                break
    return labels, weights


def soundscape_config(spec: DatasetSpec, rng: np.random.Generator) -> SynthConfig:
    """A randomly varied soundscape for training (rates, rate of recording, boats)."""
    return SynthConfig(
        duration_s=spec.duration_s,
        sample_rate=int(rng.choice(spec.sample_rates)),
        snr_range_db=spec.snr_range_db,
        anemonefish_per_min=float(rng.uniform(*spec.anemonefish_per_min)),
        chirp_fraction=spec.chirp_fraction,
        biological_per_min=float(rng.uniform(*spec.biological_per_min)),
        whistles_per_min=float(rng.uniform(*spec.whistles_per_min)),
        boat_probability=spec.boat_probability,
        min_gap_s=spec.min_gap_s,
        variety=True,
    )


def wav_in_memory(signal: np.ndarray, sample_rate: int, subtype: str) -> io.BytesIO:
    """``signal`` as a WAV file in memory (``subtype`` e.g. ``PCM_24``), positioned at its start."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, signal, sample_rate, subtype=subtype, format="WAV")
    buffer.seek(0)
    return buffer


def decode_like_detector(signal: np.ndarray, sample_rate: int, frontend: FrontEndConfig, subtype: str) -> np.ndarray:
    """Round-trip through a WAV in memory and the library's decoder/resampler."""
    _, audio = read_audio(wav_in_memory(signal, sample_rate, subtype), frontend.sample_rate)
    return audio


def build_windows(spec: DatasetSpec, frontend: FrontEndConfig, classes: list[str] | None = None) -> WindowSet:
    """The windows of ``spec.soundscapes`` synthetic soundscapes, labelled (a ``keep_noise`` share of plain noise)."""
    return build_windows_and_spare_noise(spec, frontend, classes, keep_spare=False)[0]


def build_windows_and_spare_noise(
    spec: DatasetSpec, frontend: FrontEndConfig, classes: list[str] | None = None, keep_spare: bool = True
) -> tuple[WindowSet, WindowSet]:
    """:func:`build_windows`, plus the plain-noise windows it left out (the pool hard negatives are mined from).

    With ``keep_spare=False`` the pool comes back empty: it is about twice the kept set's size.
    """
    classes = list(classes or DEFAULT_CLASSES)
    # Same front end, finer step: every window is still one the detector could cut.
    extractor = FeatureExtractor(frontend.model_copy(update={"stride_s": spec.train_stride_s}))
    images, labels, weights, origin = [], [], [], []
    spare_images, spare_origin = [], []
    for index in range(spec.soundscapes):
        rng = np.random.default_rng([spec.seed, index, 1])
        config = soundscape_config(spec, rng)
        scape = synthesize(config, seed=soundscape_seed(spec.seed, index))
        subtype = str(rng.choice(["PCM_16", "PCM_24", "FLOAT"]))
        audio = decode_like_detector(scape.signal, scape.sample_rate, frontend, subtype)
        window_images, starts = extractor.windows_from_signal(audio)
        y, w = window_labels(scape.events, starts, frontend, classes, spec.ignore_s)
        keep = (y != 0) | (rng.random(len(y)) < spec.keep_noise)
        spare = ~keep & (w > 0) & keep_spare
        spare_images.append(window_images[spare])
        spare_origin.append(np.full(int(spare.sum()), index))
        window_images, y, w = window_images[keep], y[keep], w[keep]
        images.append(window_images)
        labels.append(y)
        weights.append(w)
        origin.append(np.full(len(y), index))
    kept = WindowSet(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        weights=np.concatenate(weights),
        soundscape=np.concatenate(origin),
        classes=classes,
    )
    n_spare = sum(len(o) for o in spare_origin)
    spare_set = WindowSet(
        images=np.concatenate(spare_images),
        labels=np.zeros(n_spare, dtype=np.int64),
        weights=np.ones(n_spare, dtype=np.float32),
        soundscape=np.concatenate(spare_origin),
        classes=classes,
    )
    return kept, spare_set


ANNOTATION_SUFFIXES = (".Table.1.selections.txt", ".selections.txt", ".labels.txt", ".txt", ".csv")


# Names only annotation tables bear: one of these with no recording beside it is a table
# whose recording is missing or misnamed (rec.Table.2.selections.txt), not a notes file.
_TABLE_ONLY_SUFFIXES = (".selections.txt", ".labels.txt")


def labelled_recordings(folder: str | Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Audio files below ``folder`` with an annotation table of the same name beside them (or,
    without one, a file sequence's table naming them, in their folder or above it), and those
    without any. Hidden files and folders (macOS's ``._rec.wav``) are not recordings."""
    pairs, unlabelled = [], []
    claimed: dict[Path, Path] = {}
    root = Path(folder)
    for audio in sorted(root.rglob("*")):
        if _hidden(audio, root) or not audio.is_file() or audio.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        tables = list(dict.fromkeys(t for s in ANNOTATION_SUFFIXES if (t := audio.with_name(audio.stem + s)).is_file()))
        if not tables:
            unlabelled.append(audio)
            continue
        if len(tables) > 1:
            # Which one is the truth cannot be told (an older export, another person's): training
            # on one would silently drop the other's corrections.
            raise AnnotationFormatError(
                f"{audio}: several annotation tables ({', '.join(t.name for t in tables)}); keep one per recording"
            )
        table = tables[0]
        if table in claimed:
            # rec.wav and rec.flac (one a copy of the other, or not): which one the table
            # describes cannot be told, and training on both would count its calls twice.
            raise AnnotationFormatError(
                f"{table}: names both {claimed[table].name} and {audio.name}; keep one of the recordings "
                "or give each its own table"
            )
        claimed[table] = audio
        pairs.append((audio, table))
    if unlabelled:
        pairs, unlabelled = _with_file_sequence_tables(root, pairs, unlabelled)
    return pairs, unlabelled


def _with_file_sequence_tables(
    root: Path, pairs: list[tuple[Path, Path]], unlabelled: list[Path]
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Recordings without a table of their own name, paired with the table made over a file
    sequence that names them in its Begin File (Raven's table over a deployment's folder), in
    their folder or one above it."""
    from anemonefish.formats import file_sequence_table, file_sequence_tables

    naming = file_sequence_tables(p for p in sorted(root.rglob("*"))
                                  if p.is_file() and p.name.endswith(ANNOTATION_SUFFIXES) and not _hidden(p, root))
    still = []
    for audio in unlabelled:
        if table := file_sequence_table(naming, audio.name, audio.parent, str(audio)):
            pairs.append((audio, table))
        else:
            still.append(audio)
    return sorted(pairs), still


def _hidden(path: Path, root: Path) -> bool:
    """Below ``root``, in a hidden folder or hidden itself (``.git``, macOS's ``._rec.wav``)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def orphan_tables(folder: str | Path, pairs: Sequence[tuple[Path, Path]]) -> list[Path]:
    """Annotation tables below ``folder`` (by a name only tables bear) that no recording took."""
    root, taken = Path(folder), {table for _, table in pairs}
    return [
        path for path in sorted(root.rglob("*"))
        if path.name.endswith(_TABLE_ONLY_SUFFIXES) and path.is_file() and path not in taken
        and not _hidden(path, root)
    ]


def labelled_pairs(folder: str | Path, log: Callable[[str], None] = print) -> list[tuple[Path, Path]]:
    """:func:`labelled_recordings`, refusing a folder with none and logging those without a
    table and the tables without a recording."""
    pairs, unlabelled = labelled_recordings(folder)
    if not pairs:
        raise AnnotationFormatError(
            f"{folder}: no audio file with an annotation table of the same name beside it "
            f"({', '.join(ANNOTATION_SUFFIXES)})"
        )
    root = Path(folder)
    if unlabelled:
        shown = ", ".join(str(p.relative_to(root)) for p in unlabelled[:5]) + (" ..." if len(unlabelled) > 5 else "")
        log(f"{len(unlabelled)} recording(s) in {folder} have no annotation table and are left out: {shown}")
    if orphans := orphan_tables(folder, pairs):
        shown = ", ".join(str(p.relative_to(root)) for p in orphans[:5]) + (" ..." if len(orphans) > 5 else "")
        log(f"{len(orphans)} annotation table(s) in {folder} have no recording of their name beside them and are "
            f"left out: {shown}")
    return pairs


def labelled_channels(
    audio_path: Path, table: Path, classes: list[str], log: Callable[[str], None] | None = None
) -> dict[int, list[Event]]:
    """The annotated channels of one recording (0-based, in order) and each one's events,
    labelled with the model's own class names.

    A Raven table's ``Channel`` column is honoured; a table without one labels the first
    channel. Refused, naming the table's line: labels that are none of ``classes`` (in any
    case), a blank label in a label column, selections on channels the file lacks or starting
    after its end (a table in milliseconds, say), and a table where only some selections name
    a channel. A recording that cannot be read is named by its path. A Raven table whose
    ``Begin File`` names another recording is logged (paired by name, it may be a copy of
    another recording's table, or of this one before a rename).
    """
    from anemonefish.formats import load_annotations

    by_name = {c.casefold(): c for c in classes}
    annotations = load_annotations(table).of_recordings({audio_path.name})  # a file sequence's table: this file's rows
    rows = annotations.rows
    if blank := next((row for row in rows if not row.labelled), None):
        raise AnnotationFormatError(
            f"{blank.at}: the selection has no label (its cell is blank); label it one of {', '.join(classes)}"
        )
    unknown = sorted({row.event.label for row in rows if row.event.label.casefold() not in by_name})
    if unknown:
        first = next(row for row in rows if row.event.label == unknown[0])
        raise AnnotationFormatError(
            f"{first.at}: labels {unknown} are none of the model's classes ({', '.join(classes)}); "
            "relabel them, or their sounds would be learnt as noise"
        )
    if log is not None and (lookalike := annotations.label_lookalike_message(str(table), "anemonefish")):
        log(f"warning: {lookalike}")
    if log is not None and annotations.names_none_of({audio_path.name}):
        annotated = ", ".join(sorted(annotations.recordings_named))
        log(f"warning: {table} annotates {annotated} (its Begin File), yet is the table of "
            f"{audio_path} by its name: trained as that recording's")
    with named_by_path(audio_path):
        info = probe_audio(audio_path)
    if outside := next((row for row in rows if row.channel is not None and row.channel >= info.channels), None):
        raise AnnotationFormatError(
            f"{outside.at}: a selection on channel {outside.channel + 1}, but {audio_path.name} has "
            f"{info.channels} channel(s); correct its Channel (channels count from 1)"
        )
    if late := next((row for row in rows if row.event.start >= info.duration_s), None):
        raise AnnotationFormatError(
            f"{late.at}: a selection at {late.event.start:g} s, past the end of {audio_path.name} "
            f"({info.duration_s:.1f} s); are its times in seconds, and is it this recording's table?"
        )
    by_channel = annotations.by_channel()
    unnamed = by_channel.pop(None, [])
    if not by_channel:
        by_channel = {0: unnamed}
    elif unnamed:
        raise AnnotationFormatError(f"{table}: some selections name a Channel and some do not")
    return {
        channel: [e.model_copy(update={"label": by_name[e.label.casefold()]}) for e in events]
        for channel, events in sorted(by_channel.items())  # type: ignore[arg-type]
    }


@contextmanager
def named_by_path(audio_path: Path) -> Iterator[None]:
    """Errors reading a recording of a training folder name it by its path (two sites'
    ``20240101_000000.wav`` are told apart), not by its file name alone as the decoder does."""
    try:
        yield
    except AudioError as exc:
        reason = str(exc).removeprefix(f"{audio_path.name}: ")
        raise type(exc)(f"{audio_path}: {reason}") from exc


def windows_from_recordings(
    folder: str | Path,
    frontend: FrontEndConfig,
    classes: list[str],
    train_stride_s: float = 0.08,
    ignore_s: float = 0.04,
    log: Callable[[str], None] = print,
    keep_noise: float = 1.0,
    seed: int = 0,
) -> WindowSet:
    """Labelled windows from real recordings (annotations: Raven, Audacity or CSV).

    Like the synthetic set, only a ``keep_noise`` share of the plain-noise windows is kept
    (drawn with ``seed``): at a 0.08 s step an hour of recording is 45,000 windows, 700 MB.

    Every annotation's label must be one of ``classes`` (case aside: ``Anemonefish`` is
    ``anemonefish``); a table with any other label is refused, naming it, since its sounds
    would otherwise be learnt as noise.

    A Raven table's ``Channel`` column is honoured: each channel it names is read and
    labelled with that channel's selections only. Channels it does not name are left out
    (whether they were listened to cannot be told); a table with no ``Channel`` column
    labels the first channel, the one ``detect`` reads by default.
    """
    pairs = labelled_pairs(folder, log)
    extractor = FeatureExtractor(frontend.model_copy(update={"stride_s": train_stride_s}))
    images, labels, weights, origin = [], [], [], []
    channels_read = 0
    for index, (audio_path, table) in enumerate(pairs):
        for channel, events in labelled_channels(audio_path, table, classes, log).items():
            with named_by_path(audio_path):
                _, audio = read_audio(audio_path, frontend.sample_rate, channel=channel)
            window_images, starts = extractor.windows_from_signal(audio)
            y, w = window_labels(events, starts, frontend, classes, ignore_s)
            # The first channel keeps the draw it had before channels were read, so a seed
            # still gives the same model on the same mono data.
            draw = [seed, index, 2] if channel == 0 else [seed, index, channel, 2]
            keep = (y != 0) | (np.random.default_rng(draw).random(len(y)) < keep_noise)
            images.append(window_images[keep])
            labels.append(y[keep])
            weights.append(w[keep])
            origin.append(np.full(int(keep.sum()), -1 - index))
            channels_read += 1
    data = WindowSet(np.concatenate(images), np.concatenate(labels), np.concatenate(weights), np.concatenate(origin), classes)
    counts = np.bincount(data.labels, minlength=len(classes)).tolist()
    log(
        f"labelled recordings in {folder}: {len(pairs)} recording(s), {channels_read} channel(s), "
        f"{len(data)} windows, per class {counts}"
    )
    return data


def concatenate(parts: Sequence[WindowSet]) -> WindowSet:
    return WindowSet(
        images=np.concatenate([p.images for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        weights=np.concatenate([p.weights for p in parts]),
        soundscape=np.concatenate([p.soundscape for p in parts]),
        classes=parts[0].classes,
    )
