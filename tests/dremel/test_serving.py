import pytest

from minisys.dremel.documents import DOCUMENT, generate
from minisys.dremel.query import execute, merge_partials, scan_tablet
from minisys.dremel.query.executor import prepare
from minisys.dremel.serving import LocalCluster, run_simulated, topology
from minisys.dremel.tablet import Table
from minisys.errors import BadInput

GROUPED = "SELECT Year, COUNT(*) AS n, SUM(Clicks) AS s, AVG(Score) AS a, COUNT(DISTINCT Domain) AS d FROM t GROUP BY Year ORDER BY Year"


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("serving") / "docs"
    Table.from_arrow(generate(6_000, seed=5), DOCUMENT, tablet_records=500).save(path)
    return path


def _rounded(records):
    return [{k: round(v, 9) if isinstance(v, float) else v for k, v in r.items()} for r in records]


def test_partial_aggregates_merged_in_any_grouping_equal_the_whole(table_dir):
    table = Table.open(table_dir)
    plan, _ = prepare(table, GROUPED)
    parts = [scan_tablet(plan, t) for t in table.tablets]
    two_level = merge_partials(plan, [merge_partials(plan, parts[:5]), merge_partials(plan, parts[5:])])
    from minisys.dremel.query.executor import finish

    assert _rounded(finish(plan, two_level).records()) == _rounded(execute(table, GROUPED).records())


def test_topology_has_the_requested_depth():
    assert topology(4, ())["root"] == ("root", ["leaf0", "leaf1", "leaf2", "leaf3"])
    shape = topology(8, (2, 2))
    assert shape["root"][1] == ["mid1-0", "mid1-1"]
    assert shape["mid1-0"][1] == ["mid2-0", "mid2-1"]
    assert sorted(k for v in shape.values() if v[0] != "leaf" for k in v[1] if k.startswith("leaf")) == \
        sorted(f"leaf{i}" for i in range(8))


@pytest.mark.parametrize("fanouts", [(), (2,), (2, 2)])
def test_serving_tree_of_any_depth_gives_the_in_process_answer(table_dir, fanouts):
    expected = _rounded(Table.open(table_dir).query(GROUPED).records())
    out = run_simulated(table_dir, GROUPED, leaves=8, fanouts=fanouts)
    assert _rounded(out.result.records()) == expected and not out.result.partial
    assert len(out.tablet_seconds) == 12


def test_nested_queries_run_on_the_tree_too(table_dir):
    sql = "SELECT DocId, COUNT(Name.Language.Code) WITHIN Name AS c FROM t WHERE DocId < 300"
    out = run_simulated(table_dir, sql, leaves=3, fanouts=(1,))
    assert sorted(out.result.records(), key=lambda r: r["DocId"]) == \
        sorted(Table.open(table_dir).query(sql).records(), key=lambda r: r["DocId"])


def test_straggling_tablet_is_redispatched_to_another_leaf(table_dir):
    slow = {"leaf1": 5.0}
    without = run_simulated(table_dir, GROUPED, leaves=4, slow_leaves=slow, straggler_factor=1e9)
    with_backup = run_simulated(table_dir, GROUPED, leaves=4, slow_leaves=slow, straggler_factor=3.0)
    assert without.redispatched == 0 and without.seconds > 5.0
    assert with_backup.redispatched > 0 and with_backup.seconds < 1.0
    assert _rounded(with_backup.result.records()) == _rounded(without.result.records())


def test_returning_after_a_fraction_of_tablets_marks_the_result_partial(table_dir):
    out = run_simulated(table_dir, "SELECT COUNT(*) AS n FROM t", leaves=4, slow_leaves={"leaf1": 5.0},
                        straggler_factor=1e9, min_fraction=0.8)
    assert out.result.partial and out.seconds < 5.0
    assert 10 <= out.result.tablets_scanned < 12
    assert out.result.records()[0]["n"] < 6_000


def test_query_errors_come_back_from_the_tree(table_dir):
    with pytest.raises(BadInput, match="unknown field"):
        run_simulated(table_dir, "SELECT Nope FROM t", leaves=2)


async def test_leaves_run_as_http_servers_in_their_own_processes(table_dir):
    async with LocalCluster(leaves=2, fanouts=(1,)) as cluster:
        out = await cluster.query(table_dir, GROUPED)
        procs = list(cluster.procs)
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
    assert _rounded(out.result.records()) == _rounded(Table.open(table_dir).query(GROUPED).records())
    assert all(p.poll() is not None for p in procs)  # no leaf process outlives the cluster


async def test_over_http_a_slow_leaf_process_is_worked_around_by_redispatch(table_dir):
    slow = 5.0  # seconds per tablet on leaf1: a machine far slower than the others
    async with LocalCluster(leaves=3, leaf_delays={"leaf1": slow}, straggler_factor=3.0) as cluster:
        out = await cluster.query(table_dir, GROUPED)
    assert out.redispatched >= 1 and out.seconds < slow
    assert _rounded(out.result.records()) == _rounded(Table.open(table_dir).query(GROUPED).records())
