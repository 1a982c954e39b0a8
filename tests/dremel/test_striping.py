import pyarrow as pa
import pytest
from dremel_paper import DOCUMENT, R1, R2

from minisys.dremel.schema import Schema
from minisys.dremel.striping import stripe, stripe_arrow
from minisys.errors import BadInput

# Figure 3, column by column: (value, r, d).
FIGURE_3 = {
    "DocId": [(10, 0, 0), (20, 0, 0)],
    "Name.Url": [("http://A", 0, 2), ("http://B", 1, 2), (None, 1, 1), ("http://C", 0, 2)],
    "Links.Forward": [(20, 0, 2), (40, 1, 2), (60, 1, 2), (80, 0, 2)],
    "Links.Backward": [(None, 0, 1), (10, 0, 2), (30, 1, 2)],
    "Name.Language.Code": [("en-us", 0, 2), ("en", 2, 2), (None, 1, 1), ("en-gb", 1, 2), (None, 0, 1)],
    "Name.Language.Country": [("us", 0, 3), (None, 2, 2), (None, 1, 1), ("gb", 1, 3), (None, 0, 1)],
}


def test_paper_records_stripe_to_exactly_figure_3():
    columns = stripe(Schema.parse(DOCUMENT), [R1, R2])
    assert {path: list(col) for path, col in columns.items()} == FIGURE_3


def test_arrow_striping_gives_figure_3_too():
    schema = Schema.parse(DOCUMENT)
    table = pa.Table.from_pylist([R1, R2], schema=schema.to_arrow())
    assert {path: list(col) for path, col in stripe_arrow(schema, table).items()} == FIGURE_3


def test_nulls_are_not_stored_as_values():
    columns = stripe(Schema.parse(DOCUMENT), [R1, R2])
    country = columns["Name.Language.Country"]
    assert country.values.to_pylist() == ["us", "gb"]
    assert len(country) == 5


def test_missing_required_field_names_record_index_and_path():
    bad = {"DocId": 3, "Name": [{"Language": [{"Country": "x"}]}]}
    with pytest.raises(BadInput, match=r"record 2: required field Name.Language.Code is missing"):
        stripe(Schema.parse(DOCUMENT), [R1, R2, bad])


def test_wrong_type_names_record_index_and_path():
    with pytest.raises(BadInput, match=r"record 1: field Links.Forward: expected int64, got str"):
        stripe(Schema.parse(DOCUMENT), [R1, {"DocId": 1, "Links": {"Forward": ["x"]}}])


def test_unknown_field_names_record_index_and_path():
    with pytest.raises(BadInput, match=r"record 0: field Name.Lang is not in the schema"):
        stripe(Schema.parse(DOCUMENT), [{"DocId": 1, "Name": [{"Lang": []}]}])


def test_arrow_data_violating_the_schema_names_record_and_path():
    schema = Schema.parse(DOCUMENT)
    table = pa.table({"DocId": pa.array([1, None], pa.int64())})
    with pytest.raises(BadInput, match="record 1: required field DocId is missing"):
        stripe_arrow(Schema.parse("message D { required int64 DocId; }"), table)
    with pytest.raises(BadInput, match="no column 'Links'"):
        stripe_arrow(schema, pa.table({"DocId": [1]}))


def test_arrow_striping_of_a_sliced_table_matches_the_papers_striping():
    from minisys.dremel.documents import DOCUMENT as WIDE
    from minisys.dremel.documents import generate

    schema = Schema.parse(WIDE)
    part = generate(600, seed=7).slice(123, 200)  # offsets into shared buffers, as tablets are cut
    records = [_drop_empty(r) for r in part.to_pylist()]
    expected = {p: list(c) for p, c in stripe(schema, records).items()}
    assert {p: list(c) for p, c in stripe_arrow(schema, part).items()} == expected


def _drop_empty(value):
    """Canonical form: no None and no [] anywhere (the encoding does not keep them)."""
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value
