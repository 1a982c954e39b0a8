"""dremel-paper: the serving tree's experiments (Dremel §7, Figs. 11, 12 and 14), simulated.

The minisys Dremel serving tree (root, intermediate and leaf servers from
``minisys.dremel.serving``) runs on the deterministic network simulator over
a generated Document table on disk. Leaves really scan the tablets and the
servers really merge partial aggregates; *time* is virtual and comes from a
cost model (100 ns per column entry a leaf reads, 2 µs per partial row a
server merges, 0.1 ms per message), so the curves show the tree's shape, not
this machine's speed. Measured per tree depth (2, 3 or 4 levels, Fig. 11):
a small-result aggregation (a few groups, Q2's shape) and a many-groups one
(Q3's shape: ``WHERE Domain CONTAINS ... GROUP BY Tags``, 1,000 groups
present in every tablet, so merging partials is the work); then one leaf
is made 50x slower (Fig. 14's stragglers) and the query returns after 100% of
the tablets without re-dispatch, after 98%, and after 100% with the
dispatcher re-dispatching straggling tablets to other leaves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minisys.scenario import Metric, Outcome, Scale, Scenario

Q2 = "SELECT Author.Country, SUM(Links.Forward) FROM t GROUP BY Author.Country"
Q3 = "SELECT Tags, SUM(Clicks) FROM t WHERE Domain CONTAINS '.' GROUP BY Tags"
Q6 = "SELECT COUNT(DISTINCT Title) FROM t"
SLOWDOWN = 50.0
COST_MODEL = {"seconds_per_entry": 1e-7, "seconds_per_row": 2e-6, "latency": 1e-4}


class DremelPaper(Scenario):
    name = "dremel-paper"
    title = "Dremel Figs. 11, 12, 14: serving-tree depth and stragglers (simulated cluster, cost-model time)"
    description = __doc__.split("\n\n", 1)[1].replace("\n", " ")
    size_label = "records"
    systems = ("tree-2-levels", "tree-3-levels", "tree-4-levels")
    scales = {
        "tiny": Scale("tiny", 3_000, {"records": 3_000, "tablet": 100, "leaves": 4}),
        "small": Scale("small", 12_000, {"records": 12_000, "tablet": 200, "leaves": 8}),
        "medium": Scale("medium", 400_000, {"records": 400_000, "tablet": 2_000, "leaves": 100}),
        "large": Scale("large", 4_000_000, {"records": 4_000_000, "tablet": 10_000, "leaves": 200}),
    }
    metrics = (
        Metric("q3_many_groups_s", "virtual s", "lower", "Many-groups aggregation (Q3 shape)"),
        Metric("q2_few_groups_s", "virtual s", "lower", "Few-groups aggregation (Q2 shape)"),
        Metric("straggler_100pct_s", "virtual s", "lower", "One slow leaf: wait for 100% of tablets"),
        Metric("straggler_98pct_s", "virtual s", "lower", "One slow leaf: return after 98% of tablets"),
        Metric("straggler_redispatch_s", "virtual s", "lower", "One slow leaf: 100%, stragglers re-dispatched"),
        Metric("tablets_redispatched", "tablets", "lower", "Tablets re-dispatched to another leaf"),
        Metric("tablet_seconds", "virtual s", "lower", "Per-tablet time (Fig. 12 histogram)"),
    )

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> dict[str, Any]:
        from minisys.dremel.documents import DOCUMENT, generate
        from minisys.dremel.tablet import Table

        workdir.mkdir(parents=True, exist_ok=True)
        Table.from_arrow(generate(scale.params["records"], seed), DOCUMENT,
                         tablet_records=scale.params["tablet"]).save(workdir / "docs")
        return {"table_dir": workdir / "docs"}

    def run(self, system: str, workload: dict[str, Any], scale: Scale, workdir: Path) -> Outcome:
        from minisys.dremel.serving import run_simulated

        leaves = scale.params["leaves"]
        depth = int(system.split("-")[1])
        fanouts = {2: (), 3: (2,), 4: (2, 2)}[depth]
        table_dir = workload["table_dir"]
        common = {"leaves": leaves, "fanouts": fanouts, "slots_per_leaf": 1, **COST_MODEL}
        q3 = run_simulated(table_dir, Q3, **common)
        q2 = run_simulated(table_dir, Q2, **common)
        typical = sorted(q2.tablet_seconds)[len(q2.tablet_seconds) // 2]
        slow = {"leaf1": typical * SLOWDOWN}
        full = run_simulated(table_dir, Q6, **common, slow_leaves=slow, straggler_factor=1e9)
        most = run_simulated(table_dir, Q6, **common, slow_leaves=slow, straggler_factor=1e9, min_fraction=0.98)
        backup = run_simulated(table_dir, Q6, **common, slow_leaves=slow, straggler_factor=3.0)
        return Outcome(
            {"q3_many_groups_s": q3.seconds, "q2_few_groups_s": q2.seconds,
             "straggler_100pct_s": full.seconds, "straggler_98pct_s": most.seconds,
             "straggler_redispatch_s": backup.seconds, "tablets_redispatched": backup.redispatched},
            samples={"tablet_seconds": full.tablet_seconds},
        )

    def notes(self) -> list[str]:
        return [
            "Times are virtual seconds from the cost model (see the description); results are exact.",
            f"The straggler leaf takes {SLOWDOWN:.0f}x the median tablet time per tablet; one slot per leaf.",
            "Trees: 2 levels = root→leaves; 3 = root→2→leaves; 4 = root→2→4→leaves. The lowest servers run the dispatcher; each returns after ⌈98%⌉ of its own tablets, so 98% skips tablets only where a server has more than 50 of them (at small: the 2-level tree).",
        ]
