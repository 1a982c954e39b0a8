"""``minisys scenario list|run``: the command-line face of the runner.

Top-level imports stay stdlib-only so ``minisys --help`` is fast; the runner
and the report are imported when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from minisys.errors import BadInput


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _cmd_list(args: argparse.Namespace) -> int:
    from minisys.scenario.registry import discover

    for name, cls in discover([Path(p) for p in args.file or ()]).items():
        scales = ", ".join(f"{s.name}={s.size:g} {cls.size_label}" for s in cls.scales.values())
        print(f"{name:<20} {cls.title}")
        print(f"{'':<20} systems: {', '.join(cls.systems)}; scales: {scales}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from minisys.scenario.registry import discover
    from minisys.scenario.runner import RunConfig, run, summary_lines

    found = discover([Path(p) for p in args.file or ()])
    if args.all:
        chosen = list(found.values())
    elif args.names:
        missing = [n for n in args.names if n not in found]
        if missing:
            known = ", ".join(found) or "none"
            raise BadInput(f"unknown scenario {missing[0]!r}; known: {known} (see `minisys scenario list`)")
        chosen = [found[n] for n in args.names]
    else:
        raise BadInput("name a scenario (see `minisys scenario list`) or pass --all")
    if args.data is not None:
        if not args.data.is_file():
            raise BadInput(f"--data file {args.data} does not exist")
        if len(chosen) != 1:
            raise BadInput("--data goes with exactly one scenario name")
    cfg = RunConfig(
        scales=_split(args.scale),
        systems=_split(args.systems),
        data=args.data,
        repeat=args.repeat,
        warmup=args.warmup,
        seed=args.seed,
        out_root=args.out,
        isolate=not args.no_isolate,
        progress=not args.quiet,
    )
    run_dir = run(chosen, cfg)
    for line in summary_lines(run_dir):
        print(line)
    print(f"results: {run_dir}")
    if not args.no_report:
        from minisys.report import render_report

        print(f"report:  {render_report(run_dir)}")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("scenario", help="run scenarios: a paper's system next to the real ones")
    parser.set_defaults(_group_parser=parser)
    inner = parser.add_subparsers(dest="scenario_command", metavar="SUBCOMMAND")
    lst = inner.add_parser("list", help="list the scenarios with their systems and scales")
    lst.add_argument("--file", action="append", help="also load scenarios from this Python file")
    lst.set_defaults(func=_cmd_list)
    r = inner.add_parser("run", help="run scenarios and write results plus a report")
    r.add_argument("names", nargs="*", metavar="NAME", help="scenario names (see `minisys scenario list`)")
    r.add_argument("--all", action="store_true", help="run every scenario")
    r.add_argument("--scale", help="scale name or comma list: tiny,small,medium,large (default: tiny,small)")
    r.add_argument("--systems", help="comma list of systems to compare (default: all the scenario has)")
    r.add_argument("--data", type=Path, help="your own data file instead of the generated workload")
    r.add_argument("--repeat", type=int, default=3, help="measured repeats per system and scale (default 3)")
    r.add_argument("--warmup", type=int, default=1, help="discarded warm-up runs (default 1)")
    r.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    r.add_argument("--out", type=Path, default=Path("minisys-results"), help="results root (default ./minisys-results)")
    r.add_argument("--file", action="append", help="also load scenarios from this Python file")
    r.add_argument("--no-report", action="store_true", help="write results only")
    r.add_argument("--no-isolate", action="store_true", help="measure in this process (no fork; peak RSS then covers the whole run)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)
