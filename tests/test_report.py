"""Scenario reports: pages, plots and the ``minisys report`` command.

Every test renders a synthetic run directory shaped exactly like the scenario
runner's output: two scenarios, three systems (plus one skipped), three scales
spanning two decades, three repeats, raw samples for one scenario.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minisys.errors import MinisysError
from minisys.report import handle, latest_run, register, render_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCALES = {"tiny": 1_000.0, "small": 10_000.0, "medium": 100_000.0}
SYSTEMS = ("sqlite", "duckdb", "dremel")
#: Repeats are these multiples of the median, out of order, so the median is not repeat 0.
SPREAD = (1.1, 0.9, 1.0)
SKIP_REASON = "no Postgres configured (set MINISYS_POSTGRES_URL or run `minisys services up`)"

# Median values per (scenario, metric, system, scale). A crossover: dremel has
# the worst lookup tail at tiny scale and the best at medium.
MEDIANS = {
    ("kv", "lookup_p99_ms", "sqlite"): {"tiny": 1.0, "small": 4.0, "medium": 40.0},
    ("kv", "lookup_p99_ms", "duckdb"): {"tiny": 2.5, "small": 5.0, "medium": 20.0},
    ("kv", "lookup_p99_ms", "dremel"): {"tiny": 3.0, "small": 4.5, "medium": 8.0},
    ("kv", "ingest_rows_per_s", "sqlite"): {
        "tiny": 50_000.0,
        "small": 45_000.0,
        "medium": 30_000.0,
    },
    ("kv", "ingest_rows_per_s", "duckdb"): {"tiny": 1_200.0, "small": 1_400.0, "medium": 1_500.0},
    ("kv", "ingest_rows_per_s", "dremel"): {"tiny": 8_000.0, "small": 9_000.0, "medium": 9_500.0},
    ("scan", "scan_s", "sqlite"): {"tiny": 0.01, "small": 0.1, "medium": 1.0},
    ("scan", "scan_s", "duckdb"): {"tiny": 0.02, "small": 0.03, "medium": 0.05},
    ("scan", "scan_s", "dremel"): {"tiny": 0.05, "small": 0.2, "medium": 0.9},
}
UNITS = {
    "lookup_p99_ms": ("ms", "lower"),
    "ingest_rows_per_s": ("rows/s", "higher"),
    "scan_s": ("s", "lower"),
}


def result_rows(scales=SCALES, medians=MEDIANS) -> list[dict]:
    rows = []
    for (scenario, metric, system), by_scale in medians.items():
        unit, better = UNITS[metric]
        for scale, size in scales.items():
            if scale not in by_scale:
                continue
            for repeat, factor in enumerate(SPREAD):
                rows.append(
                    {
                        "run_id": "r1",
                        "scenario": scenario,
                        "system": system,
                        "system_version": {
                            "sqlite": "3.45.1",
                            "duckdb": "1.1.3",
                            "dremel": "0.1.0",
                        }[system],
                        "scale": scale,
                        "scale_size": size,
                        "repeat": repeat,
                        "metric": metric,
                        "value": by_scale[scale] * factor,
                        "unit": unit,
                        "better": better,
                    }
                )
    return rows


def scenarios_meta(scales=SCALES) -> list[dict]:
    return [
        {
            "name": "kv",
            "title": "Key-value lookups",
            "description": "Point lookups after a bulk ingest.",
            "size_label": "rows",
            "scales": list(scales),
            "systems": list(SYSTEMS),
            "skipped": {"postgres": SKIP_REASON},
            "metrics": [
                {
                    "name": "lookup_p99_ms",
                    "title": "p99 lookup latency",
                    "unit": "ms",
                    "better": "lower",
                },
                {
                    "name": "ingest_rows_per_s",
                    "title": "Ingest throughput",
                    "unit": "rows/s",
                    "better": "higher",
                },
                # Only in samples.parquet, as the runner declares it: a CDF, no column.
                {
                    "name": "lookup_latency",
                    "title": "Lookup latency (distribution)",
                    "unit": "ms",
                    "better": "lower",
                },
            ],
            "notes": ["Lookups are uniform over the key space."],
        },
        {
            "name": "scan",
            "title": "Full scan",
            "description": "Sum one column <fast>.",
            "size_label": "rows",
            "scales": list(scales),
            "systems": list(SYSTEMS),
            "skipped": {},
            "metrics": [{"name": "scan_s", "title": "Scan time", "unit": "s", "better": "lower"}],
            "notes": [],
        },
    ]


def make_run(
    path: Path, *, scales=SCALES, medians=MEDIANS, samples=True, started="2025-01-02T03:04:05+00:00"
) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    rows = result_rows(scales, medians)
    pq.write_table(pa.Table.from_pylist(rows), path / "results.parquet")
    (path / "results.json").write_text(json.dumps(rows))
    (path / "scenarios.json").write_text(json.dumps(scenarios_meta(scales)))
    (path / "environment.json").write_text(
        json.dumps(
            {
                "run_id": path.name,
                "started": started,
                "finished": "2025-01-02T03:06:15+00:00",
                "python": "3.11.9",
                "platform": "Linux-6.1-x86_64",
                "cpu_count": 8,
                "machine": "x86_64",
                "argv": ["minisys", "scenario", "run", "kv"],
                "seed": 7,
                "repeat": 3,
                "warmup": 1,
                "versions": {"sqlite": "3.45.1", "duckdb": "1.1.3"},
            }
        )
    )
    if samples:
        rng = np.random.default_rng(7)
        largest = list(scales)[-1]
        parts = []
        for system, mu in (("sqlite", 1.5), ("duckdb", 1.0), ("dremel", 0.5)):
            vals = rng.lognormal(mu, 0.6, 2000)
            parts.append(
                pa.table(
                    {
                        "scenario": ["kv"] * 2000,
                        "system": [system] * 2000,
                        "scale": [largest] * 2000,
                        "metric": ["lookup_latency"] * 2000,
                        "value": vals,
                        "unit": ["ms"] * 2000,
                    }
                )
            )
        pq.write_table(pa.concat_tables(parts), path / "samples.parquet")
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    run = make_run(tmp_path_factory.mktemp("results") / "run-1")
    return render_report(run)


def img_sources(index: Path) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', index.read_text())


def md_table(md: str, title: str) -> dict[tuple[str, str], list[str]]:
    """The summary table under ``## title``: (scale name, system) -> the metric cells."""
    section = md.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    table, scale = {}, ""
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| Scale"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        scale = cells[0].split(" (")[0] or scale
        table[(scale, cells[1])] = cells[2:]
    return table


def test_index_html_embeds_every_png_it_wrote_and_each_is_a_real_png(rendered):
    srcs = img_sources(rendered)
    assert srcs, "no plots embedded"
    assert set(srcs) == {p.name for p in rendered.parent.glob("*.png")}
    for src in srcs:
        data = (rendered.parent / src).read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 10_000


def test_plots_have_deterministic_names_per_scenario_and_metric(rendered):
    assert {p.name for p in rendered.parent.glob("*.png")} == {
        "kv__ratio.png",
        "kv__lookup_p99_ms.png",
        "kv__ingest_rows_per_s.png",
        "kv__cdf.png",
        "scan__ratio.png",
        "scan__scan_s.png",
    }


def test_report_md_references_the_same_plots(rendered):
    md = (rendered.parent / "report.md").read_text()
    assert set(re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)) == set(img_sources(rendered))


