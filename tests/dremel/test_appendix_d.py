"""The vectorised evaluator against App. D's literal per-value algorithm (Fig. 19)."""

import pytest
from dremel_paper import DOCUMENT as PAPER
from dremel_paper import R1, R2

from minisys.dremel.documents import DOCUMENT, generate
from minisys.dremel.query.appendix_d import scan
from minisys.dremel.tablet import Table

# SELECT and WHERE on one chain of repeated fields, where App. D's semantics are the paper's.
QUERIES = [
    "SELECT DocId AS a, Name.Url AS b FROM t WHERE Name.Url CONTAINS '.net'",
    "SELECT Name.Language.Code AS a, Name.Url AS b FROM t WHERE Name.Language.Country = 'us'",
    "SELECT DocId AS a, Links.Forward AS b FROM t WHERE Year > 2005",
    "SELECT Name.Url + '#' + Name.Language.Code AS a, Title AS b FROM t WHERE REGEXP(Name.Url, 'site1') AND DocId < 1500",
    "SELECT Name.Language.Country AS a FROM t WHERE NOT Name.Url CONTAINS 'org' OR Name.Url IS NULL",
    "SELECT Tags AS a, Year AS b FROM t WHERE Tags > 500",
]


def _emitted(records, name):
    """The non-NULL values of output field ``name``, in document order."""
    out = []

    def walk(value):
        if isinstance(value, dict):
            for key, v in value.items():
                if key == name:
                    out.extend(v if isinstance(v, list) else [v])
                else:
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for record in records:
        walk(record)
    return out


def test_app_d_loop_gives_the_papers_sample_values():
    table = Table.from_records(PAPER, [R1, R2])
    got = scan(table, "SELECT DocId AS Id, Name.Url + ',' + Name.Language.Code AS Str FROM t "
                      "WHERE REGEXP(Name.Url, '^http') AND DocId < 20")
    assert got == {"Id": [(0, 10)], "Str": [(0, "http://A,en-us"), (0, "http://A,en"), (0, None)]}


@pytest.fixture(scope="module")
def documents():
    return Table.from_arrow(generate(400, seed=11), DOCUMENT, tablet_records=150)


@pytest.mark.parametrize("sql", QUERIES)
def test_vectorised_evaluation_emits_what_the_app_d_loop_emits(documents, sql):
    reference = scan(documents, sql)
    assert all(any(v is not None for _, v in emitted) for emitted in reference.values())
    ours = documents.query(sql).records()
    for name, emitted in reference.items():
        assert _emitted(ours, name) == [v for _, v in emitted if v is not None], name
