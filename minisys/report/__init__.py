"""Scenario reports: the results people look at (DESIGN principle 7).

``minisys report [RUN_DIR]`` turns one run directory written by the scenario
runner (``results.parquet`` + ``scenarios.json`` + ``environment.json``, and
optionally ``samples.parquet``) into ``report.md``, a self-contained
``index.html`` and PNG plots: per metric the crossover curve (median vs scale,
min–max over repeats), per scenario the headline metric as a multiple of the
best system, and latency CDFs where raw samples exist.

Modules: :mod:`.rundir` reads a run into medians and ratios, :mod:`.plots`
draws, :mod:`.pages` writes Markdown and HTML. Only the stdlib is imported
here; matplotlib and pyarrow load when a report is rendered, so ``minisys
--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path

from minisys.errors import MinisysError

#: Where the scenario runner writes runs, relative to the working directory.
RESULTS_ROOT = Path("minisys-results")
#: The symlink the runner points at its newest run.
LATEST = "latest"
_RESULT_FILES = ("results.parquet", "results.json", "results.csv")

__all__ = ["RESULTS_ROOT", "handle", "latest_run", "register", "render_report"]


def render_report(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Render the report of ``run_dir`` into ``out_dir`` (default ``run_dir/report/``).

    Returns the path of the written ``index.html``; ``report.md`` and the PNGs
    sit next to it. Raises :class:`MinisysError` when ``run_dir`` holds no results.
    """
    from minisys.report.pages import write_pages
    from minisys.report.plots import draw_figures
    from minisys.report.rundir import load_run

    run = load_run(Path(run_dir))
    out = Path(out_dir) if out_dir is not None else run.path / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MinisysError(f"cannot create report directory {out}: {exc.strerror}") from exc
    figures = draw_figures(run, out)
    return write_pages(run, figures, out)


def latest_run(results_root: Path) -> Path:
    """The newest run directory under ``results_root``.

    The runner's ``latest`` symlink wins when it points at a run; otherwise
    the subdirectory holding results with the latest ``environment.json``
    "started" time (its modification time when that is missing or unreadable).
    """
    root = Path(results_root)
    latest = root / LATEST
    if _is_run(latest):
        return latest.resolve()
    runs = []
    if root.is_dir():
        runs = [d for d in root.iterdir() if d.name != LATEST and _is_run(d)]
    if not runs:
        raise MinisysError(
            f"no runs found under {root} (run a scenario first: `minisys scenario --help`)"
        )
    return max(runs, key=lambda d: (_started(d), d.name))


def _is_run(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in _RESULT_FILES)


def _started(run_dir: Path) -> float:
    try:
        env = json.loads((run_dir / "environment.json").read_text())
        return datetime.fromisoformat(str(env["started"])).timestamp()
    except (OSError, ValueError, KeyError, TypeError):
        return os.stat(run_dir).st_mtime


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a run's results as Markdown + HTML with plots",
        description=(
            "Render report.md, index.html and PNG plots (crossover curves, ratio to the "
            "best system, latency CDFs) from a scenario run directory, and print the "
            "path of index.html."
        ),
    )
    parser.add_argument(
        "run_dir",
        nargs="?",
        type=Path,
        metavar="RUN_DIR",
        help=f"a run directory, or a folder of runs (default: the newest run under ./{RESULTS_ROOT}/)",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="write the report here (default: RUN_DIR/report/)"
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """``minisys report``: render, then print where index.html is."""
    run_dir: Path | None = args.run_dir
    if run_dir is None:
        run_dir = latest_run(RESULTS_ROOT)
    elif run_dir.is_dir() and not _is_run(run_dir) and any(_is_run(d) for d in run_dir.iterdir()):
        run_dir = latest_run(run_dir)  # given the results root: take its newest run
    print(render_report(run_dir, args.out).absolute())
    return 0
