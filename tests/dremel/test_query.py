import pytest
from dremel_paper import DOCUMENT, R1, R2

from minisys.dremel.query import QueryError, parse
from minisys.dremel.tablet import Table

SAMPLE = """SELECT DocId AS Id,
  COUNT(Name.Language.Code) WITHIN Name AS Cnt,
  Name.Url + ',' + Name.Language.Code AS Str
FROM t WHERE REGEXP(Name.Url, '^http') AND DocId < 20;"""


@pytest.fixture
def table():
    return Table.from_records(DOCUMENT, [R1, R2])


def test_papers_sample_query_gives_the_papers_output(table):
    result = table.query(SAMPLE)
    assert result.records() == [{
        "Id": 10,
        "Name": [
            {"Cnt": 2, "Language": [{"Str": "http://A,en-us"}, {"Str": "http://A,en"}]},
            {"Cnt": 0},
        ],
    }]


def test_papers_sample_query_has_the_papers_output_schema(table):
    assert table.query(SAMPLE).schema.to_text() == (
        "message QueryResult {\n  required int64 Id;\n  repeated group Name {\n    optional uint64 Cnt;\n"
        "    repeated group Language {\n      optional string Str;\n    }\n  }\n}")


def test_where_prunes_sub_records_that_fail(table):
    out = table.query("SELECT DocId, Name.Url FROM t WHERE Name.Url CONTAINS 'B'").records()
    assert out == [{"DocId": 10, "Name": [{"Url": "http://B"}]}]


def test_expression_emits_at_the_level_of_its_most_repeated_input(table):
    out = table.query("SELECT Name.Url + '!' AS u, Name.Language.Code + '?' AS c FROM t").records()
    assert out[0]["Name"][0] == {"u": "http://A!", "Language": [{"c": "en-us?"}, {"c": "en?"}]}
    assert out[1] == {"Name": [{"u": "http://C!"}]}


def test_within_record_aggregates_per_record(table):
    out = table.query("SELECT DocId, COUNT(Name.Language.Code) WITHIN RECORD AS n, "
                      "MAX(Links.Forward) WITHIN RECORD AS m FROM t").records()
    assert out == [{"DocId": 10, "n": 3, "m": 60}, {"DocId": 20, "n": 0, "m": 80}]


def test_aggregates_across_records(table):
    out = table.query("SELECT COUNT(*) AS n, SUM(Links.Forward) AS s, MIN(Name.Url) AS lo, "
                      "MAX(Name.Language.Code) AS hi, AVG(DocId) AS a, COUNT(DISTINCT Name.Language.Country) AS d "
                      "FROM t").records()
    assert out == [{"n": 2, "s": 200, "lo": "http://A", "hi": "en-us", "a": 15.0, "d": 2}]


def test_group_by_flattens_keys_to_the_aggregated_level(table):
    out = table.query("SELECT DocId, COUNT(Name.Language.Code) AS n FROM t GROUP BY DocId ORDER BY DocId").records()
    assert out == [{"DocId": 10, "n": 3}, {"DocId": 20, "n": 0}]


def test_order_by_and_limit(table):
    out = table.query("SELECT Links.Forward AS f, COUNT(*) AS n FROM t GROUP BY f ORDER BY f DESC LIMIT 2").records()
    assert out == [{"f": 80, "n": 1}, {"f": 60, "n": 1}]


def test_top_returns_the_most_frequent_values(table):
    t = Table.from_records("message R { repeated string w; }", [{"w": ["a", "b", "a"]}, {"w": ["c", "a", "b"]}])
    assert t.query("SELECT TOP(w, 2), COUNT(*) AS n FROM t").records() == [{"w": "a", "n": 3}, {"w": "b", "n": 2}]


def test_subquery_in_from_is_a_nested_table(table):
    out = table.query("SELECT COUNT(c) AS n FROM (SELECT COUNT(Name.Url) WITHIN RECORD AS c FROM t) WHERE c > 1")
    assert out.records() == [{"n": 1}]


def test_result_converts_to_arrow(table):
    assert table.query(SAMPLE).to_arrow().num_rows == 1
    assert table.query("SELECT COUNT(*) AS n FROM t").to_arrow().column("n").to_pylist() == [2]


@pytest.mark.parametrize(
    ("sql", "message", "column"),
    [
        ("SELECT DocId FORM t", "expected FROM, got 'FORM'", 14),
        ("SELECT DocId FROM t WHERE", "expected an expression, got end of query", 26),
        ("SELECT Name.Lang FROM t", "unknown field 'Name.Lang'", 8),
        ("SELECT Name FROM t", "'Name' is a group", 8),
        ("SELECT Name.Url + Links.Forward FROM t", "repeat independently", 19),
        ("SELECT DocId, COUNT(*) FROM t", "must appear in GROUP BY", 8),
        ("SELECT COUNT(DocId) WITHIN Links FROM t", "WITHIN needs RECORD or a repeated field", 28),
        ("SELECT FOO(DocId) FROM t", "unknown function FOO", 8),
        ("SELECT DocId + 'x' FROM t WHERE DocId # 3", "unexpected character '#'", 39),
        ("SELECT DocId FROM t WHERE Name.Url - 1 > 0", "not defined for strings", 36),
    ],
)
def test_query_errors_point_at_the_token(table, sql, message, column):
    with pytest.raises(QueryError, match=message) as info:
        table.query(sql)
    assert info.value.column == column
    assert str(info.value).splitlines()[-1].index("^") - 2 == column - 1


def test_parser_accepts_the_papers_sample():
    q = parse(SAMPLE)
    assert [i.alias for i in q.items] == ["Id", "Cnt", "Str"] and q.items[1].within == "Name"
