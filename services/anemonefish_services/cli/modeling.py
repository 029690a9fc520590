"""``anemonefish synth | train | evaluate | model import | model retune``: data, training and evaluation.

TensorFlow is imported only inside ``train`` and ``model import``; ``model retune`` scores
with the served LiteRT model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, get_args

from anemonefish.card import EventTiming, FrontEndConfig, Normalisation, VerifierConfig

# TensorFlow's C++ start-up chatter (oneDNN, absl, graph attributes) as the Makefile keeps it
# quiet: the commands that load it (train, model import/retune) print their own progress.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if TYPE_CHECKING:
    import pydantic

    from anemonefish.formats import AnnotationTable
    from anemonefish.training import TrainSpec
    from anemonefish.training.train import StartingPoint

VERIFIER_GATE = VerifierConfig.model_fields["gate"].default
# SynthConfig's defaults as synth's help states them, by hand: importing the generator to read
# them would cost every command its import at start-up (a test holds the two together).
SYNTH_HELP_DEFAULTS = {"anemonefish_per_min": 6.0, "biological_per_min": 6.0, "min_gap_s": 1.5}
ANNOTATION_SUFFIXES = (".Table.1.selections.txt", ".selections.txt", ".labels.txt", ".events.json", ".csv", ".txt")


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_synth(subparsers)
    _register_train(subparsers)
    _register_evaluate(subparsers)
    _register_model(subparsers)


# --- synth ----------------------------------------------------------------------------


def _register_synth(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="write synthetic reef soundscapes with labelled anemonefish calls",
        description="Write N synthetic soundscapes (WAV) and their truth (Raven selection tables).",
    )
    p.add_argument("outdir", type=Path, metavar="OUTDIR")
    p.add_argument("--duration", type=float, default=60.0,
                   help="seconds per soundscape (default 60); one file however long: beyond 600 s it is made of "
                        "consecutive parts of at most 600 s (each with its own level and call rates), so memory stays bounded")
    p.add_argument("--count", type=int, default=1, help="number of soundscapes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="base seed; soundscape i uses [seed, i] (default 0)")
    p.add_argument("--snr-db", type=float, default=None, help="fixed in-band SNR of every call, -60..60 dB (default: each drawn from -10..+20 dB)")
    p.add_argument("--sample-rate", type=int, default=48000, help="Hz (default 48000)")
    p.add_argument("--anemonefish-per-min", type=float, default=None,
                   help=f"mean rate of anemonefish calls (default {SYNTH_HELP_DEFAULTS['anemonefish_per_min']:g} a minute); "
                        f"every labelled sound keeps {SYNTH_HELP_DEFAULTS['min_gap_s']:g} s of quiet from the next, which caps "
                        "the rate actually reached")
    p.add_argument("--biological-per-min", type=float, default=None,
                   help=f"mean rate of other fish sounds (default {SYNTH_HELP_DEFAULTS['biological_per_min']:g} a minute); "
                        "capped the same way")
    p.add_argument("--subtype", default="PCM_24", choices=["PCM_16", "PCM_24", "FLOAT"])
    p.add_argument("--prefix", default="soundscape", help="file name prefix (default soundscape)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace soundscapes and truth tables of the same names (default: refuse, naming them)")
    p.set_defaults(func=run_synth)


# Spec fields whose command-line option has another name.
_OPTION_OF_FIELD = {"duration_s": "--duration"}
# Front-end fields as FrontEndConfig's checks across fields name them; the commands' options
# for them are the same names, dashed.
_FRONT_END_FIELDS = re.compile(r"\b(n_fft|hop_length|sample_rate|window_s|stride_s|fmin|fmax)\b")


def option_at_fault(exc: pydantic.ValidationError, options: dict[str, str] | None = None,
                    otherwise: str | None = None) -> str:
    """``--option: message`` for the first field a command line's values failed on.

    ``options`` names the options of fields whose names differ; a field without one is
    ``--its-name``, or ``otherwise`` when the command has no option for it (a value it
    read from a file, say).
    """
    first = exc.errors()[0]
    if not first["loc"]:  # a check across fields: its message names the fields, as options here
        message = str(first["msg"]).removeprefix("Value error, ")
        return _FRONT_END_FIELDS.sub(lambda m: "--" + m.group(0).replace("_", "-"), message)
    field = str(first["loc"][-1])
    named = {**_OPTION_OF_FIELD, **(options or {})}
    where = named.get(field) or otherwise or f"--{field.replace('_', '-')}"
    return f"{where}: {first['msg']}"


def run_synth(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from anemonefish.formats import document_name  # Raven's table name, which synth's truth bears too
    from anemonefish.synth import ANEMONEFISH, MAX_SEED, SynthConfig, soundscape_seed, write_recording

    if args.count < 1:
        print("error: --count must be at least 1", file=sys.stderr)
        return 2
    if not 0 <= args.seed <= MAX_SEED:
        print(f"error: --seed: must be 0..{MAX_SEED}", file=sys.stderr)
        return 2
    if (not args.prefix or Path(args.prefix).name != args.prefix or args.prefix.startswith(".")
            or not args.prefix.isprintable()):
        print(f"error: --prefix: {args.prefix!r} must be a plain file name (no folders or control characters)",
              file=sys.stderr)
        return 2
    overrides = {
        k: v
        for k, v in {
            "anemonefish_per_min": args.anemonefish_per_min,
            "biological_per_min": args.biological_per_min,
        }.items()
        if v is not None
    }
    try:
        config = SynthConfig(duration_s=args.duration, sample_rate=args.sample_rate, snr_db=args.snr_db, **overrides)
    except ValidationError as exc:
        print(f"error: {option_at_fault(exc)}", file=sys.stderr)
        return 2
    from anemonefish_services.cli.detect import unusable_outdir

    if (problem := unusable_outdir(args.outdir)) is not None:
        print(f"error: OUTDIR {args.outdir}: {problem}", file=sys.stderr)
        return 2
    width = len(str(args.count - 1))
    names = [f"{args.prefix}_{args.seed}_{index:0{width}d}" for index in range(args.count)]
    if not args.overwrite:
        # A truth table someone corrected by hand must not be lost to a rerun; checked before
        # anything is written, so a refused run leaves the folder as it was.
        taken = [path for name in names for path in (args.outdir / f"{name}.wav", args.outdir / document_name(name, "raven"))
                 if path.exists()]
        if taken:
            shown = ", ".join(str(path) for path in taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
            print(f"error: {shown} exist(s); not replacing (--overwrite replaces them)", file=sys.stderr)
            return 2
    for index, name in enumerate(names):
        try:
            wav, table, events = write_recording(config, soundscape_seed(args.seed, index), args.outdir, name, args.subtype)
        except (OSError, RuntimeError) as exc:  # a full disk: libsndfile's errors are RuntimeErrors
            # write_recording leaves no part behind; the soundscapes before this one are whole.
            print(f"error: {args.outdir / name}.wav: cannot write it ({exc}); {index} of {len(names)} written",
                  file=sys.stderr)
            return 1
        calls = sum(e.label == ANEMONEFISH for e in events)
        print(f"{wav}  {calls} anemonefish calls, {len(events) - calls} other labelled sounds -> {table.name}")
    return 0


# --- train ----------------------------------------------------------------------------


def _image_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HEIGHTxWIDTH, e.g. 39x100") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive")
    return h, w


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the window classifier and write a model bundle",
        description=(
            "Train the CNN on synthetic soundscapes (--synthetic) and/or a folder of labelled "
            "recordings (each audio file with an annotation table of the same name), then "
            "export model.keras + model.tflite + card.json."
        ),
    )
    p.add_argument("data", nargs="?", type=Path, default=None, metavar="DATA", help="folder of labelled recordings")
    p.add_argument("--synthetic", action="store_true", help="train on synthetic soundscapes")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="BUNDLE_DIR")
    p.add_argument("--seed", type=int, default=1, help="seed of the data and the weights (default 1)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default 15; {FINE_TUNE_DEFAULTS['epochs']} with --init-from)")
    p.add_argument("--soundscapes", type=int, default=None, help="synthetic soundscapes to draw (default 300)")
    p.add_argument("--duration", type=float, default=None, help="seconds per synthetic soundscape (default 60)")
    p.add_argument("--chirp-fraction", type=float, default=None,
                   help="share of synthetic anemonefish calls that are chirps; the rest are 1-2 pulse pops (default 0.6)")
    p.add_argument("--image-size", type=_image_size, default=None, help="HEIGHTxWIDTH of the model input (default 39x100)")
    p.add_argument("--n-fft", type=int, default=None,
                   help="FFT frame length in samples at the model's rate (default 128); with --image-size "
                   "HEIGHT equal to the bins from fmin to fmax, the model reads them unresized")
    p.add_argument("--hop-length", type=int, default=None,
                   help="STFT hop in samples at the model's rate (default 64); with --image-size WIDTH "
                   "equal to the frames in a window, the model reads them unresized")
    p.add_argument("--frequency-pool", type=int, default=None,
                   help="frequency bins the first conv block pools into one (default 2)")
    p.add_argument("--time-pool", type=int, default=None,
                   help="frames the first conv block pools into one (default 2)")
    p.add_argument("--width", type=int, default=None, help="filters of the first conv layer (default 8)")
    p.add_argument("--dense-units", type=int, default=None, help="units of the dense layer (default 32)")
    p.add_argument("--normalisation", choices=get_args(Normalisation), default=None,
                   help="per-window scaling of the images (default standardize)")
    p.add_argument("--warmup-epochs", type=float, default=None,
                   help="epochs of linear learning-rate warm-up before the cosine decay (default 1)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help=f"peak learning rate (default 0.003; {FINE_TUNE_DEFAULTS['learning_rate']:g} with --init-from)")
    p.add_argument("--mining-epochs", type=int, default=None,
                   help="epochs of a first model that picks hard negatives from the left-out noise "
                        "of the synthetic soundscapes (default 4; 0 with --init-from or without --synthetic; "
                        "0 = no mining)")
    p.add_argument("--init-from", default=None, metavar="BUNDLE_DIR",
                   help="continue training that bundle's network instead of a new one (fine-tuning; 'shipped' "
                        "for the shipped model; a pair, both its networks): its front end, classes and "
                        "architecture are kept, and the "
                        f"defaults become --epochs {FINE_TUNE_DEFAULTS['epochs']} "
                        f"--learning-rate {FINE_TUNE_DEFAULTS['learning_rate']:g} --mining-epochs 0")
    p.add_argument("--validation-soundscapes", type=int, default=None,
                   help="held-out synthetic soundscapes the detection defaults are chosen on (default 24)")
    p.add_argument("--name", default="anemonefish-cnn", help="the bundle's model name (default anemonefish-cnn)")
    p.add_argument("--version", default=None, help="default: the package's; with --init-from, the start's marked +tuned")
    p.add_argument("--overwrite", action="store_true", help="replace BUNDLE_DIR if it is a model bundle already")
    p.set_defaults(func=run_train)


def _timed_log() -> Callable[[str], None]:
    """Progress lines prefixed with the seconds since the command started, on stderr: the
    command's result (JSON) is all that goes to stdout, so it can be piped on."""
    started = time.perf_counter()
    return lambda message: print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)


