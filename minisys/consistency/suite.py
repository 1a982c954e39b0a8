"""``minisys check run``: generated examples against one target, then a report.

For a simulated target each example is a ``(seed, fault schedule)`` drawn
by Hypothesis from the user's ``--seed``; the first failing example is
shrunk to a minimal schedule and re-run, and that run is reported. For a
real store each example is one threaded run with seed ``S + i``. Either
way the output directory gets ``history.jsonl`` (the reported run),
``report.md`` (verdicts per checker, the explanation, the schedule, how to
replay) and ``timeline.png`` (the operations around the first violation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minisys.consistency.adapters import target as make_target
from minisys.consistency.adapters.base import SimTarget
from minisys.consistency.runner import RunResult, run
from minisys.consistency.strategies import describe
from minisys.consistency.workloads import workload as make_workload

#: Fault kinds generated for simulated targets.
SIM_FAULTS = ("partition", "crash", "restart", "skew", "loss", "slow", "heal")


@dataclass
class SuiteResult:
    target: str
    workload: str
    seed: int
    examples: list[RunResult] = field(default_factory=list)
    reported: RunResult | None = None
    simulated: bool = False
    requested: int = 0

    @property
    def failed(self) -> bool:
        return any(r.valid is False for r in self.reported.results) if self.reported else False

    @property
    def unknown(self) -> bool:
        return bool(self.reported) and any(r.valid is None and r.checker == "linearizable" for r in self.reported.results)


def _one(target_name: str, workload_name: str, seed: int, schedule: Any, processes: int, ops: int,
         options: dict[str, Any]) -> RunResult:
    tgt = make_target(target_name, seed=seed, **options)
    wl = make_workload(workload_name, tgt.functions)
    return run(tgt, wl, seed=seed, processes=processes, ops_per_process=ops, schedule=schedule)


def run_examples(target_name: str, workload_name: str, *, seed: int, examples: int, processes: int = 5,
                 ops: int = 20, checks: tuple[str, ...] | None = None, options: dict[str, Any] | None = None) -> SuiteResult:
    """Run ``examples`` generated tests; report the (shrunk) first failure, or the last run."""
    options = options or {}
    out = SuiteResult(target_name, workload_name, seed, requested=examples)

    def violated(r: RunResult) -> bool:
        return any(x.valid is False and (checks is None or x.checker in checks) for x in r.results)

    probe = make_target(target_name, seed=seed, **options)
    simulated = isinstance(probe, SimTarget)
    nodes = tuple(probe.nodes) if simulated else ()
    out.simulated = simulated
    if simulated:
        probe.close()
    if not simulated:
        for i in range(examples):
            r = _one(target_name, workload_name, seed + i, (), processes, ops, options)
            out.examples.append(r)
            if violated(r):
                out.reported = r
                return out
        out.reported = out.examples[-1] if out.examples else None
        return out

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st

    from minisys.consistency.strategies import fault_schedules

    last_failure: list[RunResult] = []

    @hyp_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(run_seed=st.integers(0, 2**16), schedule=fault_schedules(nodes, kinds=SIM_FAULTS, max_faults=5, horizon=0.5))
    def prop(run_seed: int, schedule: Any) -> None:
        r = _one(target_name, workload_name, run_seed, schedule, processes, ops, options)
        out.examples.append(r)
        if violated(r):
            last_failure.append(r)
            raise AssertionError("violation")

    try:
        prop()
    except AssertionError:
        pass
    # Hypothesis re-runs the minimal failing example last.
    out.reported = last_failure[-1] if last_failure else (out.examples[-1] if out.examples else None)
    return out


def write_report(result: SuiteResult, out_dir: str | Path) -> Path:
    """history.jsonl, report.md and timeline.png for the reported run."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    r = result.reported
    lines = [f"# Consistency check: {result.target}, {result.workload} workload", ""]
    lines.append(f"Seed {result.seed}; {result.requested} example(s) asked for, {len(result.examples)} run"
                 + (" (including Hypothesis's shrinking runs)." if result.simulated else "."))
    if r is None:
        (out_dir / "report.md").write_text("\n".join(lines + ["", "No example ran."]) + "\n")
        return out_dir
    r.history.write(out_dir / "history.jsonl")
    first = next((x for x in r.results if x.valid is False), None)
    if first is None:
        which = " (the last example; nothing failed)"
    elif r.schedule or result.simulated:
        which = " (the first failing example, shrunk by Hypothesis to a minimal fault schedule)"
    else:
        which = " (the first failing example)"
    lines += ["", f"Reported run: seed {r.seed}, {len(r.history)} events{which}.", ""]
    lines += ["| checker | verdict | summary |", "|---|---|---|"]
    lines += [f"| {x.checker} | {x.verdict} | {x.summary.replace('|', '/')} |" for x in r.results]
    lines += ["", "## Fault schedule", "", "```", describe(r.schedule), "```"]
    if first is not None:
        from minisys.consistency.timeline import plot_timeline

        ops = r.history.operations()
        keys = {op.key for op in first.offending}
        if len(keys) == 1:  # a per-key violation: show that key's operations only
            ops = [op for op in ops if op.key in keys]
        where = f", key {next(iter(keys))}" if len(keys) == 1 else ""
        plot_timeline(ops, first.offending, out_dir / "timeline.png",
                      title=f"{result.target}: first violation ({first.checker}{where})")
        lines += ["", f"## First violation: {first.checker}", "", "```", first.explain(), "```", "",
                  "![timeline of the operations around the violation](timeline.png)"]
    lines += ["", "## Replay", "", "```",
              f"minisys check run --target {result.target} --workload {result.workload} --seed {result.seed} --examples {result.requested}",
              f"minisys check linearizable {out_dir / 'history.jsonl'} --model {'kv' if result.workload == 'kv' else 'cas-register'}",
              "```"]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    return out_dir
