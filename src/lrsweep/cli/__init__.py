"""The ``lrsweep`` command: thin over the public API. Each sub-command lives in its own
module with a ``register(subparsers)`` function."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..errors import LRSweepError

COMMAND_MODULES = ("run", "search", "study", "transfer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrsweep",
        description="Find the optimal learning rate by controlled LR sweeps, and carry it to "
                    "scale. Every trial starts from the same weights and sees the same data "
                    "order; only the LR differs.",
        epilog="Run `lrsweep COMMAND --help` for the options of a command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LRSweepError as e:
        print(f"lrsweep: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("lrsweep: interrupted; finished trials are kept in the store.", file=sys.stderr)
        return 130