def test_summary_table_shows_median_over_repeats(rendered):
    kv = md_table((rendered.parent / "report.md").read_text(), "Key-value lookups")
    # duckdb ingest at medium: repeats 1650, 1350, 1500 rows/s -> median 1,500
    assert kv[("medium", "duckdb")] == ["20.0", "2.50×", "1,500"]
    assert kv[("tiny", "dremel")] == ["3.00", "3.00×", "8,000"]
    assert len(kv) == 9  # 3 scales × 3 systems that ran


def test_best_system_at_each_scale_is_bold(rendered):
    kv = md_table((rendered.parent / "report.md").read_text(), "Key-value lookups")
    # p99 (lower is better): sqlite best at tiny, dremel at medium.
    assert kv[("tiny", "sqlite")][:2] == ["**1.00**", "**1.00×**"]
    assert kv[("medium", "dremel")][:2] == ["**8.00**", "**1.00×**"]
    # ingest (higher is better): sqlite's 30,000 is best at medium, duckdb's 1,500 is not.
    assert kv[("medium", "sqlite")][2] == "**30,000**"
    assert kv[("medium", "duckdb")][2] == "1,500"
    html = rendered.read_text()
    assert '<td class="num best" title="min 7.20 · max 8.80 · n=3">8.00</td>' in html


