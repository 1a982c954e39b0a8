"""The ``minisys`` command: one entry point, subcommands grouped per system.

Each group lives next to the code it drives and exposes
``register(subparsers)``; it adds its parser and sets ``func`` on it, a
callable taking the parsed ``argparse.Namespace`` and returning an exit code.
Group modules keep their top-level imports light (stdlib only) and import the
heavy machinery inside their handlers, so ``minisys --help`` stays fast.

A :class:`~minisys.errors.MinisysError` becomes one line on stderr and a
non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from minisys import __version__
from minisys.errors import MinisysError

#: Modules contributing a command group, in the order ``--help`` lists them.
GROUPS: tuple[str, ...] = (
    "minisys.scenario",
    "minisys.report",
    "minisys.services",
)

#: Paper systems; each one that has a ``cli.py`` contributes its group too.
SYSTEMS: tuple[str, ...] = ("mapreduce", "dynamo", "dremel", "log", "consistency")


def group_modules() -> list[str]:
    """The core groups, then ``minisys.<system>.cli`` for every system that has one."""
    found = list(GROUPS)
    for system in SYSTEMS:
        if importlib.util.find_spec(f"minisys.{system}") and importlib.util.find_spec(f"minisys.{system}.cli"):
            found.append(f"minisys.{system}.cli")
    return found


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line message (no usage dump) on user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"minisys: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="minisys",
        description="Landmark systems papers, small and faithful, next to the systems people use instead.",
    )
    parser.add_argument("--version", action="version", version=f"minisys {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in group_modules():
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        # A group given without its subcommand prints that group's help.
        target = getattr(args, "_group_parser", parser)
        target.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except MinisysError as exc:
        if args.debug:
            raise
        print(f"minisys: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("minisys: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
