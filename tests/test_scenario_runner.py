"""The scenario runner: warm-up excluded, repeats kept, failures reported, files written."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from minisys import scenario
from minisys.errors import BadInput

USER_SCENARIO = textwrap.dedent(
    '''
    import os
    from pathlib import Path
    from minisys.scenario import Metric, Outcome, Scale, Scenario

    class Counting(Scenario):
        name = "counting"
        title = "Counts its own runs"
        description = "test double"
        systems = ("steady", "broken", "dies")
        scales = {"tiny": Scale("tiny", 10), "small": Scale("small", 100)}
        metrics = (Metric("answer", "units", "higher"), Metric("lat", "ms", "lower"))

        def prepare(self, scale, seed, data, workdir):
            return {"n": int(scale.size), "seed": seed}

        def run(self, system, workload, scale, workdir):
            log = Path(os.environ["COUNT_LOG"])
            with log.open("a") as f:
                f.write(f"{system} {scale.name}\\n")
            if system == "broken":
                raise ValueError("bad record 7")
            if system == "dies":
                os._exit(9)
            return Outcome({"answer": workload["n"] * 2}, {"lat": [1.0, 2.0, 3.0]})
    '''
)


@pytest.fixture
def user_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "my_scenario.py"
    path.write_text(USER_SCENARIO)
    monkeypatch.setenv("COUNT_LOG", str(tmp_path / "runs.log"))
    return path


def _run(user_file: Path, tmp_path: Path, **kw) -> Path:
    classes = scenario.discover([user_file])
    cfg = scenario.RunConfig(out_root=tmp_path / "out", progress=False, **kw)
    return scenario.run([classes["counting"]], cfg)


def test_warmup_runs_happen_but_are_never_reported(user_file, tmp_path):
    run_dir = _run(user_file, tmp_path, scales=["tiny"], systems=["steady"], repeat=3, warmup=2)
    log = (tmp_path / "runs.log").read_text().splitlines()
    assert log.count("steady tiny") == 5
    rows = [r for r in json.loads((run_dir / "results.json").read_text()) if r["metric"] == "answer"]
    assert sorted(r["repeat"] for r in rows) == [0, 1, 2]
    assert {r["value"] for r in rows} == {20.0}


def test_results_are_tidy_in_parquet_csv_and_json(user_file, tmp_path):
    run_dir = _run(user_file, tmp_path, scales=["tiny", "small"], systems=["steady"], repeat=2)
    table = pq.read_table(run_dir / "results.parquet")
    assert table.column_names == [
        "run_id", "scenario", "system", "system_version", "scale", "scale_size",
        "repeat", "metric", "value", "unit", "better",
    ]
    # one row per (scale, repeat, metric): 2 scales x 2 repeats x (answer + peak_rss_mb)
    assert table.num_rows == 8
    assert (run_dir / "results.csv").read_text().count("\n") == 9
    assert len(json.loads((run_dir / "results.json").read_text())) == 8
    samples = pq.read_table(run_dir / "samples.parquet").to_pylist()
    assert {s["value"] for s in samples} == {1.0, 2.0, 3.0}
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["cpu_count"] >= 1 and env["repeat"] == 2 and env["python"]
    assert (tmp_path / "out" / "latest").resolve() == run_dir.resolve()


def test_every_run_reports_peak_rss_of_its_own_process(user_file, tmp_path):
    run_dir = _run(user_file, tmp_path, scales=["tiny"], systems=["steady"], repeat=1)
    rss = [r for r in json.loads((run_dir / "results.json").read_text()) if r["metric"] == "peak_rss_mb"]
    assert len(rss) == 1 and 5 < rss[0]["value"] < 10_000


def test_failing_and_dying_systems_are_reported_and_the_run_goes_on(user_file, tmp_path):
    run_dir = _run(user_file, tmp_path, scales=["tiny"], repeat=1, warmup=0)
    described = json.loads((run_dir / "scenarios.json").read_text())[0]
    assert "ValueError: bad record 7" in described["errors"]["broken/tiny"]
    assert "died (exit code 9)" in described["errors"]["dies/tiny"]
    systems = {r["system"] for r in json.loads((run_dir / "results.json").read_text())}
    assert systems == {"steady"}


def test_unknown_scale_and_system_are_rejected_before_any_work(user_file, tmp_path):
    with pytest.raises(BadInput, match="unknown scale 'huge'.*tiny, small"):
        _run(user_file, tmp_path, scales=["huge"])
    with pytest.raises(BadInput, match="no system 'oracle'"):
        _run(user_file, tmp_path, systems=["oracle"])
    assert not (tmp_path / "runs.log").exists()


def test_user_file_without_a_scenario_is_a_clear_error(tmp_path):
    empty = tmp_path / "nothing.py"
    empty.write_text("x = 1\n")
    with pytest.raises(BadInput, match="defines no Scenario"):
        scenario.discover([empty])


def test_builtin_scenarios_are_discovered():
    assert "kv-ingest" in scenario.discover()


FIGURE_SCENARIO = textwrap.dedent(
    '''
    import json
    from minisys.scenario import ExtraFigure, Metric, Outcome, Scale, Scenario

    class Drawn(Scenario):
        name = "drawn"
        title = "Draws its own figure"
        description = "test double"
        systems = ("one",)
        scales = {"tiny": Scale("tiny", 1)}
        metrics = (Metric("x", "s"),)

        def prepare(self, scale, seed, data, workdir):
            return None

        def run(self, system, workload, scale, workdir):
            return Outcome({"x": 1.0})

        def figures(self, run_dir, out_dir):
            from matplotlib.figure import Figure
            rows = json.loads((run_dir / "results.json").read_text())
            fig = Figure()
            fig.add_subplot().plot([r["value"] for r in rows])
            out_dir.mkdir(parents=True, exist_ok=True)
            fig.savefig(out_dir / "mine.png")
            return [ExtraFigure("mine.png", "My own figure", "drawn from results.json")]

    class Broken(Drawn):
        name = "broken-figure"

        def figures(self, run_dir, out_dir):
            raise RuntimeError("no ink")
    '''
)


def test_scenario_figures_hook_is_embedded_in_the_report_and_its_failure_reported(tmp_path):
    from minisys.report import render_report

    path = tmp_path / "drawn.py"
    path.write_text(FIGURE_SCENARIO)
    found = scenario.discover([path])
    cfg = scenario.RunConfig(out_root=tmp_path / "out", progress=False, repeat=1, warmup=0)
    run_dir = scenario.run([found["drawn"], found["broken-figure"]], cfg)
    html = render_report(run_dir).read_text()
    assert 'src="drawn__extra__mine.png"' in html and "My own figure" in html
    assert (run_dir / "report" / "drawn__extra__mine.png").read_bytes()[:4] == b"\x89PNG"
    described = {d["name"]: d for d in json.loads((run_dir / "scenarios.json").read_text())}
    assert described["broken-figure"]["errors"] == {"figures": "RuntimeError: no ink"}
    assert "Failed:" in html and "no ink" in html
