"""The paper's Figure 3 in miniature: data rates over time for sort, normal /
no backup tasks / a worker killed, and grep (§5.2-§5.5).

    python benchmarks/mapreduce_paper.py [--records 300000] [--out docs/img/mapreduce_timeline.png]

Runs the jobs of scenarios/mapreduce_paper.py (local runner, 3 workers, one a
straggler) and draws, like the paper's Figure 3, the input rate (map input
read), shuffle rate (bytes fetched by reducers) and output rate over time.
Each completed attempt's bytes are spread evenly over its run time; the input
of completed map tasks lost with a killed worker is drawn negative, as in the
paper's Figure 3(c). Prints each variant's time as a ratio to the normal run
next to the paper's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scenarios.mapreduce_paper import (  # noqa: E402
    EX,
    PAPER_KILLED_RATIO,
    PAPER_NO_BACKUP_RATIO,
    WORKERS,
    generate_records,
    run_job,
)

BIN = 0.1


def rates(result, end: float) -> dict[str, np.ndarray]:
    bins = np.arange(0, end + BIN, BIN)
    out = {k: np.zeros(len(bins)) for k in ("input", "shuffle", "output")}
    for a in result.attempts:
        if a["outcome"] != "completed":
            continue
        lo, hi = int(a["started"] / BIN), max(int(a["started"] / BIN) + 1, int(np.ceil(a["finished"] / BIN)))
        for kind, key in (("input", "input_bytes"), ("shuffle", "shuffle_bytes"), ("output", "output_bytes")):
            if a[key]:
                out[kind][lo:hi] += a[key] / ((hi - lo) * BIN) / 1e6
    for t, kind, n in result.events:
        if kind == "input" and n < 0:
            out["input"][min(int(t / BIN), len(bins) - 1)] += n / BIN / 1e6
    return {"t": bins, **out}


async def experiments(path: Path, workdir: Path, split_mb: float) -> dict[str, tuple[float, object]]:
    sort = f"{EX}.sort:Sort"
    runs: dict[str, tuple[float, object]] = {}
    runs["normal"] = await run_job(sort, [path], workdir / "normal", reduce_tasks=WORKERS, split_mb=split_mb)
    runs["no backup tasks"] = await run_job(sort, [path], workdir / "nobackup", reduce_tasks=WORKERS,
                                            split_mb=split_mb, backup_tasks=False)
    runs["worker killed"] = await run_job(sort, [path], workdir / "killed", reduce_tasks=WORKERS, split_mb=split_mb,
                                          kill_after=0.5 * runs["normal"][0])
    runs["grep"] = await run_job(f"{EX}.grep:Grep", [path], workdir / "grep", reduce_tasks=1, split_mb=split_mb,
                                 args={"pattern": "xyz"})
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=300_000, help="100-byte records (default 300,000 = 30 MB)")
    p.add_argument("--out", type=Path, default=Path("docs/img/mapreduce_timeline.png"))
    args = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with tempfile.TemporaryDirectory(prefix="minisys-mr-paper-") as tmp:
        path = Path(tmp) / "records.txt"
        generate_records(path, args.records, seed=1)
        mb = path.stat().st_size / 1e6
        runs = asyncio.run(experiments(path, Path(tmp), max(0.05, mb / (4 * WORKERS))))
    normal = runs["normal"][0]
    print(f"{mb:.0f} MB of 100-byte records, {WORKERS} workers (w1 a 4x straggler)")
    print(f"{'run':<18} {'s':>7} {'ratio':>7} {'paper':>7}  backups")
    paper = {"normal": 1.0, "no backup tasks": PAPER_NO_BACKUP_RATIO, "worker killed": PAPER_KILLED_RATIO}
    for name, (seconds, result) in runs.items():
        backups = sum(a["backup"] for a in result.attempts)
        ratio = f"{seconds / normal:.2f}" if name in paper else ""
        print(f"{name:<18} {seconds:>7.2f} {ratio:>7} {paper.get(name, float('nan')):>7.2f}  {backups}")
    sorts = ["normal", "no backup tasks", "worker killed"]
    end = max(runs[n][1].timings["total_s"] for n in sorts)
    fig, axes = plt.subplots(3, 3, figsize=(12, 7), sharex=True, sharey="row")
    for col, name in enumerate(sorts):
        r = rates(runs[name][1], end)
        for row, kind in enumerate(("input", "shuffle", "output")):
            ax = axes[row][col]
            ax.fill_between(r["t"], r[kind], step="post", alpha=0.6)
            ax.axhline(0, color="black", linewidth=0.5)
            if row == 0:
                ax.set_title(f"({'abc'[col]}) {name}: {runs[name][0]:.1f} s")
            if col == 0:
                ax.set_ylabel(f"{kind} (MB/s)")
            if row == 2:
                ax.set_xlabel("seconds")
    fig.suptitle("Data transfer rates over time for sort (cf. the paper's Figure 3)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
