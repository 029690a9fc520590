"""The ``anemonefish`` command.

Each group of subcommands lives in its own module with a ``register(subparsers)``
function; modules are imported when the parser is built, and each imports its heavy
dependencies (TensorFlow, boto3) only inside the command that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# numpy's BLAS threads would take the cores LiteRT's inference threads need: the hour's
# `detect` took 3.5-4.2 s with them against 2.6 s without (docs/benchmarks.md). The worker's
# image and Lambda set this too; here it must happen before anything imports numpy, and a
# value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from anemonefish import __version__  # noqa: E402

# rich lays out output that is not a terminal (a log, `| tee`, a batch script) for 80
# columns: tables cut recordings' names to one prefix, and "NAME: job ID STATUS" lines wrap
# where grep cannot find them. Piped, lines are as long as their content.
PIPED_WIDTH = 1000


def stdout_console(**options: object):  # noqa: ANN201 (rich is imported only by the commands that print with it)
    """A rich Console on stdout that wraps nothing when stdout is not a terminal."""
    from rich.console import Console

    console = Console(**options)  # type: ignore[arg-type]
    return console if console.is_terminal else Console(width=PIPED_WIDTH, **options)  # type: ignore[arg-type]


# Modules contributing subcommands, in help order.
COMMAND_MODULES = (
    "anemonefish_services.cli.detect",  # detect
    "anemonefish_services.cli.modeling",  # synth, train, evaluate, model import
    "anemonefish_services.cli.pipeline",  # local up, submit, demo
    "anemonefish_services.cli.jobs",  # jobs list|show|fetch|cancel
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anemonefish",
        description="Find anemonefish calls in underwater recordings.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside the module
                raise
            continue
        module.register(subparsers)
    return parser


def _owner(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str], unknown: str) -> argparse.ArgumentParser:
    """The (sub)command parser an unknown option was given to: ``jobs fetch``'s for
    ``jobs fetch J --bogus``, the top level's for ``--bogus jobs list``."""
    at = argv.index(unknown) if unknown in argv else len(argv)
    position = -1
    while True:
        chosen = next((action for action in parser._actions if isinstance(action, argparse._SubParsersAction)), None)
        name = getattr(args, chosen.dest, None) if chosen is not None else None
        if chosen is None or name not in chosen.choices or name not in argv[position + 1:at]:
            return parser
        position = argv.index(name, position + 1)
        parser = chosen.choices[name]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # told by the subcommand's parser, with its usage (the top level's said nothing of it)
        given = sys.argv[1:] if argv is None else argv
        _owner(parser, args, given, unknown[0]).error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`anemonefish jobs list | head -1`): as any Unix tool, stop quietly.
        # stdout is pointed at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool the pipe's end killed


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
