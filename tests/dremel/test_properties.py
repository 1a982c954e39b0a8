"""Property tests: the striping/assembly round trip on random schemas and records."""

import pyarrow as pa
from dremel_strategies import project, schema_and_records
from hypothesis import given, settings
from hypothesis import strategies as st

from minisys.dremel.assembly import assemble
from minisys.dremel.striping import stripe, stripe_arrow


@settings(max_examples=150, deadline=None)
@given(schema_and_records())
def test_assemble_of_stripe_equals_the_records(case):
    schema, records = case
    assert assemble(schema, stripe(schema, records)) == records


@settings(max_examples=150, deadline=None)
@given(schema_and_records(), st.data())
def test_assembling_any_field_subset_equals_projecting_the_records(case, data):
    schema, records = case
    paths = [f.path for f in schema.leaves]
    chosen = data.draw(st.lists(st.sampled_from(paths), min_size=1, unique=True))
    selected = set(chosen)
    expected = [project(schema.root, r, selected) for r in records]
    assert assemble(schema, stripe(schema, records), fields=chosen) == expected


@settings(max_examples=100, deadline=None)
@given(schema_and_records())
def test_arrow_striping_equals_the_papers_striping(case):
    schema, records = case
    table = pa.Table.from_pylist(records, schema=schema.to_arrow())
    expected = {p: list(c) for p, c in stripe(schema, records).items()}
    assert {p: list(c) for p, c in stripe_arrow(schema, table).items()} == expected


def _values(node_value, names):
    """All values at a path inside one record (lists flatten, missing contributes nothing)."""
    if not names:
        return [node_value]
    if node_value is None:
        return []
    v = node_value.get(names[0])
    if v is None:
        return []
    items = v if isinstance(v, list) else [v]
    return [x for item in items for x in _values(item, names[1:])]


@settings(max_examples=100, deadline=None)
@given(schema_and_records(), st.data())
def test_queries_on_levels_agree_with_walking_the_records(case, data):
    from minisys.dremel.tablet import Table

    schema, records = case
    leaf = data.draw(st.sampled_from(schema.leaves))
    names = [f.name for f in leaf.ancestors()]
    per_record = [_values(r, names) for r in records]
    table = Table.from_records(schema, records, tablet_records=data.draw(st.integers(1, 4)))
    total = table.query(f"SELECT COUNT({leaf.path}) AS n FROM t").records()
    assert total == [{"n": sum(len(v) for v in per_record)}]
    within = table.query(f"SELECT COUNT({leaf.path}) WITHIN RECORD AS n FROM t").records()
    assert within == [{"n": len(v)} for v in per_record]
    if leaf.type == "int64":
        got = table.query(f"SELECT SUM({leaf.path}) AS s, MAX({leaf.path}) AS m FROM t").records()[0]
        flat = [x for v in per_record for x in v]
        assert got == {"s": sum(flat) if flat else None, "m": max(flat) if flat else None}
