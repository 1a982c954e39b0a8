"""The two MapReduce scenarios, each run once at a toy scale (the suite runs them at real scales)."""

from __future__ import annotations

import pytest

from minisys.errors import BadInput
from minisys.scenario import Scale
from scenarios.mapreduce_paper import MapReducePaper
from scenarios.mapreduce_vs_sql import MapReduceVsSQL


def test_mapreduce_vs_sql_measures_all_three_jobs_for_minisys_and_duckdb(tmp_path):
    sc = MapReduceVsSQL()
    scale = Scale("toy", 0.05, {"text_mb": 0.05, "log_mb": 0.02})
    workload = sc.prepare(scale, 7, None, tmp_path / "w")
    for system in ("minisys-2", "duckdb", "python"):
        metrics = sc.run(system, workload, scale, tmp_path / system).metrics
        assert set(metrics) == {"wordcount_s", "inverted_index_s", "log_groupby_s", "wordcount_mb_per_s"}
        assert all(v > 0 for v in metrics.values())


def test_mapreduce_vs_sql_takes_a_users_text_file_and_refuses_other_formats(tmp_path):
    sc = MapReduceVsSQL()
    data = tmp_path / "mine.txt"
    data.write_text("to be or not to be\n" * 100)
    scale = sc.data_scale(data)
    metrics = sc.run("minisys-1", sc.prepare(scale, 1, data, tmp_path / "w"), scale, tmp_path / "r").metrics
    assert "log_groupby_s" not in metrics and metrics["wordcount_s"] > 0
    with pytest.raises(BadInput, match="takes a .txt file"):
        sc.prepare(scale, 1, tmp_path / "mine.csv", tmp_path / "w2")


def test_mapreduce_paper_reports_each_variant_as_a_ratio_to_the_normal_sort(tmp_path):
    sc = MapReducePaper()
    scale = Scale("toy", 0.2, {"records": 2000})
    metrics = sc.run("minisys", sc.prepare(scale, 3, None, tmp_path / "w"), scale, tmp_path / "r").metrics
    assert metrics["no_backups_ratio"] == pytest.approx(metrics["sort_no_backups_s"] / metrics["sort_s"])
    assert metrics["killed_ratio"] == pytest.approx(metrics["sort_killed_s"] / metrics["sort_s"])
