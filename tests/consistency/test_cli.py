"""``minisys check``: verdict lines and exit codes, reports with a timeline."""

from __future__ import annotations

import json

import pytest

from minisys.cli import main


def _write(path, lines):
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


LIN = [
    {"process": 0, "type": "invoke", "f": "write", "key": "x", "value": 1},
    {"process": 0, "type": "ok", "f": "write", "key": "x", "value": 1},
    {"process": 1, "type": "invoke", "f": "read", "key": "x", "value": None},
    {"process": 1, "type": "ok", "f": "read", "key": "x", "value": 1},
]
STALE = LIN[:3] + [{"process": 1, "type": "ok", "f": "read", "key": "x", "value": None}]


def test_linearizable_history_exits_0(tmp_path, capsys):
    assert main(["check", "linearizable", str(_write(tmp_path / "h.jsonl", LIN)), "--model", "register"]) == 0
    assert capsys.readouterr().out.startswith("linearizable:")


def test_non_linearizable_history_exits_1_with_the_offending_operations(tmp_path, capsys):
    assert main(["check", "linearizable", str(_write(tmp_path / "h.jsonl", STALE))]) == 1
    out = capsys.readouterr().out
    assert out.startswith("NOT linearizable:") and "write x 1 ok" in out and "read x → null ok" in out


def test_timeout_exits_2_as_unknown(tmp_path, capsys):
    lines = []
    for p in range(40):
        lines.append({"process": p, "type": "invoke", "f": "write", "value": p})
    for p in range(40):
        lines.append({"process": p, "type": "ok", "f": "write", "value": p})
    lines += [{"process": 99, "type": "invoke", "f": "read", "value": None},
              {"process": 99, "type": "ok", "f": "read", "value": -1}]
    assert main(["check", "linearizable", str(_write(tmp_path / "h.jsonl", lines)), "--timeout", "0"]) == 2
    assert capsys.readouterr().out.startswith("unknown:")


def test_malformed_history_exits_2_naming_the_line(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(LIN[0]) + "\n{not json\n")
    assert main(["check", "linearizable", str(p)]) == 2
    assert "bad.jsonl:2: malformed JSON" in capsys.readouterr().err


def test_edn_history_is_accepted(tmp_path):
    p = tmp_path / "h.edn"
    p.write_text("{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n"
                 "{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 0}\n")
    assert main(["check", "linearizable", str(p)]) == 1


def test_run_writes_history_report_and_timeline_around_the_violation(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["check", "run", "--target", "sqlite-stale-cache", "--workload", "register", "--seed", "3",
                 "--examples", "2", "--out", str(out)])
    assert code == 1
    report = (out / "report.md").read_text()
    assert "First violation: linearizable" in report and "timeline.png" in report
    assert (out / "timeline.png").stat().st_size > 10_000
    assert main(["check", "linearizable", str(out / "history.jsonl"), "--model", "cas-register"]) == 1


def test_run_on_a_simulated_store_reports_its_fault_schedule(tmp_path):
    out = tmp_path / "o"
    code = main(["check", "run", "--target", "control-vclock", "--seed", "4", "--examples", "1",
                 "--processes", "3", "--ops", "8", "--checks", "no-lost-writes,convergence", "--out", str(out)])
    assert code == 0
    assert "## Fault schedule" in (out / "report.md").read_text()


def test_run_on_a_sound_store_exits_0(tmp_path):
    assert main(["check", "run", "--target", "sqlite", "--seed", "1", "--examples", "2", "--out", str(tmp_path / "o")]) == 0


@pytest.mark.heavy
def test_run_shrinks_a_simulated_failure_to_a_minimal_schedule(tmp_path, capsys):
    out = tmp_path / "o"
    code = main(["check", "run", "--target", "control-broken", "--seed", "2", "--examples", "5",
                 "--processes", "3", "--ops", "8", "--checks", "no-lost-writes", "--out", str(out)])
    assert code == 1
    report = (out / "report.md").read_text()
    assert "(no faults)" in report  # shrunk: the broken merge needs no fault at all