# Training continued from a bundle: a few epochs at a tenth of the rate, so the new data
# adjusts the network rather than replacing what it learnt.
FINE_TUNE_DEFAULTS = {"epochs": 5, "learning_rate": 3e-4, "mining_epochs": 0}
# What a starting bundle fixes: these options cannot go with --init-from.
_FIXED_BY_START = ("image_size", "n_fft", "hop_length", "frequency_pool", "time_pool", "width", "dense_units",
                   "normalisation")


def train_spec_from_args(args: argparse.Namespace, start: StartingPoint | None = None) -> TrainSpec:
    """The training spec a ``train`` command line asks for (training defaults elsewhere;
    with ``start``, the front end that bundle fixes)."""
    from anemonefish.training import DatasetSpec, TrainSpec

    updates: dict = {"seed": args.seed}
    if args.soundscapes is not None:
        updates["soundscapes"] = args.soundscapes
    if args.duration is not None:
        updates["duration_s"] = args.duration
    if args.chirp_fraction is not None:
        updates["chirp_fraction"] = args.chirp_fraction
    spec_updates: dict = {"seed": args.seed, "dataset": DatasetSpec(**updates)}
    if args.image_size is not None:
        spec_updates["image_height"], spec_updates["image_width"] = args.image_size
    if start is not None:
        spec_updates.update(FINE_TUNE_DEFAULTS)
    for field in ("epochs", "n_fft", "hop_length", "frequency_pool", "time_pool", "width", "dense_units",
                  "normalisation", "warmup_epochs", "validation_soundscapes", "learning_rate", "mining_epochs"):
        if getattr(args, field) is not None:
            spec_updates[field] = getattr(args, field)
    if not getattr(args, "synthetic", True):
        spec_updates["mining_epochs"] = 0  # mining draws from the synthetic soundscapes: none without them
    spec = TrainSpec(**spec_updates)
    return start.fix_spec(spec) if start is not None else spec


