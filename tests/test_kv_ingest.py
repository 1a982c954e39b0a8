"""kv-ingest: every store gets the same rows and finds every key it was given."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from minisys import scenario
from minisys.errors import BadInput
from scenarios.kv_ingest import KVIngest, generate, read_user_data


def test_generated_workload_is_deterministic_from_the_seed():
    a, b, c = generate(1000, 7), generate(1000, 7), generate(1000, 8)
    assert a.equals(b) and not a.equals(c)
    assert sorted(a.column("key").to_pylist()) == list(range(1000))


@pytest.mark.parametrize("system", ["sqlite", "duckdb"])
def test_embedded_store_ingests_and_finds_every_looked_up_key(system, tmp_path):
    sc = KVIngest()
    scale = sc.scales["tiny"]
    workload = sc.prepare(scale, 1, None, tmp_path)
    outcome = sc.run(system, workload, scale, tmp_path)
    assert outcome.metrics["ingest_rows_per_s"] > 0
    assert outcome.metrics["lookup_p50_ms"] <= outcome.metrics["lookup_p99_ms"]
    assert len(outcome.samples["lookup_latency"]) == 2000
    assert outcome.metrics["stored_mb"] > 0.3  # 10k rows x 40 bytes at least


@pytest.mark.postgres
def test_postgres_ingests_and_finds_every_looked_up_key(postgres_url, tmp_path):
    sc = KVIngest()
    assert sc.unavailable("postgres") is None
    scale = sc.scales["tiny"]
    outcome = sc.run("postgres", sc.prepare(scale, 1, None, tmp_path), scale, tmp_path)
    assert outcome.metrics["lookups_per_s"] > 0 and outcome.metrics["stored_mb"] > 0


def test_users_own_csv_runs_as_scale_data(tmp_path):
    path = tmp_path / "mine.csv"
    pacsv.write_csv(pa.table({"user_id": list(range(500)), "city": ["x"] * 500}), path)
    cfg = scenario.RunConfig(data=path, systems=["sqlite"], repeat=1, warmup=0, out_root=tmp_path / "out", progress=False)
    run_dir = scenario.run([KVIngest], cfg)
    rows = json.loads((run_dir / "results.json").read_text())
    assert {r["scale"] for r in rows} == {"data"} and {r["scale_size"] for r in rows} == {500.0}


def test_users_data_with_duplicate_keys_names_the_column(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,v\n1,a\n1,b\n")
    with pytest.raises(BadInput, match="key column 'id' must be unique"):
        read_user_data(path)


def test_users_data_in_unknown_format_is_rejected(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("nope")
    with pytest.raises(BadInput, match="unsupported format .xlsx"):
        read_user_data(path)
