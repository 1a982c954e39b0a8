"""A timeline of operations around a violation: one lane per process.

Each operation is a bar from invocation to completion (Jepsen's and
Porcupine's visualisations draw histories the same way), coloured by
outcome: ok, fail, or info — indefinite bars run to the window's edge. The
offending operations of the explanation are outlined and labelled, so the
picture shows *why*: which write returned before which read began.
Figures use matplotlib's object API (no pyplot state), like minisys.report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from minisys.consistency.history import INFINITY, Operation

COLOURS = {"ok": "#4c9a5a", "fail": "#c0504d", "info": "#9e9e9e"}


def _label(op: Operation) -> str:
    key = f" {op.key}" if op.key is not None else ""
    if op.is_read:
        seen = json.dumps(list(op.output) if isinstance(op.output, tuple) else op.output)
        return f"{op.f}{key} → {seen if op.status == 'ok' else '?'}"
    value = json.dumps(list(op.value) if isinstance(op.value, tuple) else op.value)
    return f"{op.f}{key} {value}" + ("" if op.status == "ok" else f" ({op.status})")


def window(offending: Sequence[Operation], ops: Sequence[Operation], margin: float = 0.5) -> tuple[float, float]:
    """The time span around the offending operations, widened by ``margin`` of its length."""
    if not offending:
        offending = ops
    finite = [t for op in offending for t in (op.call, op.ret) if t != INFINITY]
    lo, hi = min(finite, default=0.0), max(finite, default=1.0)
    pad = (hi - lo) * margin or 1.0
    return lo - pad, hi + pad


def plot_timeline(ops: Sequence[Operation], offending: Sequence[Operation], path: str | Path,
                  title: str = "Operations around the first violation", max_ops: int = 200) -> Path:
    lo, hi = window(offending, ops)
    shown = [op for op in ops if op.call <= hi and (op.ret >= lo)]
    bad = {op.id for op in offending}
    if len(shown) > max_ops:  # keep the offenders, then the nearest others
        centre = (lo + hi) / 2
        shown = sorted(shown, key=lambda o: (o.id not in bad, abs(o.call - centre)))[:max_ops]
    procs = sorted({op.process for op in shown}, key=str)
    lane = {p: i for i, p in enumerate(procs)}
    fig = Figure(figsize=(10, max(2.5, 0.45 * len(procs) + 1.5)), dpi=110)
    ax = fig.add_subplot()
    for op in shown:
        end = hi if op.ret == INFINITY or math.isinf(op.ret) else op.ret
        start = max(op.call, lo)
        y = lane[op.process]
        offending_op = op.id in bad
        ax.barh(y, max(end - start, (hi - lo) * 0.002), left=start, height=0.6, color=COLOURS[op.status],
                edgecolor="black" if offending_op else "none", linewidth=2 if offending_op else 0,
                hatch="//" if op.status == "info" else None, alpha=1.0 if offending_op else 0.55)
        if offending_op or len(shown) <= 40:
            ax.text(start, y - 0.36, _label(op), fontsize=7, weight="bold" if offending_op else "normal")
    ax.set_yticks(range(len(procs)), [f"process {p}" for p in procs])
    ax.set_xlim(lo, hi)
    ax.set_xlabel("time")
    ax.set_title(title, loc="left", fontsize=11, weight="bold")
    ax.set_ylim(len(procs) - 0.5, -0.9)  # room above the first lane for its labels
    ax.legend(handles=[Patch(color=c, label=s) for s, c in COLOURS.items()]
              + [Patch(facecolor="white", edgecolor="black", linewidth=2, label="offending")],
              loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncol=4)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path
