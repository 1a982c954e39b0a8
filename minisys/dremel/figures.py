"""Figure 9's shape from a ``dremel-vs-duckdb`` run: time vs number of fields read.

The scenario report plots every metric against data size; the paper's
Figure 9 puts the number of fields on the x axis instead, one curve per
system. ``python -m minisys.dremel.figures RUN_DIR`` draws that figure from a
run directory's ``results.json`` (medians over repeats, largest scale).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from minisys.errors import BadInput

SCENARIO = "dremel-vs-duckdb"


def fields_table(run_dir: Path) -> tuple[str, dict[str, dict[int, float]]]:
    """The largest scale and, per system, the median seconds per number of fields."""
    try:
        rows = json.loads((run_dir / "results.json").read_text())
    except FileNotFoundError:
        raise BadInput(f"{run_dir}: no results.json (is it a scenario run directory?)") from None
    rows = [r for r in rows if r["scenario"] == SCENARIO and r["metric"].startswith("fields_")]
    if not rows:
        raise BadInput(f"{run_dir}: no {SCENARIO} results")
    scale = max(rows, key=lambda r: r["scale_size"])["scale"]
    values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["scale"] == scale:
            values[r["system"]][int(r["metric"].split("_")[1])].append(r["value"])
    return scale, {s: {k: statistics.median(v) for k, v in sorted(ks.items())} for s, ks in values.items()}


def draw_fields_figure(run_dir: Path, out: Path | None = None) -> Path:
    # A bare Figure (no pyplot): no global backend switch, nothing left open.
    from matplotlib.figure import Figure

    scale, table = fields_table(run_dir)
    out = out or run_dir / "report" / "dremel_fig9_fields.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    for system, points in table.items():
        ax.plot(list(points), list(points.values()), marker="o", label=system)
    ax.set_xticks(sorted({k for points in table.values() for k in points}))
    ax.set_xlabel("number of fields read")
    ax.set_ylabel("seconds (median)")
    ax.set_yscale("log")
    ax.set_title(f"Dremel Fig. 9 shape: time vs fields read ({scale} scale)")
    ax.legend()
    fig.savefig(out, dpi=120, bbox_inches="tight")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m minisys.dremel.figures RUN_DIR")
    print(draw_fields_figure(Path(sys.argv[1])))