def test_metric_only_in_samples_gets_a_cdf_not_a_table_column(rendered):
    md = (rendered.parent / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Scale"))
    assert "distribution" not in header
    assert "kv__cdf.png" in img_sources(rendered)
    assert not (rendered.parent / "kv__lookup_latency.png").exists()


def test_ratio_column_is_times_worse_than_best(rendered):
    kv = md_table((rendered.parent / "report.md").read_text(), "Key-value lookups")
    assert kv[("medium", "sqlite")][:2] == ["40.0", "5.00×"]  # 40 ms vs best 8 ms
    assert kv[("small", "dremel")][:2] == ["4.50", "1.12×"]


def test_verdict_names_the_crossover(rendered):
    md = (rendered.parent / "report.md").read_text()
    assert (
        "**p99 lookup latency (lower is better): best is sqlite at tiny, small; dremel at medium.**"
        in md
    )
    assert "Scan time (lower is better): best is sqlite at tiny; duckdb at small, medium." in md


def test_skipped_system_and_its_reason_appear_in_both_pages(rendered):
    md = (rendered.parent / "report.md").read_text()
    html = rendered.read_text()
    assert f"**postgres**: {SKIP_REASON}" in md
    assert "<strong>postgres</strong>: no Postgres configured" in html
    assert "<code>minisys services up</code>" in html


def test_environment_and_versions_are_shown(rendered):
    html = rendered.read_text()
    for text in ("Linux-6.1-x86_64", "3.45.1", "minisys scenario run kv", "2m 10s"):
        assert text in html


def test_html_escapes_scenario_text(rendered):
    html = rendered.read_text()
    assert "Sum one column &lt;fast&gt;." in html
    assert "<fast>" not in html


def test_rendering_leaves_no_matplotlib_figures_open(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    render_report(make_run(tmp_path / "run", samples=False))
    assert plt.get_fignums() == before


def test_single_scale_run_renders_bars_and_tables(tmp_path):
    index = render_report(make_run(tmp_path / "run", scales={"small": 10_000.0}))
    names = {p.name for p in index.parent.glob("*.png")}
    assert {"kv__lookup_p99_ms.png", "kv__ratio.png", "kv__cdf.png"} <= names
    md = (index.parent / "report.md").read_text()
    assert "small (10k rows)" in md
    assert set(img_sources(index)) == names


def test_missing_samples_means_no_cdf_but_everything_else(tmp_path):
    index = render_report(make_run(tmp_path / "run", samples=False))
    names = {p.name for p in index.parent.glob("*.png")}
    assert not any(n.endswith("__cdf.png") for n in names)
    assert "kv__ratio.png" in names


def test_system_without_rows_at_a_scale_shows_a_dash(tmp_path):
    medians = dict(MEDIANS)
    medians[("kv", "lookup_p99_ms", "dremel")] = {"tiny": 3.0, "small": 4.5}
    medians[("kv", "ingest_rows_per_s", "dremel")] = {"tiny": 8_000.0, "small": 9_000.0}
    index = render_report(make_run(tmp_path / "run", medians=medians))
    kv = md_table((index.parent / "report.md").read_text(), "Key-value lookups")
    assert kv[("medium", "dremel")] == ["—", "—", "—"]
    assert kv[("medium", "duckdb")][:2] == ["**20.0**", "**1.00×**"]  # now the best at medium


def test_nan_metric_is_shown_as_not_a_number(tmp_path):
    medians = dict(MEDIANS)
    medians[("kv", "lookup_p99_ms", "duckdb")] = {"tiny": math.nan, "small": 5.0, "medium": 20.0}
    index = render_report(make_run(tmp_path / "run", medians=medians))
    kv = md_table((index.parent / "report.md").read_text(), "Key-value lookups")
    assert kv[("tiny", "duckdb")][:2] == ["n/a", "—"]
    for png in index.parent.glob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC)


def test_scenario_where_every_system_was_skipped_says_so(tmp_path):
    run = make_run(tmp_path / "run", samples=False)
    meta = json.loads((run / "scenarios.json").read_text())
    meta.append(
        {
            "name": "kafka_log",
            "title": "Log append",
            "systems": [],
            "skipped": {"kafka": "no Kafka configured"},
            "metrics": [],
        }
    )
    (run / "scenarios.json").write_text(json.dumps(meta))
    index = render_report(run)
    html = index.read_text()
    assert "<h2>Log append</h2>" in html
    assert "<strong>kafka</strong>: no Kafka configured" in html
    assert "No results were recorded for this scenario." in html
    assert not list(index.parent.glob("kafka_log__*.png"))


def test_metric_without_a_direction_is_shown_but_nothing_is_called_best(tmp_path):
    run = make_run(tmp_path / "run", samples=False)
    meta = json.loads((run / "scenarios.json").read_text())
    meta[1]["metrics"][0].pop("better")
    (run / "scenarios.json").write_text(json.dumps(meta))
    rows = [dict(r, better=None) for r in result_rows()]
    pq.write_table(pa.Table.from_pylist(rows), run / "results.parquet")
    index = render_report(run)
    scan = md_table((index.parent / "report.md").read_text(), "Full scan")
    assert scan[("medium", "duckdb")] == ["0.050"]
    assert not (index.parent / "scan__ratio.png").exists()
    assert (index.parent / "scan__scan_s.png").exists()


def test_results_json_alone_is_enough(tmp_path):
    run = make_run(tmp_path / "run", samples=False)
    for name in ("results.parquet", "scenarios.json", "environment.json"):
        (run / name).unlink()
    index = render_report(run, tmp_path / "out")
    assert index == tmp_path / "out" / "index.html"
    md = (index.parent / "report.md").read_text()
    assert "## kv" in md and "## scan" in md
    assert "**8.00**" in md  # better taken from the rows, so best is still marked
    assert (tmp_path / "out" / "kv__lookup_p99_ms.png").exists()


def test_run_dir_without_results_is_a_user_error_naming_it(tmp_path):
    with pytest.raises(MinisysError, match=re.escape(str(tmp_path))):
        render_report(tmp_path)


def test_missing_run_dir_is_a_user_error(tmp_path):
    with pytest.raises(MinisysError, match="no such run directory"):
        render_report(tmp_path / "nope")


def test_latest_run_prefers_the_latest_symlink(tmp_path):
    old = make_run(tmp_path / "a", samples=False, started="2025-01-01T00:00:00")
    make_run(tmp_path / "b", samples=False, started="2025-06-01T00:00:00")
    (tmp_path / "latest").symlink_to(old.name)
    assert latest_run(tmp_path) == old.resolve()


def test_latest_run_picks_the_newest_start_time_not_the_name(tmp_path):
    newest = make_run(tmp_path / "a", samples=False, started="2025-06-01T00:00:00")
    make_run(tmp_path / "b", samples=False, started="2025-01-01T00:00:00")
    (tmp_path / "not-a-run").mkdir()
    assert latest_run(tmp_path) == newest


def test_latest_run_without_runs_is_a_user_error(tmp_path):
    with pytest.raises(MinisysError, match="no runs found under"):
        latest_run(tmp_path / "minisys-results")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="minisys")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_report_command_defaults_to_newest_run_and_prints_index(tmp_path, monkeypatch, capsys):
    make_run(tmp_path / "minisys-results" / "run-1", samples=False)
    monkeypatch.chdir(tmp_path)
    args = parse(["report"])
    assert args.func(args) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed == (tmp_path / "minisys-results" / "run-1" / "report" / "index.html").resolve()
    assert printed.exists()


