import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dremel_paper import DOCUMENT, R1, R2

from minisys.dremel.schema import Schema
from minisys.dremel.tablet import Table, decode_levels, encode_levels
from minisys.errors import BadInput


def test_levels_are_bit_packed_at_minimal_width():
    levels = np.array([3, 2, 1, 3, 1, 0, 2, 3, 1], dtype=np.uint8)
    kind, data = encode_levels(levels, 3)
    assert kind == "bitpack2"  # max d = 3 needs 2 bits (§4.1)
    assert len(data) == 2 * 2  # two bit planes of ceil(9 / 8) bytes
    assert decode_levels(kind, data, len(levels)).tolist() == levels.tolist()


def test_long_runs_of_levels_are_run_length_encoded():
    levels = np.zeros(1000, dtype=np.uint8)  # 1,000 NULLs: one run of d = 0
    kind, data = encode_levels(levels, 1)
    assert kind == "rle" and len(data) == 5
    assert decode_levels(kind, data, 1000).tolist() == [0] * 1000


def test_columns_without_repetition_or_definition_store_no_levels(tmp_path):
    Table.from_records(DOCUMENT, [R1, R2]).save(tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "tablet-00000" / "tablet.json").read_text())
    assert meta["columns"]["DocId"]["rep"] == "none" and meta["columns"]["DocId"]["def"] == "none"
    assert not list((tmp_path / "t" / "tablet-00000").glob("DocId.rep"))
    assert meta["columns"]["Name.Language.Country"]["def"] == "bitpack2"


def test_tablets_keep_min_max_statistics(tmp_path):
    table = Table.from_records(DOCUMENT, [R1, R2]).save(tmp_path / "t")
    stats = table.tablets[0].stats("Links.Forward")
    assert (stats["min"], stats["max"], stats["values"], stats["entries"]) == (20, 80, 4, 4)


def test_saved_table_reopens_to_the_same_records(tmp_path):
    Table.from_records(DOCUMENT, [R1, R2] * 5, tablet_records=3).save(tmp_path / "t")
    table = Table.open(tmp_path / "t")
    assert len(table.tablets) == 4
    assert table.records() == [R1, R2] * 5


def test_a_query_reads_only_the_columns_it_uses(tmp_path):
    table = Table.from_records(DOCUMENT, [R1, R2]).save(tmp_path / "t")
    table.query("SELECT SUM(Links.Forward) FROM t WHERE DocId > 0")
    assert table.tablets[0].columns_read == {"Links.Forward", "DocId"}


def test_tablets_whose_statistics_exclude_the_where_clause_are_skipped(tmp_path):
    table = Table.from_records(DOCUMENT, [R1, R2] * 2, tablet_records=1).save(tmp_path / "t")
    result = table.query("SELECT COUNT(*) FROM t WHERE DocId < 15")
    assert result.records() == [{"f0_": 2}]
    for tablet in table.tablets:
        if tablet.stats("DocId")["min"] >= 15:
            assert tablet.columns_read == set()


def test_import_from_json_lines_infers_the_schema(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [R1, R2]))
    table = Table.from_json(path)
    assert table.records() == [R1, R2]
    assert table.schema.column("Name.Language.Country").max_d == 3


def test_bad_json_line_is_reported_with_line_number(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(BadInput, match="line 2"):
        Table.from_json(path)


def test_parquet_round_trip_through_arrow(tmp_path):
    schema = Schema.parse(DOCUMENT)
    pq.write_table(pa.Table.from_pylist([R1, R2], schema=schema.to_arrow()), tmp_path / "d.parquet")
    table = Table.from_parquet(tmp_path / "d.parquet", schema=DOCUMENT, out=tmp_path / "t")
    assert table.records() == [R1, R2]
    table.to_parquet(tmp_path / "back.parquet")
    back = pq.read_table(tmp_path / "back.parquet")
    assert back.column("DocId").to_pylist() == [10, 20]
    assert Table.from_arrow(back, schema=DOCUMENT).records() == [R1, R2]


def test_parquet_written_by_another_tool_imports_with_inferred_schema(tmp_path):
    pq.write_table(pa.table({"id": [1, 2], "tags": [["a", "b"], []]}), tmp_path / "x.parquet")
    table = Table.from_parquet(tmp_path / "x.parquet")
    assert table.records() == [{"id": 1, "tags": ["a", "b"]}, {"id": 2}]
    assert table.query("SELECT COUNT(tags) FROM t").records() == [{"f0_": 2}]


def test_open_of_a_directory_without_a_table_says_so(tmp_path):
    with pytest.raises(BadInput, match="not a Dremel table"):
        Table.open(tmp_path)
