"""``anemonefish detect``: offline detection over files, folders and globs (no AWS involved)."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path


def foreign_refusal(existing: list[Path], *, overwrite: bool) -> str | None:
    """Why files found under a recording's result names stay (detect, submit and jobs fetch):
    someone's file (a truth table, labels edited by hand), which no --overwrite replaces; or,
    without --overwrite, a set nothing of which is recognisably detect's. None when they are
    earlier results, or --overwrite may replace them."""
    from anemonefish.formats import foreign_document, unrecognised_document

    if found := foreign_document(existing):
        return (f"{found} exists and is not recognisably detect's output (a truth table, or labels made or edited "
                "by hand?); not replacing it, even with --overwrite: write the results elsewhere with -o (or delete "
                "it, if it is an old result)")
    if not overwrite and (found := unrecognised_document(existing)):
        return (f"{found} exists and cannot be told from detect's output (a truth table, or labels of your own?); "
                "not replacing it: write the results elsewhere with -o, or give --overwrite if it is an earlier result")
    return None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find anemonefish calls in recordings (offline)",
        description="Detect anemonefish calls in audio files and write the result documents.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders (searched recursively) or globs")
    parser.add_argument("-o", "--outdir", type=Path, default=Path("."), help="where to write results (default: .)")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite", action="store_true",
        help="replace result files that already exist (without it, a recording whose results exist fails)",
    )
    existing.add_argument(
        "--skip-existing", action="store_true",
        help="skip a recording whose result files (every --format) all exist, as when resuming an "
             "interrupted run over a folder; one with only some of them still fails",
    )
    parser.add_argument(
        "--format",
        default="json,csv,raven,audacity",
        help="comma-separated: json,csv,raven,audacity,scores (default: json,csv,raven,audacity)",
    )
    parser.add_argument("--model", type=Path, default=None,
                        help="model bundle folder, or 'shipped' (default: $ANEMONEFISH_MODEL_DIR if set, else the shipped model)")
    # The detection defaults are the model card's (chosen with the model; `model info` shows them).
    parser.add_argument("--threshold", type=float, default=None,
                        help="smoothed score at which a window counts as a call, 0-1 (default: the model card's)")
    parser.add_argument("--min-event-s", type=float, default=None,
                        help="shortest event kept, in seconds (default: the model card's)")
    parser.add_argument("--min-gap-s", type=float, default=None,
                        help="events closer than this, in seconds, are merged (default: the model card's)")
    parser.add_argument("--smoothing-windows", type=int, default=None,
                        help="windows in the moving average over the scores (default: the model card's)")
    parser.add_argument(
        # Absent unless given: None is a value here ("off"), not "keep the model's default".
        "--peak-threshold", type=_peak_threshold, default=argparse.SUPPRESS, metavar="SCORE|off",
        help="a single window scoring this before smoothing is a call; 'off' disables the model's default",
    )
    parser.add_argument("--target-class", default=None,
                        help="class whose events are reported (default: the model card's, anemonefish)")
    parser.add_argument("--channel", type=int, default=None, help="channel to analyse, from 0 (default 0)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or events table")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Input:
    """One recording to analyse and where its results go: ``OUTDIR/<stem><format suffix>``."""

    source: Path
    stem: str  # below OUTDIR, with "/" between folders: a folder input's sub-folders are kept


def _audio_files_under(folder: Path) -> list[Path]:
    """Audio files below ``folder``, following linked folders once each; hidden files and
    folders (``.git``, macOS's ``._name.wav`` resource forks) are not recordings."""
    from anemonefish.audio import AUDIO_SUFFIXES  # numpy and libsndfile: not at the CLI's import

    found, seen = [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        # A link to a missing file is kept, to fail with its own error rather than vanish.
        found.extend(
            Path(root) / name
            for name in names
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_SUFFIXES
            and (os.path.isfile(Path(root) / name) or not os.path.exists(Path(root) / name))
        )
    return sorted(found)


def _glob_root(pattern: str) -> Path:
    """The folder a glob searches from: its leading parts without wildcards."""
    parts = []
    for part in Path(pattern).parts[:-1]:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _stem_below(source: Path, root: Path) -> str:
    return Path(os.path.relpath(source, root)).with_suffix("").as_posix()


def expand_paths(patterns: list[str]) -> tuple[list[Input], list[str]]:
    """Recordings to analyse with their output names, and error lines for what cannot be.

    Files keep their own name; a folder's or a glob's recordings keep their path below it,
    so ``site-a/rec.wav`` and ``site-b/rec.wav`` write ``site-a/rec.*`` and ``site-b/rec.*``.
    A recording named twice is analysed once; two that would still write the same results
    (``rec.wav`` and ``rec.flac`` side by side) are refused, the first one kept.
    """
    found: list[Input] = []
    errors: list[str] = []
    for pattern in patterns:
        path = Path(pattern)
        if not pattern.strip():  # Path("") is "." (an unset $RECORDINGS, say): never the whole working folder
            errors.append(f"{pattern!r}: an empty path names no recording")
        elif path.is_dir():
            files = _audio_files_under(path)
            if not files:
                from anemonefish.audio import AUDIO_SUFFIXES

                errors.append(f"{pattern}: folder holds no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            found.extend(Input(f, _stem_below(f, path)) for f in files)
        elif path.exists():
            found.append(Input(path, path.stem))
        elif glob.has_magic(pattern):
            root = _glob_root(pattern)
            files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not files:
                errors.append(f"{pattern}: no file matches")
            found.extend(Input(f, _stem_below(f, root)) for f in files)
        else:
            errors.append(f"{pattern}: no such file")
    inputs, clashes = distinct_results(found)
    errors += [f"{other.source}: its results would replace those of {first.source} (both are named "
               f"{other.stem!r}); rename one, or analyse it with another -o" for first, other in clashes]
    return inputs, errors


def distinct_results(found: list[Input]) -> tuple[list[Input], list[tuple[Input, Input]]]:
    """Each recording once (a file named twice, or through a link, is one), and the pairs of
    recordings whose results would bear one name: the first of each keeps it."""
    inputs: list[Input] = []
    sources: set[str] = set()
    owners: dict[str, Input] = {}
    clashes: list[tuple[Input, Input]] = []
    for item in found:
        real = os.path.realpath(item.source)
        if real in sources:
            continue
        sources.add(real)
        key = item.stem.casefold()  # one file on case-insensitive disks (macOS, Windows)
        if key in owners:
            clashes.append((owners[key], item))
            continue
        owners[key] = item
        inputs.append(item)
    return inputs, clashes


def unusable_outdir(outdir: Path) -> str | None:
    """Why results cannot be written to ``outdir`` (created if missing), or None: checked
    before any audio is decoded, so the fault is blamed on -o rather than on every input."""
    if outdir.exists() and not outdir.is_dir():
        return "exists and is not a folder"
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create it ({exc.strerror or exc})"
    if not os.access(outdir, os.W_OK | os.X_OK):
        return "not writable"
    return None


def _peak_threshold(text: str) -> float | None:
    return None if text.lower() == "off" else float(text)


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """The detection parameters given on the command line."""
    overrides = {
        key: value
        for key, value in {
            "threshold": args.threshold,
            "min_event_s": args.min_event_s,
            "min_gap_s": args.min_gap_s,
            "smoothing_windows": args.smoothing_windows,
            "target_class": args.target_class,
            "channel": args.channel,
        }.items()
        if value is not None
    }
    if hasattr(args, "peak_threshold"):
        overrides["peak_threshold"] = args.peak_threshold
    return overrides


def _params(args: argparse.Namespace, defaults: dict[str, object]):
    from anemonefish.params import DetectionParams

    return DetectionParams(**{**defaults, **_overrides(args)})


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from rich.console import Console
    from anemonefish_services.cli import stdout_console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from anemonefish.detect import Detector
    from anemonefish.exceptions import AnemonefishError
    from anemonefish.formats import (
        FORMATS,
        existing_documents,
        is_detect_output,
        overlong_name,
        stale_companions,
        write_documents,
    )
    from anemonefish.model import load_bundle

    err = Console(stderr=True, soft_wrap=True)  # one error line per input, however long
    out = stdout_console()
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        err.print(f"error: --format: unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
        return 2
    try:
        bundle = load_bundle(args.model)
        params = _params(args, bundle.card.detection_defaults)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        given = field in _overrides(args)
        where = f"--{field.replace('_', '-')}" if given else f"{bundle.path / 'card.json'}: detection_defaults.{field}"
        err.print(f"error: {where}: {first['msg']}", markup=False, highlight=False)
        return 2
    except AnemonefishError as exc:
        err.print(f"error: {exc}")
        return 2
    if params.target_class not in bundle.classes:
        err.print(f"error: --target-class: {params.target_class!r} is not one of {bundle.classes}")
        return 2
    if args.model is None and os.environ.get("ANEMONEFISH_MODEL_DIR") and not args.quiet:
        # Chosen by the environment, perhaps set for the local stack long ago: say so.
        err.print(f"model: {bundle.card.name} from ANEMONEFISH_MODEL_DIR={bundle.path}", markup=False, highlight=False)

    if (problem := unusable_outdir(args.outdir)) is not None:
        err.print(f"error: -o {args.outdir}: {problem}", markup=False, highlight=False)
        return 2

    inputs, failures = expand_paths(args.paths)
    for line in failures:
        err.print(f"error: {line}", markup=False, highlight=False)
    detector = Detector(bundle)
    summaries = []
    skipped = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        disable=args.quiet or not err.is_terminal,
        transient=True,
    ) as progress:
        for item in inputs:
            path = item.source
            if why := overlong_name(item.stem, formats):  # else Path.exists() raises ENAMETOOLONG
                message = f"{path}: {why}"
                err.print(f"error: {message}", markup=False, highlight=False)
                failures.append(message)
                continue
            existing = existing_documents(args.outdir, item.stem, formats)
            # Documents are written all or none, so a complete set is an earlier run's whole result;
            # but a truth table can bear the Raven or Audacity name, so the set must show it is detect's.
            if args.skip_existing and len(existing) == len(formats) and any(map(is_detect_output, existing)):
                skipped += 1
                continue
            # Someone's file (a truth table, hand-made labels) stays even with --overwrite, which would lose it.
            why = foreign_refusal(existing, overwrite=args.overwrite) if existing else None
            if why is None and existing and not args.overwrite:
                why = f"{existing[0]} exists; not replacing it (--overwrite replaces earlier results)"
            if why:
                message = f"{path}: {why}"
                err.print(f"error: {message}", markup=False, highlight=False)
                failures.append(message)
                continue
            # detect's own files of formats not asked for, beside the JSON this run rewrites, would
            # contradict it and then read as someone's edits: they are rewritten with it.
            with_them = formats + (stale_companions(args.outdir, item.stem, formats) if "json" in formats else [])
            task = progress.add_task(escape(path.name), total=1.0)
            try:
                result = detector.run(path, params, progress=lambda f, t=task: progress.update(t, completed=f))
                written = write_documents(result, args.outdir, item.stem, with_them)
            except (AnemonefishError, OSError) as exc:
                message = naming_path(str(exc), path) if isinstance(exc, AnemonefishError) else f"{path}: {exc.strerror or exc}"
                err.print(f"error: {message}", markup=False, highlight=False)
                failures.append(message)
                continue
            finally:
                progress.remove_task(task)
            for warning in result.warnings:  # even with -q: the results are partial
                err.print(f"warning: {naming_path(warning, path)}", markup=False, highlight=False)
            summaries.append((path, result, written))

    if not args.quiet:
        for path, result, written in summaries:
            out.print(
                f"{path}: {len(result.events)} event(s), {result.audio.duration_s:.1f} s of audio "
                f"in {result.processing_time_s:.2f} s ({result.real_time_factor:.0f}x real time)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            table = Table()
            for column in ("start (s)", "end (s)", "label", "confidence"):
                table.add_column(column, justify="right" if column != "label" else "left")
            for e in result.events:
                table.add_row(f"{e.start:.2f}", f"{e.end:.2f}", e.label, f"{e.confidence:.2f}")
            out.print(table)
            out.print(f"  results: {', '.join(str(p) for p in written.values())}", markup=False, highlight=False,
                      soft_wrap=True)
    if skipped and not args.quiet:
        err.print(f"{skipped} recording(s) skipped: their results exist (--skip-existing)", highlight=False)
    if failures:
        err.print(f"{len(failures)} input(s) failed, {len(summaries)} processed"
                  + (f", {skipped} skipped" if skipped else ""), highlight=False)
        return 1
    return 0


def naming_path(message: str, path: Path) -> str:
    """The library's error, naming the file by the path given rather than its bare name, so two
    recorders' ``20240101_000000.wav`` can be told apart."""
    from anemonefish.audio import display_name

    bare = f"{display_name(path)}: "
    return f"{path}: {message[len(bare):]}" if message.startswith(bare) else f"{path}: {message}"


if __name__ == "__main__":  # pragma: no cover
    from anemonefish_services.cli import main

    sys.exit(main(["detect", *sys.argv[1:]]))
