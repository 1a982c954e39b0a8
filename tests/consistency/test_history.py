"""Reading and writing histories: JSON lines, Jepsen EDN, and bad input."""

from __future__ import annotations

import pytest

from minisys.consistency.history import INFINITY, Recorder, parse_lines, read_history
from minisys.errors import BadInput


def test_json_lines_round_trip(tmp_path):
    rec = Recorder(clock=iter(range(100)).__next__)
    w = rec.invoke(0, "write", "x", 3)
    rec.complete(w, "ok")
    r = rec.invoke(1, "read", "x")
    rec.complete(r, "ok", 3)
    c = rec.invoke(2, "cas", "x", [3, 4])
    rec.complete(c, "info")
    path = rec.history().write(tmp_path / "h.jsonl")
    back = read_history(path).operations()
    assert [(o.process, o.f, o.key, o.value, o.output, o.status) for o in back] == [
        (0, "write", "x", 3, 3, "ok"), (1, "read", "x", None, 3, "ok"), (2, "cas", "x", (3, 4), None, "info")]
    assert back[2].ret == INFINITY and back[0].call == 0 and back[0].ret == 1


def test_jepsen_edn_lines_are_read():
    h = parse_lines([
        '{:process 0, :type :invoke, :f :write, :value 3, :time 10}',
        '{:process 1, :type :invoke, :f :read, :value nil, :time 11}',
        '{:process 0, :type :ok, :f :write, :value 3, :time 12}',
        '{:process 1, :type :ok, :f :read, :value 3, :time 13}',
        '{:process 2, :type :invoke, :f :cas, :value [3 4], :time 14}',
        '{:process 2, :type :info, :f :cas, :value [3 4], :time 15, :error :timeout}',
    ])
    ops = h.operations()
    assert [(o.f, o.status) for o in ops] == [("write", "ok"), ("read", "ok"), ("cas", "info")]
    assert ops[1].output == 3 and ops[2].value == (3, 4) and ops[0].call == 10


def test_malformed_lines_are_reported_with_their_line_number(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"process": 0, "type": "invoke", "f": "read"}\n\n{"process": 0, "type": "ok", "f": "read", "value": \n')
    with pytest.raises(BadInput, match=r"bad.jsonl:3: malformed JSON"):
        read_history(p)
    p.write_text('{"process": 0, "type": "done", "f": "read"}\n')
    with pytest.raises(BadInput, match=r"bad.jsonl:1: unknown type 'done'"):
        read_history(p)
    p.write_text('{"process": 0, "type": "invoke", "f": "read"}\n{"type": "ok", "f": "read"}\n')
    with pytest.raises(BadInput, match=r"bad.jsonl:2: missing field 'process'"):
        read_history(p)
    p.write_text('{:process 0, :type :invoke, :f :read\n')
    with pytest.raises(BadInput, match=r"bad.jsonl:1: malformed EDN"):
        read_history(p)
    p.write_text('{"process": 0, "type": "invoke", "f": "cas", "value": 3}\n')
    with pytest.raises(BadInput, match=r"bad.jsonl:1: cas needs value \[from, to\]"):
        read_history(p)


def test_completion_without_invoke_is_bad_input():
    with pytest.raises(BadInput, match=r":1: ok for process 4 which has no open invoke"):
        parse_lines(['{"process": 4, "type": "ok", "f": "read", "value": 1}']).operations()


def test_invoke_without_completion_is_indefinite_not_an_error():
    ops = parse_lines([
        '{"process": 0, "type": "invoke", "f": "write", "value": 1}',
        '{"process": 0, "type": "invoke", "f": "write", "value": 2}',
        '{"process": 0, "type": "ok", "f": "write", "value": 2}',
        '{"process": 1, "type": "invoke", "f": "write", "value": 3}',
    ]).operations()
    assert [(o.value, o.status, o.ret) for o in ops] == [(1, "info", INFINITY), (2, "ok", 2.0), (3, "info", INFINITY)]


def test_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(BadInput, match="no such history file"):
        read_history(tmp_path / "nope.jsonl")
