"""The `minisys` command: help everywhere, one-line errors, tracebacks only with --debug."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minisys.cli import main


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minisys", *args], capture_output=True, text=True)


def test_python_dash_m_minisys_prints_help_listing_every_group():
    res = _run("--help")
    assert res.returncode == 0
    for group in ("scenario", "report", "services"):
        assert group in res.stdout


@pytest.mark.parametrize("argv", [["scenario", "--help"], ["scenario", "run", "--help"], ["report", "--help"], ["services", "--help"]])
def test_every_subcommand_has_help(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_unknown_scenario_is_one_line_and_exit_2():
    res = _run("scenario", "run", "no-such-scenario")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "unknown scenario 'no-such-scenario'" in res.stderr and "Traceback" not in res.stderr


def test_bad_scale_is_one_line_and_exit_2(tmp_path):
    res = _run("scenario", "run", "kv-ingest", "--scale", "gigantic", "--out", str(tmp_path))
    assert res.returncode == 2
    assert "unknown scale 'gigantic'" in res.stderr and res.stderr.strip().count("\n") == 0


def test_debug_flag_shows_the_traceback():
    res = _run("--debug", "scenario", "run", "no-such-scenario")
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_unknown_command_is_a_usage_error():
    res = _run("frobnicate")
    assert res.returncode == 2 and "invalid choice" in res.stderr


def test_group_without_subcommand_prints_its_help_and_fails(capsys):
    assert main(["scenario"]) == 2
    assert "run" in capsys.readouterr().err


def test_unreachable_postgres_url_fails_the_run_with_one_line(tmp_path):
    import os

    env = dict(os.environ, MINISYS_POSTGRES_URL="postgresql://postgres@127.0.0.1:1/postgres")
    res = subprocess.run(
        [sys.executable, "-m", "minisys", "scenario", "run", "kv-ingest", "--scale", "tiny", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env,
    )
    assert res.returncode == 2
    assert "cannot reach Postgres at postgresql://postgres@127.0.0.1:1/postgres" in res.stderr
    assert res.stderr.strip().count("\n") == 0 and not list(tmp_path.iterdir())
