from dremel_paper import DOCUMENT, R1, R2

from minisys.dremel.assembly import END, assemble, construct_fsm
from minisys.dremel.schema import Schema
from minisys.dremel.striping import stripe

CODE, COUNTRY = "Name.Language.Code", "Name.Language.Country"


def test_full_fsm_matches_figure_4():
    schema = Schema.parse(DOCUMENT)
    assert construct_fsm(schema.leaves) == {
        "DocId": {0: "Links.Backward"},
        "Links.Backward": {0: "Links.Forward", 1: "Links.Backward"},
        "Links.Forward": {0: CODE, 1: "Links.Forward"},
        CODE: {0: COUNTRY, 1: COUNTRY, 2: COUNTRY},
        COUNTRY: {0: "Name.Url", 1: "Name.Url", 2: CODE},
        "Name.Url": {0: END, 1: CODE},
    }


def test_partial_fsm_for_docid_and_country_matches_figure_5():
    schema = Schema.parse(DOCUMENT)
    fsm = construct_fsm([schema.column("DocId"), schema.column(COUNTRY)])
    assert fsm == {"DocId": {0: COUNTRY}, COUNTRY: {0: END, 1: COUNTRY, 2: COUNTRY}}


def test_full_assembly_rebuilds_the_paper_records():
    schema = Schema.parse(DOCUMENT)
    assert assemble(schema, stripe(schema, [R1, R2])) == [R1, R2]


def test_partial_assembly_gives_the_papers_s1_and_s2_with_empty_groups():
    schema = Schema.parse(DOCUMENT)
    s1, s2 = assemble(schema, stripe(schema, [R1, R2]), fields=["DocId", COUNTRY])
    assert s1 == {"DocId": 10, "Name": [{"Language": [{"Country": "us"}, {}]}, {}, {"Language": [{"Country": "gb"}]}]}
    assert s2 == {"DocId": 20, "Name": [{}]}


def test_selecting_a_group_selects_the_columns_under_it():
    schema = Schema.parse(DOCUMENT)
    out = assemble(schema, stripe(schema, [R1, R2]), fields=["Links"])
    assert out == [{"Links": {"Forward": [20, 40, 60]}}, {"Links": {"Backward": [10, 30], "Forward": [80]}}]