def run_train(args: argparse.Namespace) -> int:
    if not args.synthetic and args.data is None:
        print("error: give a DATA folder of labelled recordings, --synthetic, or both", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_dir():
        print(f"error: DATA: {args.data} is not a folder", file=sys.stderr)
        return 2
    if args.mining_epochs and not args.synthetic:
        # Not refused: cards trained on DATA alone before this check name it in their reproduce line.
        print("warning: --mining-epochs: hard negatives are mined from the synthetic soundscapes, so without "
              "--synthetic there is no mining (the card records 0)", file=sys.stderr)
    from pydantic import ValidationError

    from anemonefish.exceptions import (
        AnemonefishError,
        AnnotationFormatError,
        AudioError,
        BundleTargetError,
        ModelBundleError,
    )
    from anemonefish.training.train import StartingPoint, fine_tune, train

    start = None
    if args.init_from is not None:
        fixed = [field for field in _FIXED_BY_START if getattr(args, field) is not None]
        if fixed:
            option = "--" + fixed[0].replace("_", "-")
            print(f"error: {option}: the front end and architecture are --init-from's ({args.init_from}); "
                  "leave it out", file=sys.stderr)
            return 2
        try:
            start = StartingPoint.of(args.init_from)
        except ModelBundleError as exc:
            print(f"error: --init-from: {exc}", file=sys.stderr)
            return 2
    try:
        spec = train_spec_from_args(args, start)
    except ValidationError as exc:
        print(f"error: {option_at_fault(exc)}", file=sys.stderr)
        return 2
    # train() checks -o and reads DATA before it draws the synthetic set (minutes), so these
    # fail in seconds.
    try:
        if start is not None:
            card = fine_tune(args.output, spec, start, synthetic=args.synthetic, data_dir=args.data, name=args.name,
                             version=args.version, log=_timed_log(), replace=args.overwrite)
        else:
            card = train(args.output, spec, synthetic=args.synthetic, data_dir=args.data, name=args.name,
                         version=args.version, log=_timed_log(), replace=args.overwrite)
    except BundleTargetError as exc:
        print(f"error: -o {exc}", file=sys.stderr)
        return 2
    except (AnnotationFormatError, AudioError) as exc:  # the labelled recordings
        print(f"error: DATA: {exc}", file=sys.stderr)
        return 2
    except AnemonefishError as exc:  # e.g. a run that did not converge: nothing is written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"bundle": str(args.output), "detection_defaults": card.detection_defaults}, indent=2))
    return 0


# --- evaluate -------------------------------------------------------------------------


def recording_stem(path: Path) -> str:
    """``reef`` for reef.events.json, reef.Table.1.selections.txt, reef.labels.txt, reef.csv..."""
    from anemonefish.formats import DETECT_ONLY_SUFFIXES

    name = path.name
    for suffix in (*DETECT_ONLY_SUFFIXES, *ANNOTATION_SUFFIXES):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _recording_key(path: Path, folder: Path) -> str:
    """The recording's path below ``folder`` without the document suffix: ``site-a/reef``."""
    return (path.parent.relative_to(folder) / recording_stem(path)).as_posix()


class Pairing(NamedTuple):
    pairs: list[tuple[Path, Path]]
    unannotated: list[str]  # recordings with detections and no annotation table
    undetected: list[str]  # recordings with annotations and no detection document


def _pairs(detections: Path, annotations: Path) -> Pairing:
    """Detection documents and annotation tables of the same recordings.

    Folders are searched recursively and paired by the path below them (``detect`` keeps a
    folder's sub-folders), so ``out/site-a/reef.events.json`` pairs with
    ``truth/site-a/reef.Table.1.selections.txt``. A recording with several candidate tables
    is refused rather than paired with whichever sorts first.
    """
    from anemonefish.formats import DETECT_ONLY_SUFFIXES, document_name, is_detect_output

    if detections.is_file() and annotations.is_file():
        return Pairing([(detections, annotations)], [], [])
    if not (detections.is_dir() and annotations.is_dir()):
        raise ValueError("--detections and --annotations must both be files or both be folders")
    # Each recording's detections from the richest document detect left: its result document,
    # else its CSV, Raven table (by detect's header) or Audacity labels (--format raven alone,
    # say). Labels cannot be told from a person's, so not where the truth lies too.
    apart = detections.resolve() != annotations.resolve()
    dets: dict[str, Path] = {}
    for fmt in ("json", "csv", "raven", "audacity"):
        if fmt == "audacity" and not apart:
            continue
        for p in sorted(detections.rglob("*" + document_name("", fmt))):
            if p.is_file() and (fmt != "raven" or is_detect_output(p)):
                dets.setdefault(_recording_key(p, detections), p)
    candidates: dict[str, list[Path]] = {}
    chosen = set(dets.values())  # taken as detections: not truth as well (one folder for both)
    for p in sorted(annotations.rglob("*")):
        # Files only detect writes are never annotations; its Raven table and Audacity labels
        # bear the names people give their own tables, so those are told apart by content later.
        if (p.is_file() and p.name.endswith(ANNOTATION_SUFFIXES) and not p.name.endswith(DETECT_ONLY_SUFFIXES)
                and p not in chosen):
            candidates.setdefault(_recording_key(p, annotations), []).append(p)
    pairs = []
    for key in sorted(dets):
        tables = candidates.get(key, [])
        if len(tables) > 1:
            raise ValueError(
                f"{key}: several annotation tables ({', '.join(str(t) for t in tables)}); keep one per recording "
                "in --annotations (a detect run writes its own tables beside its documents)"
            )
        if tables:
            pairs.append((dets[key], tables[0]))
    unannotated = sorted(set(dets) - set(candidates))
    in_sequences: set[Path] = set()
    if unannotated:
        paired, unannotated = _sequence_pairs(unannotated, dets, candidates, annotations)
        pairs = sorted(pairs + paired)
        in_sequences = {table for _, table in paired}
    # A LICENSE or README .txt beside the recordings is not a recording left unscored; a file
    # named as a table is one, even when it does not parse.
    undetected = [key for key in sorted(set(candidates) - set(dets))
                  if not set(candidates[key]) <= in_sequences
                  and any(_named_as_table(p) or _is_annotation_table(p) for p in candidates[key])]
    return Pairing(pairs, unannotated, undetected)


def _sequence_pairs(
    keys: list[str], dets: dict[str, Path], candidates: dict[str, list[Path]], annotations: Path
) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Recordings without a table of their own name (``keys``), paired with the table made over
    a file sequence whose Begin File names them (Raven's table over a deployment's folder), in
    their folder or one above it; and the keys still without a table. Matched by the name's
    stem, as tables pair with recordings by name; evaluate then scores only that file's rows."""
    from anemonefish.formats import file_sequence_table, file_sequence_tables

    naming = file_sequence_tables((p for tables in candidates.values() for p in tables), by_stem=True)
    paired, still = [], []
    for key in keys:
        if table := file_sequence_table(naming, Path(key).name, (annotations / key).parent, key):
            paired.append((dets[key], table))
        else:
            still.append(key)
    return paired, still


def _named_as_table(path: Path) -> bool:
    return path.name.endswith((".selections.txt", ".labels.txt"))


def _is_annotation_table(path: Path) -> bool:
    from anemonefish.exceptions import AnnotationFormatError
    from anemonefish.formats import load_annotations

    try:
        load_annotations(path)
    except (AnnotationFormatError, OSError):
        return False
    return True


def _register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="event-level precision/recall/F1 of detections against annotations",
        description=(
            "Compare detection documents (*.events.json, or any annotation table) with annotations "
            "(Raven selection tables, Audacity labels, CSV). A detection matches an annotation when "
            "they overlap and their onsets are within the collar; matching is one-to-one. Folders "
            "are paired by recording name (a recording's detections: its .events.json, else detect's "
            ".events.csv, Raven table or Audacity labels). --sweep re-runs the post-processing on the stored window "
            "scores (<name>.scores.csv beside each detection document, written by detect --format "
            "...,scores) over thresholds 0.05..0.95."
        ),
    )
    p.add_argument("--detections", type=Path, required=True)
    p.add_argument("--annotations", type=Path, required=True)
    p.add_argument("--collar", type=float, default=0.2, help="onset collar in seconds (default 0.2)")
    p.add_argument("--label", default="anemonefish", help="label compared (default anemonefish)")
    p.add_argument("--channel", type=int, default=None, metavar="N",
                   help="score only the truth selections on this channel (0-based, as detect's --channel); "
                        "default: the channel each detection document (or Raven table) names")
    p.add_argument("--sweep", action="store_true", help="precision/recall over the threshold")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_evaluate)


