"""The Dynamo scenarios measure what they claim (run in-process on tiny custom scales)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from minisys.scenario import Scale

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scenarios" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dynamo_paper_reports_quorum_latencies_and_versions(tmp_path):
    sc = _load("dynamo_paper").DynamoPaper()
    scale = Scale("t", 120, {"requests": 120})
    work = sc.prepare(scale, 1, None, tmp_path)
    out = sc.run("n3r2w2", work, scale, tmp_path)
    assert 0 < out.metrics["get_p50_ms"] <= out.metrics["get_p999_ms"]
    assert 0 <= out.metrics["one_version_pct"] <= 100
    assert out.samples["get_latency"] and out.samples["put_latency"]


def test_dynamo_paper_ranks_strategy_3_above_strategy_2_like_figure_8(tmp_path):
    sc = _load("dynamo_paper").DynamoPaper()
    scale = Scale("t", 400, {"requests": 400})
    work = sc.prepare(scale, 1, None, tmp_path)
    eff = {s: sc.run(s, work, scale, tmp_path).metrics["load_efficiency"] for s in ("strategy2", "strategy3")}
    assert eff["strategy3"] > eff["strategy2"]


def test_dynamo_vs_postgres_runs_sqlite_through_the_same_harness(tmp_path):
    sc = _load("dynamo_vs_postgres").DynamoVsPostgres()
    scale = Scale("t", 60, {"ops": 60, "keys": 20, "fault_writes": 10})
    out = sc.run("sqlite", sc.prepare(scale, 1, None, tmp_path), scale, tmp_path)
    assert out.metrics["ops_per_s"] > 0 and len(out.samples["op_latency"]) == 60


@pytest.mark.heavy
def test_dynamo_vs_postgres_dynamo_keeps_writing_when_a_node_is_killed_or_the_client_is_cut_off(tmp_path):
    sc = _load("dynamo_vs_postgres").DynamoVsPostgres()
    scale = Scale("t", 60, {"ops": 60, "keys": 20, "fault_writes": 20})
    out = sc.run("dynamo", sc.prepare(scale, 1, None, tmp_path), scale, tmp_path)
    assert out.metrics["write_availability_pct"] == 100.0
    assert out.metrics["partition_write_availability_pct"] == 100.0  # cut from 3 of 5 nodes, still writable
