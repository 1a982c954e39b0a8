import json

from dremel_paper import R1, R2

from minisys.cli import main

SAMPLE = ("SELECT DocId AS Id, COUNT(Name.Language.Code) WITHIN Name AS Cnt, "
          "Name.Url + ',' + Name.Language.Code AS Str FROM t WHERE REGEXP(Name.Url, '^http') AND DocId < 20")


def test_load_query_and_columns_from_the_command_line(tmp_path, capsys):
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in [R1, R2]))
    assert main(["dremel", "load", str(src), "--out", str(tmp_path / "t")]) == 0
    assert "loaded 2 records" in capsys.readouterr().out
    assert main(["dremel", "query", SAMPLE, "--table", str(tmp_path / "t"), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out.splitlines()[0])["Name"][0]["Language"][1] == {"Str": "http://A,en"}
    assert main(["dremel", "columns", str(tmp_path / "t"), "--entries", "5"]) == 0
    out = capsys.readouterr().out
    assert "Name.Language.Country" in out and "NULL,2,2" in out and "us,0,3" in out


def test_query_text_output_follows_the_papers_layout(tmp_path, capsys):
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in [R1, R2]))
    main(["dremel", "load", str(src), "--out", str(tmp_path / "t")])
    capsys.readouterr()
    main(["dremel", "query", SAMPLE, "--table", str(tmp_path / "t")])
    assert capsys.readouterr().out.splitlines()[:4] == ["Id: 10", "Name", "  Cnt: 2", "  Language"]


def test_bad_query_is_one_error_pointing_at_the_token(tmp_path, capsys):
    src = tmp_path / "docs.jsonl"
    src.write_text(json.dumps(R1))
    main(["dremel", "load", str(src), "--out", str(tmp_path / "t")])
    capsys.readouterr()
    assert main(["dremel", "query", "SELECT DocId FROM t WHERE DocId <", "--table", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "column 34" in err and err.rstrip().endswith("^")


def test_loading_a_missing_or_unsupported_file_says_what(tmp_path, capsys):
    assert main(["dremel", "load", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "t")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "x.csv").write_text("a\n1\n")
    assert main(["dremel", "load", str(tmp_path / "x.csv"), "--out", str(tmp_path / "t")]) == 2
    assert "unsupported format" in capsys.readouterr().err


def test_query_can_run_on_a_serving_tree_of_leaf_processes(tmp_path, capsys):
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in [R1, R2] * 3))
    main(["dremel", "load", str(src), "--out", str(tmp_path / "t"), "--tablet-records", "2"])
    capsys.readouterr()
    sql = "SELECT COUNT(Name.Language.Code) AS n FROM t"
    assert main(["dremel", "query", sql, "--table", str(tmp_path / "t"), "--leaves", "2", "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {"n": 9} and "3/3 tablets" in out.err
