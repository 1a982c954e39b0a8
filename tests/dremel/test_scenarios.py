"""The scenarios' workloads and runs on a very small scale, in-process."""

import importlib.util
from pathlib import Path

import pytest

from minisys.scenario import Scale

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("system", ["dremel", "duckdb-parquet", "duckdb", "records"])
def test_dremel_vs_duckdb_measures_every_system(tmp_path, system):
    module = _load("dremel_vs_duckdb")
    sc = module.DremelVsDuckDB()
    scale = Scale("t", 300, {"records": 300})
    workload = sc.prepare(scale, 1, None, tmp_path / "w")
    out = sc.run(system, workload, scale, tmp_path)
    assert set(out.metrics) == {m.name for m in sc.metrics}


def test_every_system_counts_the_same_values(tmp_path):
    module = _load("dremel_vs_duckdb")
    sc = module.DremelVsDuckDB()
    workload = sc.prepare(Scale("t", 300, {"records": 300}), 1, None, tmp_path / "w")
    from minisys.dremel.schema import Schema

    schema = Schema.parse(workload["schema"])
    fields = workload["fields"][:20]
    counts = {name: cls(name, workload, schema).counts(fields)
              for name, cls in [("dremel", module._Dremel), ("duckdb", module._DuckDB), ("records", module._Records)]}
    assert counts["dremel"] == counts["duckdb"] == counts["records"]


def test_dremel_vs_duckdb_accepts_the_users_json_lines(tmp_path):
    import json

    from dremel_paper import R1, R2

    data = tmp_path / "mine.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [R1, R2] * 10))
    sc = _load("dremel_vs_duckdb").DremelVsDuckDB()
    scale = sc.data_scale(data)
    assert scale.params["records"] == 20
    workload = sc.prepare(scale, 1, data, tmp_path / "w")
    assert sc.run("dremel", workload, scale, tmp_path).metrics["fields_1_s"] >= 0


def test_dremel_paper_scenario_shows_redispatch_and_partial_results(tmp_path):
    sc = _load("dremel_paper").DremelPaper()
    scale = Scale("t", 2_000, {"records": 2_000, "tablet": 25, "leaves": 4})
    workload = sc.prepare(scale, 1, None, tmp_path / "w")
    out = sc.run("tree-2-levels", workload, scale, tmp_path)
    m = out.metrics
    assert m["straggler_98pct_s"] < m["straggler_100pct_s"]
    assert m["straggler_redispatch_s"] < m["straggler_100pct_s"] and m["tablets_redispatched"] >= 1
    assert len(out.samples["tablet_seconds"]) == 80


def test_fields_figure_is_drawn_from_a_run_directory(tmp_path):
    import json

    from minisys.dremel.figures import draw_fields_figure, fields_table

    rows = [{"scenario": "dremel-vs-duckdb", "system": s, "scale": "small", "scale_size": 10.0,
             "metric": f"fields_{k}_s", "value": k * f, "repeat": 0}
            for s, f in [("dremel", 1.0), ("records", 10.0)] for k in (1, 2, 5)]
    (tmp_path / "results.json").write_text(json.dumps(rows))
    scale, table = fields_table(tmp_path)
    assert scale == "small" and table["records"] == {1: 10.0, 2: 20.0, 5: 50.0}
    assert draw_fields_figure(tmp_path).stat().st_size > 0
