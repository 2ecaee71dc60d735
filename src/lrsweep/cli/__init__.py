"""The ``lrsweep`` command: thin over the public API. Each sub-command lives in its own
module with a ``register(subparsers)`` function."""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from typing import NoReturn

from ..errors import LRSweepError, closest

COMMAND_MODULES = ("run", "search", "study", "transfer", "report")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) that suggest the closest choice or
    flag: ``--engine vectorised`` -> "did you mean 'vectorized'?"."""

    def error(self, message: str) -> NoReturn:
        m = re.search(r"invalid choice: '?([^'\s]+)'? \(choose from (.+)\)", message)
        if m:
            near = closest(m.group(1), [c.strip(" '\"") for c in m.group(2).split(",")])
            if near:
                message += f"; did you mean {near!r}?"
        m = re.search(r"unrecognized arguments: (\S+)", message)
        if m and m.group(1).startswith("--"):
            flags = [o for a in self._actions for o in a.option_strings]
            for sub in self._subparsers._group_actions if self._subparsers else ():
                for p in getattr(sub, "choices", {}).values():
                    flags += [o for a in p._actions for o in a.option_strings]
            near = closest(m.group(1).split("=")[0], flags)
            if near:
                message += f"; did you mean {near}?"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = Parser(
        prog="lrsweep",
        description="Find the optimal learning rate by controlled LR sweeps, and carry it to "
                    "scale. Every trial starts from the same weights and sees the same data "
                    "order; only the LR differs.",
        epilog="Run `lrsweep COMMAND --help` for the options of a command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action="version", version=f"lrsweep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
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
        from .flags import as_flags

        text = " ".join(str(e).split())  # one line, whatever the message held
        print(f"lrsweep: error: {as_flags(text)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("lrsweep: interrupted; finished trials are kept in the store.", file=sys.stderr)
        return 130
