"""``minisys check``: check a history file, or run a generated test against a store.

    minisys check linearizable HISTORY --model register|cas-register|kv
        one verdict line (then the explanation); exit 0 linearizable,
        1 not linearizable, 2 unknown (timeout) or bad input
    minisys check run --target T --workload W --seed S --examples K
        runs generated examples, writes history.jsonl, report.md and a
        timeline.png around the first violation; exit 0 all hold, 1 violation

Top-level imports stay stdlib-only; the machinery loads inside handlers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MODELS = ("register", "cas-register", "kv")
TARGETS = ("dynamo-sim", "dynamo-http", "postgres", "sqlite",
           "control-vclock", "control-broken", "control-lww", "sqlite-stale-cache")
WORKLOADS = ("register", "set", "kv")


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("check", help="consistency checks: linearizability of a history, generated tests against a store")
    group.set_defaults(_group_parser=group)
    sub = group.add_subparsers(dest="check_command", metavar="SUBCOMMAND", parser_class=type(group))

    lin = sub.add_parser("linearizable", help="is a history (JSON lines or Jepsen EDN) linearizable?")
    lin.add_argument("history", type=Path, help="history file: one operation per line, JSON or EDN")
    lin.add_argument("--model", choices=MODELS, default="register", help="sequential model (default: register)")
    lin.add_argument("--timeout", type=float, default=60.0, help="seconds before answering 'unknown' (default 60)")
    lin.add_argument("--no-explain", action="store_true", help="skip shrinking the explanation")
    lin.set_defaults(func=cmd_linearizable)

    run = sub.add_parser("run", help="run generated tests against a store and write a report")
    run.add_argument("--target", choices=TARGETS, required=True)
    run.add_argument("--workload", choices=WORKLOADS, default="register")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--examples", type=int, default=10, help="generated examples to run (default 10)")
    run.add_argument("--processes", type=int, default=5, help="client processes (default 5)")
    run.add_argument("--ops", type=int, default=20, help="operations per process per example (default 20)")
    run.add_argument("--checks", default=None, help="comma-separated checkers that count as failures (default: all)")
    run.add_argument("--out", type=Path, default=None, help="output directory (default minisys-results/consistency/TARGET-WORKLOAD-SEED)")
    run.set_defaults(func=cmd_run)


def cmd_linearizable(args: argparse.Namespace) -> int:
    from minisys.consistency.history import read_history
    from minisys.consistency.linearizability import check_linearizable

    history = read_history(args.history)
    result = check_linearizable(history, args.model, timeout=args.timeout, explain=not args.no_explain)
    secs = result.details.get("seconds", 0.0)
    if result.valid is True:
        print(f"linearizable: {result.summary} in {secs:.2f} s")
        return 0
    if result.valid is False:
        print(f"NOT linearizable: {result.summary}")
        print("\n".join(result.explain().splitlines()[1:]))
        return 1
    print(f"unknown: {result.summary}")
    return 2


def cmd_run(args: argparse.Namespace) -> int:
    from minisys.consistency.suite import run_examples, write_report
    from minisys.errors import BadInput

    if args.examples < 1 or args.processes < 1 or args.ops < 1:
        raise BadInput("--examples, --processes and --ops must be at least 1")
    checks = tuple(c.strip() for c in args.checks.split(",")) if args.checks else None
    result = run_examples(args.target, args.workload, seed=args.seed, examples=args.examples,
                          processes=args.processes, ops=args.ops, checks=checks)
    out = args.out or Path("minisys-results") / "consistency" / f"{args.target}-{args.workload}-{args.seed}"
    write_report(result, out)
    r = result.reported
    assert r is not None
    for x in r.results:
        print(f"{x.checker:18} {x.verdict:9} {x.summary}")
    print(f"report: {out / 'report.md'}")
    failing = [x for x in r.results if x.valid is False and (checks is None or x.checker in checks)]
    if failing:
        return 1
    if any(x.valid is None and x.checker == "linearizable" for x in r.results):
        return 2
    return 0
