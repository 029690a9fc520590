"""``anemonefish detect``: offline detection over files, folders and globs (no AWS involved)."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".w64", ".rf64", ".caf"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="find anemonefish calls in recordings (offline)",
        description="Detect anemonefish calls in audio files and write the result documents.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files, folders (searched recursively) or globs")
    parser.add_argument("-o", "--outdir", type=Path, default=Path("."), help="where to write results (default: .)")
    parser.add_argument(
        "--format",
        default="json,csv,raven,audacity",
        help="comma-separated: json,csv,raven,audacity,scores (default: json,csv,raven,audacity)",
    )
    parser.add_argument("--model", type=Path, default=None, help="model bundle folder (default: the shipped model)")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--min-event-s", type=float, default=None)
    parser.add_argument("--min-gap-s", type=float, default=None)
    parser.add_argument("--smoothing-windows", type=int, default=None)
    parser.add_argument(
        # Absent unless given: None is a value here ("off"), not "keep the model's default".
        "--peak-threshold", type=_peak_threshold, default=argparse.SUPPRESS, metavar="SCORE|off",
        help="a single window scoring this before smoothing is a call; 'off' disables the model's default",
    )
    parser.add_argument("--target-class", default=None)
    parser.add_argument("--channel", type=int, default=None, help="channel to analyse, from 0 (default 0)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or events table")
    parser.set_defaults(func=run)


def expand_paths(patterns: list[str]) -> tuple[list[Path], list[str]]:
    """Files to analyse, and error lines for patterns that match nothing."""
    files: list[Path] = []
    errors: list[str] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                errors.append(f"{pattern}: folder holds no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        elif glob.has_magic(pattern):
            found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
            if not found:
                errors.append(f"{pattern}: no file matches")
            files.extend(found)
        else:
            errors.append(f"{pattern}: no such file")
    unique = list(dict.fromkeys(files))
    return unique, errors


def _peak_threshold(text: str) -> float | None:
    return None if text.lower() == "off" else float(text)


def _params(args: argparse.Namespace, defaults: dict[str, object]):
    from anemonefish.params import DetectionParams

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
    return DetectionParams(**{**defaults, **overrides})


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from anemonefish.detect import Detector
    from anemonefish.exceptions import AnemonefishError
    from anemonefish.formats import FORMATS, write_documents
    from anemonefish.model import load_bundle

    err = Console(stderr=True, soft_wrap=True)  # one error line per input, however long
    out = Console()
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
        err.print(f"error: --{str(first['loc'][0]).replace('_', '-')}: {first['msg']}")
        return 2
    except AnemonefishError as exc:
        err.print(f"error: {exc}")
        return 2
    if params.target_class not in bundle.classes:
        err.print(f"error: --target-class: {params.target_class!r} is not one of {bundle.classes}")
        return 2

    files, failures = expand_paths(args.paths)
    for line in failures:
        err.print(f"error: {line}", highlight=False)
    detector = Detector(bundle)
    summaries = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=err,
        disable=args.quiet or not err.is_terminal,
        transient=True,
    ) as progress:
        for path in files:
            task = progress.add_task(path.name, total=1.0)
            try:
                result = detector.run(path, params, progress=lambda f, t=task: progress.update(t, completed=f))
                written = write_documents(result, args.outdir, path.stem, formats)
            except (AnemonefishError, OSError) as exc:
                message = str(exc) if isinstance(exc, AnemonefishError) else f"{path}: {exc.strerror or exc}"
                err.print(f"error: {message}", highlight=False)
                failures.append(message)
                continue
            finally:
                progress.remove_task(task)
            summaries.append((path, result, written))

    if not args.quiet:
        for path, result, written in summaries:
            out.print(
                f"{path.name}: {len(result.events)} event(s), {result.audio.duration_s:.1f} s of audio "
                f"in {result.processing_time_s:.2f} s ({result.real_time_factor:.0f}x real time)",
                highlight=False,
                soft_wrap=True,
            )
            table = Table()
            for column in ("start (s)", "end (s)", "label", "confidence"):
                table.add_column(column, justify="right" if column != "label" else "left")
            for e in result.events:
                table.add_row(f"{e.start:.2f}", f"{e.end:.2f}", e.label, f"{e.confidence:.2f}")
            out.print(table)
            out.print(f"  results: {written.get('json', next(iter(written.values())))}", highlight=False)
    if failures:
        err.print(f"{len(failures)} input(s) failed, {len(summaries)} processed", highlight=False)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    from anemonefish_services.cli import main

    sys.exit(main(["detect", *sys.argv[1:]]))