def _classes_detected(detections: AnnotationTable) -> set[str]:
    """The class a result document's detections are of (its target_class), or a table's labels."""
    params = (detections.document or {}).get("params")
    if isinstance(params, dict) and isinstance(params.get("target_class"), str):
        return {params["target_class"]}
    return {event.label for event in detections.events()}


def _recordings_of(detections: AnnotationTable) -> set[str]:
    """The recording a detection document or table says it is of (empty when it does not say)."""
    from anemonefish.formats import recording_name

    if detections.document is None:
        return detections.recordings_named
    audio = detections.document.get("audio")
    name = audio.get("filename") if isinstance(audio, dict) else None
    name = recording_name(name) if isinstance(name, str) else ""
    return {name} if name else set()


def _named_like(table: AnnotationTable, det_path: Path) -> set[str]:
    """The recordings a table's Begin File names whose stem is that of ``det_path``'s
    recording: whose rows are wanted when the detections do not say which file they are of."""
    stem = recording_stem(det_path).casefold()
    return {name for name in table.recordings_named if Path(name).stem.casefold() == stem}


def run_evaluate(args: argparse.Namespace) -> int:
    from anemonefish.evaluate import (
        ScoredRecording,
        combine,
        document_settings,
        evaluate_events,
        read_scores,
        threshold_sweep,
    )
    from anemonefish.exceptions import AnemonefishError
    from anemonefish.formats import load_annotations

    if not (math.isfinite(args.collar) and args.collar >= 0):  # nan passed `< 0` and printed NaN as "JSON"
        print(f"error: --collar must be a finite number of seconds >= 0, not {args.collar}", file=sys.stderr)
        return 2
    if args.channel is not None and args.channel < 0:
        print("error: --channel must be >= 0", file=sys.stderr)
        return 2
    if not args.label.strip():
        print("error: --label must name the label compared, e.g. anemonefish", file=sys.stderr)
        return 2
    for flag, path in (("--detections", args.detections), ("--annotations", args.annotations)):
        if not path.exists():
            print(f"error: {flag}: {path} does not exist", file=sys.stderr)
            return 2
    try:
        pairing = _pairs(args.detections, args.annotations)
    except (ValueError, AnemonefishError) as exc:  # AnnotationFormatError: two sequence tables name one recording
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for what, keys in (("annotations but no detection document (not scored)", pairing.undetected),
                       ("a detection document but no annotation table (not scored)", pairing.unannotated)):
        if keys:
            shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
            print(f"warning: {len(keys)} recording(s) with {what}: {shown}", file=sys.stderr)
    if not pairing.pairs:
        swapped = (args.annotations.is_dir() and args.detections.is_dir() and any(args.annotations.rglob("*.events.json"))
                   and not any(args.detections.rglob("*.events.json")))
        print("error: no detection document (detect's .events.json, .events.csv, Raven table or Audacity labels) has "
              "an annotation table of the same recording name"
              + (f" ({args.annotations} holds detect's .events.json results and {args.detections} none: are "
                 "--detections and --annotations the other way round?)" if swapped else ""), file=sys.stderr)
        return 2
    try:
        per_file = []
        recordings = []
        settings = classes = None
        unsure = []
        truth_labels: Counter[str] = Counter()  # every truth selection scored, by label
        detected_classes: set[str] = set()  # what the detections are of (a document's target_class)
        for det_path, ann_path in pairing.pairs:
            # A multichannel Raven truth table is scored only on the channel detect analysed.
            detections = load_annotations(det_path, default_label=args.label)
            of_recording = _recordings_of(detections)
            # A table over a file sequence holds other recordings' selections: this one's only.
            truth_table = load_annotations(ann_path, default_label=args.label)
            truth_table = truth_table.of_recordings(of_recording or _named_like(truth_table, det_path))
            if lookalike := truth_table.label_lookalike_message(str(ann_path), args.label):
                print(f"warning: {lookalike}", file=sys.stderr)
            named = detections.channel
            if args.channel is not None and named is not None and named != args.channel:
                print(f"warning: {det_path} says detect analysed channel {named}; scoring it against "
                      f"channel {args.channel}'s selections as --channel asks", file=sys.stderr)
            channel = args.channel if args.channel is not None else named
            truth = truth_table.events(channel)
            if channel is None and len(truth_table.channels) > 1:
                unsure.append(ann_path.name)
            if not truth and channel is not None and truth_table.channels and channel not in truth_table.channels:
                print(f"warning: {ann_path} has selections on channel(s) "
                      f"{', '.join(str(c) for c in sorted(truth_table.channels))} only (counted from 0, as --channel), "
                      f"none on the analysed channel {channel}: every detection counts as a false one", file=sys.stderr)
            truth_labels.update(e.label for e in truth)
            detected_classes.update(_classes_detected(detections))
            duration = ((detections.document or {}).get("audio") or {}).get("duration_s")
            if isinstance(duration, (int, float)) and (late := [e for e in truth if e.start >= duration]):
                print(f"warning: {ann_path}: {len(late)} selection(s) start past the end of the {duration:.1f} s its "
                      f"detections analysed (the first at {late[0].start:g} s): are its times in seconds, and is it "
                      "this recording's table? They count as missed", file=sys.stderr)
            if of_recording and truth_table.names_none_of(of_recording):
                # Paired by file name, yet the table's own Begin File says another recording.
                annotated = ", ".join(sorted(truth_table.recordings_named))
                print(f"warning: {ann_path} annotates {annotated} (its Begin File), but {det_path} "
                      f"is of {', '.join(sorted(of_recording))}: scored as a pair all the same", file=sys.stderr)
            detected = detections.events()
            if detected and [e.model_dump(exclude={"confidence", "peak_confidence"}) for e in detected] == [
                e.model_dump(exclude={"confidence", "peak_confidence"}) for e in truth
            ]:
                raise AnemonefishError(
                    f"{ann_path}: holds exactly the events of {det_path}: it looks like detect's own output, not "
                    "annotations; point --annotations at the truth tables"
                )
            per_file.append((det_path, evaluate_events(detected, truth, args.label, args.collar)))
            if args.sweep:
                if not det_path.name.endswith(".events.json"):
                    raise AnemonefishError(f"{det_path}: --sweep needs a result document (*.events.json)")
                scores_path = det_path.with_name(f"{recording_stem(det_path)}.scores.csv")
                if not scores_path.is_file():
                    raise AnemonefishError(f"{scores_path}: missing (run detect with --format ...,scores)")
                # One sweep re-runs one post-processing: every document must have been made the same way.
                if detections.document is None:
                    raise AnemonefishError(f"{det_path}: --sweep needs a result document, not a table")
                params, frontend, audio = document_settings(detections.document)
                # The channel analysed does not change the post-processing: recorders' channels may differ.
                this = (params.model_copy(update={"channel": 0}), frontend)
                file_classes, _, scores = read_scores(scores_path)
                if settings is not None and (this, file_classes) != (settings, classes):
                    first = pairing.pairs[0][0]
                    raise AnemonefishError(
                        f"{det_path}: made with other settings or classes than {first}; sweep the results of one "
                        "model and one set of parameters at a time"
                    )
                settings, classes = this, file_classes
                recordings.append(ScoredRecording(scores=scores, annotations=truth, duration_s=audio.get("duration_s")))
        if unsure:
            shown = ", ".join(unsure[:5]) + (f" and {len(unsure) - 5} more" if len(unsure) > 5 else "")
            print(f"warning: {len(unsure)} truth table(s) name several channels and their detections name none, "
                  f"so every channel's selections were scored (give --channel): {shown}", file=sys.stderr)
        if not truth_labels:
            print("warning: the truth tables hold no selections, so every detection counts as a false one "
                  "(as it should for recordings without calls)", file=sys.stderr)
        elif not any(label.casefold() == args.label.casefold() for label in truth_labels):
            found = ", ".join(f"{label} ({count})" for label, count in truth_labels.most_common(5))
            print(f"warning: no truth selection is labelled {args.label!r} (theirs: {found}), so every detection "
                  "counts as a false one; --label names the label compared", file=sys.stderr)
        if detected_classes and not any(c.casefold() == args.label.casefold() for c in detected_classes):
            print(f"warning: the detections are of {', '.join(sorted(detected_classes))}, none of {args.label!r}, so "
                  "their precision says nothing; --label names the class compared", file=sys.stderr)
        pooled = combine([m for _, m in per_file])
        sweep = []
        if args.sweep:
            params, frontend = settings
            # The sweep re-runs the documents' post-processing, which finds their target class
            # only: against another label its table and the one above would disagree.
            if params.target_class.casefold() != args.label.casefold():
                raise AnemonefishError(
                    f"--sweep: the detections are of {params.target_class!r} (their target_class), not --label "
                    f"{args.label!r}; sweep another class on results of detect --target-class {args.label}"
                )
            sweep = threshold_sweep(recordings, classes, frontend, params, collar_s=args.collar)
    except (AnemonefishError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = {
        "collar_s": args.collar,
        "label": args.label,
        "overall": pooled.model_dump(),
        "files": [{"detections": str(p), **m.model_dump()} for p, m in per_file],
        "sweep": [point.model_dump() for point in sweep],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from anemonefish_services.cli import stdout_console
    from rich.table import Table

    console = stdout_console()
    table = Table(title=f"{args.label} events, onset collar {args.collar} s")
    for column in ("detections", "TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(column)
    # Below the folder given: two sites' rec.events.json are two rows that can be told apart.
    rows = [(str(p.relative_to(args.detections) if args.detections.is_dir() else p.name), m) for p, m in per_file]
    rows += [("overall", pooled)] if len(per_file) > 1 else []
    for name, m in rows:
        table.add_row(name, str(m.true_positives), str(m.false_positives), str(m.false_negatives), f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}")
    console.print(table)
    if sweep:
        sweep_table = Table(title="threshold sweep (pooled)")
        for column in ("threshold", "precision", "recall", "F1", "TP", "FP", "FN"):
            sweep_table.add_column(column)
        for point in sweep:
            sweep_table.add_row(f"{point.threshold:.2f}", f"{point.precision:.3f}", f"{point.recall:.3f}", f"{point.f1:.3f}", str(point.true_positives), str(point.false_positives), str(point.false_negatives))
        console.print(sweep_table)
    return 0


# --- model import ---------------------------------------------------------------------


def _register_model(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("model", help="manage model bundles", description="Manage model bundles.")
    sub = p.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)
    imp = sub.add_parser(
        "import",
        help="turn a Keras model trained elsewhere into a bundle",
        description=(
            "Convert a Keras classifier (.keras/.h5) to LiteRT and write a bundle whose card "
            "describes the features it was trained on. A 3-channel input is fed the window "
            "three times."
        ),
    )
    imp.add_argument("model", type=Path, metavar="MODEL.keras")
    imp.add_argument("-o", "--output", type=Path, required=True, metavar="BUNDLE_DIR")
    imp.add_argument("--sample-rate", type=int, default=6400)
    imp.add_argument("--n-fft", type=int, default=1024)
    imp.add_argument("--hop-length", "--hop", dest="hop", type=int, default=256,
                     help="STFT hop in samples (the name train uses; --hop also works)")
    imp.add_argument("--fmin", type=float, default=0.0)
    imp.add_argument("--fmax", type=float, default=2000.0)
    imp.add_argument("--window-s", type=float, default=1.0)
    imp.add_argument("--stride-s", type=float, default=None, help="default: the library's")
    imp.add_argument("--image-size", type=_image_size, default=None, help="HEIGHTxWIDTH, e.g. 256x256 (default: the model's input)")
    imp.add_argument("--normalisation", choices=get_args(Normalisation), default="standardize")
    imp.add_argument("--event-timing", choices=get_args(EventTiming), default="centre",
                     help="what a positive window means: its centre slice holds a call (centre), it "
                          "contains the whole call (containment) or it overlaps a call by 0.1 s or more "
                          "(overlap); see docs/detection.md")
    imp.add_argument("--classes", default="noise,anemonefish,biological", help="comma-separated, in output order")
    imp.add_argument("--logits", action="store_true", help="the model outputs logits: append a softmax")
    imp.add_argument("--threshold", type=float, default=None, help="default detection threshold for the card")
    imp.add_argument("--name", default=None, help="default: the file name")
    imp.add_argument("--version", default="1.0.0")
    imp.add_argument("--overwrite", action="store_true", help="replace BUNDLE_DIR if it is a model bundle already")
    imp.set_defaults(func=run_model_import)
    tune = sub.add_parser(
        "retune",
        help="re-choose a bundle's detection defaults on held-out soundscapes or labelled recordings",
        description=(
            "Score the validation soundscapes the card's training spec names (or, with --data, "
            "labelled recordings) with the bundle's served model and pick smoothing, threshold and "
            "peak threshold by event F1, exactly as training does. Prints the choice; --write puts "
            "it into card.json."
        ),
    )
    tune.add_argument("bundle", type=Path, metavar="BUNDLE_DIR")
    on = tune.add_mutually_exclusive_group()
    on.add_argument("--validation-soundscapes", type=int, default=None,
                    help="how many (default: the card's training spec, else 24)")
    on.add_argument("--data", type=Path, default=None, metavar="DATA",
                    help="choose on these labelled recordings instead (a folder, read as train DATA/ reads it): "
                         "a site's held-out recordings, for a model used there")
    tune.add_argument("--write", action="store_true", help="replace the card's detection defaults and validation metrics")
    tune.set_defaults(func=run_model_retune)
    pair = sub.add_parser(
        "add-verifier",
        help="give a bundle a second network that re-scores the windows it finds plausible",
        description=(
            "Write a copy of BUNDLE_DIR that carries VERIFIER_DIR (another bundle, usually with "
            "another front end) as its verifier: the verifier scores the windows whose target-class "
            "score from the first network reaches --gate, and those windows get the mean of the two "
            "networks' scores. Both must have the same classes, sample rate, window, stride and "
            "event timing."
        ),
    )
    pair.add_argument("bundle", type=Path, metavar="BUNDLE_DIR")
    pair.add_argument("verifier", type=Path, metavar="VERIFIER_DIR")
    pair.add_argument("-o", "--output", type=Path, required=True, metavar="OUT_DIR")
    pair.add_argument("--gate", type=float, default=VERIFIER_GATE,
                      help=f"first network's score at which the verifier runs (default {VERIFIER_GATE}; 0: every window)")
    pair.add_argument("--threshold", type=float, default=None, help="new default detection threshold")
    pair.add_argument("--smoothing", type=int, default=None, help="new default smoothing (windows)")
    pair.add_argument("--name", default=None, help="default: BUNDLE_DIR's")
    pair.add_argument("--version", default=None, help="default: BUNDLE_DIR's")
    pair.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it is a model bundle (BUNDLE_DIR itself, say)")
    pair.set_defaults(func=run_model_add_verifier)
    info = sub.add_parser(
        "info",
        help="what a bundle is: its networks, front end, detection defaults, training and measured quality",
        description="Print a bundle's card in brief: the one detect and the local stack would serve by default "
                    "(ANEMONEFISH_MODEL_DIR, else the shipped pair), or BUNDLE_DIR.",
    )
    info.add_argument("bundle", type=Path, nargs="?", default=None, metavar="BUNDLE_DIR")
    info.add_argument("--json", action="store_true", help="the cards themselves (the verifier's under verifier_card)")
    info.set_defaults(func=run_model_info)


def run_model_import(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from anemonefish.card import FrontEndConfig
    from anemonefish.exceptions import AnemonefishError
    from anemonefish.params import DetectionParams

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if len(classes) < 2 or len(set(classes)) != len(classes):
        print("error: --classes: give at least two distinct class names", file=sys.stderr)
        return 2
    if not args.model.is_file():
        print(f"error: MODEL: {args.model} does not exist", file=sys.stderr)
        return 2
    fields = {
        "sample_rate": args.sample_rate,
        "n_fft": args.n_fft,
        "hop_length": args.hop,
        "fmin": args.fmin,
        "fmax": args.fmax,
        "window_s": args.window_s,
        "normalisation": args.normalisation,
        "event_timing": args.event_timing,
    }
    if args.stride_s is not None:
        fields["stride_s"] = args.stride_s
    if args.image_size is not None:
        fields["image_height"], fields["image_width"] = args.image_size
    defaults = {"threshold": args.threshold} if args.threshold is not None else None
    try:
        frontend = FrontEndConfig(**fields)
        DetectionParams(**(defaults or {}))
    except ValidationError as exc:
        print(f"error: {option_at_fault(exc)}", file=sys.stderr)
        return 2
    from anemonefish.training.importer import import_keras_model

    try:
        card = import_keras_model(
            args.model,
            frontend,
            classes,
            args.output,
            name=args.name or args.model.stem,
            version=args.version,
            outputs_logits=args.logits,
            detection_defaults=defaults,
            replace=args.overwrite,
        )
    except AnemonefishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: {card.name} {card.version}, input {_imported_input(card.training)}, "
          f"classes {','.join(card.classes)}")
    return 0


def _imported_input(training: dict[str, Any]) -> str:
    """The imported model's own input: a 3-channel one is fed the one spectrogram three times."""
    height, width, channels = training["original_input_shape"]
    return f"{height}x{width}x{channels}" + (" (the spectrogram repeated as its 3 channels)" if channels == 3 else "")


def run_model_add_verifier(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from anemonefish.exceptions import AnemonefishError
    from anemonefish.model import bundle_path, read_card
    from anemonefish.params import DetectionParams
    from anemonefish.training.export import attach_verifier

    args.bundle, args.verifier = bundle_path(args.bundle), bundle_path(args.verifier)  # either may be 'shipped'
    try:
        VerifierConfig(gate=args.gate)
        defaults = dict(read_card(args.bundle).detection_defaults)
        if args.threshold is not None:
            defaults["threshold"] = args.threshold
        if args.smoothing is not None:
            defaults["smoothing_windows"] = args.smoothing
        DetectionParams(**defaults)
    except ValidationError as exc:
        # Other defaults come from the bundle's card, not from an option.
        options = {"threshold": "--threshold", "smoothing_windows": "--smoothing", "gate": "--gate"}
        print(f"error: {option_at_fault(exc, options, otherwise='BUNDLE_DIR')}", file=sys.stderr)
        return 2
    except AnemonefishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        out = attach_verifier(
            args.bundle, args.verifier, args.output, gate=args.gate, detection_defaults=defaults,
            name=args.name, version=args.version, replace=args.overwrite,
        )
    except AnemonefishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}: {args.bundle} with verifier {args.verifier} (gate {args.gate})")
    return 0


def run_model_retune(args: argparse.Namespace) -> int:
    from anemonefish.exceptions import AnemonefishError, AnnotationFormatError, AudioError
    from anemonefish.training.train import retune

    if args.data is not None and not args.data.is_dir():
        print(f"error: --data: {args.data} is not a folder", file=sys.stderr)
        return 2
    from anemonefish.model import DEFAULT_BUNDLE, bundle_path

    bundle = bundle_path(args.bundle)
    if args.write and bundle.resolve() == DEFAULT_BUNDLE.resolve():
        print(f"error: --write: the shipped bundle is part of the installed package; copy it "
              f"(cp -r {DEFAULT_BUNDLE} my-bundle) and retune the copy", file=sys.stderr)
        return 2
    args.bundle = bundle
    try:
        defaults, metrics = retune(
            args.bundle,
            validation_soundscapes=args.validation_soundscapes,
            write=args.write,
            log=_timed_log(),
            data_dir=args.data,
        )
    except (AnnotationFormatError, AudioError) as exc:  # the labelled recordings
        print(f"error: --data: {exc}", file=sys.stderr)
        return 2
    except (AnemonefishError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {k: v for k, v in metrics.items() if not k.endswith("_sweep")}
    print(json.dumps({"bundle": str(args.bundle), "detection_defaults": defaults, **summary}, indent=2))
    print(f"wrote {args.bundle / 'card.json'}" if args.write else "card unchanged (use --write to keep this choice)")
    return 0


def run_model_info(args: argparse.Namespace) -> int:
    from anemonefish.exceptions import AnemonefishError
    from anemonefish.model import DEFAULT_BUNDLE, ModelBundle, bundle_path, read_card

    where = bundle_path(args.bundle)
    try:
        bundle = ModelBundle(path=where, card=read_card(where))
        verifier = bundle.verifier  # read and checked against the first network's card
    except AnemonefishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        document = {"path": str(where), "card": bundle.card.model_dump(mode="json")}
        if verifier is not None:
            document["verifier_card"] = verifier.card.model_dump(mode="json")
        print(json.dumps(document, indent=2))
        return 0
    source = ("the shipped pair" if where == DEFAULT_BUNDLE
              else "BUNDLE_DIR" if args.bundle is not None else "ANEMONEFISH_MODEL_DIR")
    card = bundle.card
    lines = [
        ("bundle", f"{where} ({source})"),
        ("model", f"{card.name} {card.version}" + (f", created {card.created_at}" if card.created_at else "")),
        ("classes", ", ".join(card.classes)),
        ("front end", _describe_frontend(card.frontend)),
    ]
    if verifier is not None and card.verifier is not None:
        lines.append(("verifier", f"{card.verifier.path}/ for windows whose target-class score reaches "
                                  f"{card.verifier.gate:g}: {_describe_frontend(verifier.card.frontend)}"))
    defaults = card.detection_defaults
    lines.append(("defaults", ", ".join(f"{k} {'off' if v is None else v}" for k, v in defaults.items()) or
                  "none in the card (the library's)"))
    training = card.training
    if training:
        what = [str(training["data"])] if training.get("data") else []
        if training.get("imported_from"):  # trained elsewhere: the card knows its source file only
            what.append(f"imported from {training['imported_from']}, input {_imported_input(training)}")
        if isinstance(start := training.get("started_from"), dict):
            what.append(f"fine-tuned from {start.get('name')} {start.get('version')} ({start.get('path')})")
        if training.get("seed") is not None:
            what.append(f"seed {training['seed']}")
        if training.get("windows"):
            what.append(f"{training['windows']:,} windows")
        lines.append(("training", "; ".join(what) or "recorded in the card"))
        if training.get("reproduce"):
            lines.append(("reproduce", str(training["reproduce"])))
    scalars = {k: v for k, v in card.metrics.items() if not isinstance(v, (list, dict))}
    for index, (key, value) in enumerate(scalars.items()):
        lines.append(("metrics" if index == 0 else "", f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}"))
    if isinstance(earlier := card.metrics.get("before_retune"), dict):
        lines.append(("", f"(the card's before_retune holds {len(earlier) - 1} more, measured at the earlier "
                          f"defaults {earlier.get('detection_defaults')})"))
    width = max(len(label) for label, _ in lines) + 1
    for label, text in lines:
        print(f"{(label + ':') if label else '':<{width}} {text}")
    return 0


def _describe_frontend(frontend: FrontEndConfig) -> str:
    image = (f"{frontend.image_height}x{frontend.image_width} image" if frontend.image_height and frontend.image_width
             else "native-size image")
    timing = frontend.event_timing + "".join(f", {name}: {kind}" for name, kind in frontend.class_event_timing.items())
    return (f"{frontend.sample_rate} Hz, {frontend.n_fft}-point frames every {frontend.hop_length}, "
            f"{frontend.fmin:g}-{frontend.fmax:g} Hz, {frontend.window_s:g} s windows every {frontend.stride_s:g} s, "
            f"{image}, {frontend.normalisation}; event timing {timing}")
