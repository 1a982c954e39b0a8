import pyarrow as pa
import pytest
from dremel_paper import DOCUMENT, R1, R2

from minisys.dremel.schema import Schema, infer_schema
from minisys.errors import BadInput


def test_paper_schema_has_the_papers_max_levels():
    schema = Schema.parse(DOCUMENT)
    levels = {f.path: (f.max_r, f.max_d) for f in schema.leaves}
    assert levels == {
        "DocId": (0, 0),
        "Links.Backward": (1, 2),
        "Links.Forward": (1, 2),
        "Name.Language.Code": (2, 2),
        "Name.Language.Country": (2, 3),
        "Name.Url": (1, 2),
    }


def test_schema_text_round_trips_through_the_parser():
    schema = Schema.parse(DOCUMENT)
    assert Schema.parse(schema.to_text()) == schema


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("message D {\n  required int64 DocId\n}", "line 3, column 1"),
        ("message D {\n  mandatory int64 X; }", "line 2, column 3"),
        ("message D { required int65 X; }", "line 1, column 22"),
        ("message D { required group G { } }", "line 1, column 32"),
        ("message D { required int64 X;", "end of input"),
    ],
)
def test_schema_syntax_errors_name_line_and_column(text, where):
    with pytest.raises(BadInput, match=where):
        Schema.parse(text)


def test_duplicate_field_is_rejected():
    with pytest.raises(BadInput, match="declared twice"):
        Schema.parse("message D { required int64 X; optional string X; }")


def test_schema_is_inferred_from_json_records():
    schema = infer_schema([R1, R2], name="Document")
    levels = {f.path: (f.label, f.type, f.max_r, f.max_d) for f in schema.leaves}
    assert levels["DocId"] == ("required", "int64", 0, 0)
    assert levels["Links.Forward"] == ("repeated", "int64", 1, 1)
    assert levels["Name.Language.Code"] == ("required", "string", 2, 2)
    assert levels["Name.Language.Country"] == ("optional", "string", 2, 3)
    assert schema.field("Links").label == "required"  # both records have Links


def test_inference_rejects_lists_of_lists_with_the_path():
    with pytest.raises(BadInput, match="a.b"):
        infer_schema([{"a": {"b": [[1]]}}])


def test_schema_from_arrow_maps_lists_structs_and_nullability():
    arrow = pa.schema([
        pa.field("id", pa.int64(), nullable=False),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("s", pa.struct([pa.field("x", pa.float64())])),
    ])
    schema = Schema.from_arrow(arrow)
    assert [(f.path, f.label, f.max_r, f.max_d) for f in schema.leaves] == [
        ("id", "required", 0, 0), ("tags", "repeated", 1, 1), ("s.x", "optional", 0, 2)]


def test_unknown_field_lookup_names_the_field():
    with pytest.raises(BadInput, match="Name.Lang"):
        Schema.parse(DOCUMENT).field("Name.Lang")


def test_field_names_that_the_query_language_cannot_name_are_refused():
    with pytest.raises(BadInput, match="'my field' under the record is not an identifier"):
        infer_schema([{"my field": 1}])