def test_report_command_writes_to_out_dir(tmp_path, capsys):
    run = make_run(tmp_path / "run", samples=False)
    assert handle(parse(["report", str(run), "--out", str(tmp_path / "out")])) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "index.html")


def test_report_command_without_runs_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MinisysError, match="no runs found under minisys-results"):
        handle(parse(["report"]))


def test_minisys_cli_report_end_to_end(tmp_path, capsys):
    pytest.importorskip(
        "minisys.scenario", reason="minisys.scenario (listed in cli GROUPS) not written yet"
    )
    pytest.importorskip(
        "minisys.services", reason="minisys.services (listed in cli GROUPS) not written yet"
    )
    from minisys.cli import main

    run = make_run(tmp_path / "run", samples=False)
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "report" / "index.html")
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_importing_report_does_not_load_matplotlib_or_pyarrow():
    code = (
        "import sys, minisys.report; "
        "print(any(m.split('.')[0] in ('matplotlib', 'pyarrow', 'numpy') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    assert out.stdout.strip() == "False"


def test_report_command_given_the_results_root_renders_its_newest_run(tmp_path, capsys):
    make_run(tmp_path / "a", samples=False, started="2025-01-01T00:00:00")
    newest = make_run(tmp_path / "b", samples=False, started="2025-06-01T00:00:00")
    assert handle(parse(["report", str(tmp_path)])) == 0
    assert capsys.readouterr().out.strip() == str(newest / "report" / "index.html")


def test_systems_in_one_scenario_never_share_a_colour_even_past_the_palette():
    from minisys.report.plots import _distinct_colors

    palette = ["red", "green", "blue"]
    overall = {"a": "red", "b": "green", "c": "blue", "d": "red", "e": "green"}
    colors = _distinct_colors(["a", "d", "e"], overall, palette)
    assert colors["a"] == "red" and len(set(colors.values())) == 3
