"""``minisys log`` end to end: a real broker process, driven from the shell."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

MINISYS = [sys.executable, "-m", "minisys"]


@pytest.fixture
def broker(tmp_path: Path):
    proc = subprocess.Popen([*MINISYS, "log", "serve", "--port", "0", "--data-dir", str(tmp_path / "data"),
                             "--flush-ms", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    address = re.search(r" on (\S+:\d+),", line)
    assert address, line
    yield address.group(1), proc, tmp_path / "data"
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def log_cmd(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*MINISYS, "log", *args], input=stdin, capture_output=True, text=True)


def test_serve_create_produce_consume_and_offsets_from_the_shell(broker) -> None:
    address, _, _ = broker
    assert log_cmd("create-topic", "events", "--partitions", "2", "--broker", address).returncode == 0
    produced = log_cmd("produce", "events", "--partition", "1", "--broker", address, stdin="a\nb\nc\n")
    assert produced.returncode == 0 and "produced 3 messages" in produced.stderr
    consumed = log_cmd("consume", "events", "--broker", address, "-n", "3", "--show-offsets", "--group", "cli")
    assert consumed.stdout.splitlines() == ["1:0\ta", "1:1\tb", "1:2\tc"]
    offsets = log_cmd("offsets", "events", "--broker", address)
    assert offsets.stdout.splitlines() == ["events/0\tstart 0\tend 0", "events/1\tstart 0\tend 3"]
    again = log_cmd("consume", "events", "--broker", address, "--group", "cli", "--timeout", "0.5")
    assert again.stdout == ""  # the group committed its offsets: nothing new


def test_shell_errors_are_one_line_and_the_broker_keeps_serving(broker) -> None:
    address, proc, _ = broker
    unknown = log_cmd("offsets", "nope", "--broker", address)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "minisys: error: unknown topic 'nope'"
    bad = log_cmd("create-topic", "x", "--partitions", "0", "--broker", address)
    assert bad.returncode == 2 and "partitions must be 1..10000" in bad.stderr
    down = log_cmd("offsets", "x", "--broker", "127.0.0.1:1")
    assert down.returncode == 2 and "does not answer" in down.stderr
    assert proc.poll() is None
    assert log_cmd("create-topic", "ok", "--broker", address).returncode == 0


def test_sigterm_flushes_and_closes_the_broker_cleanly(broker) -> None:
    address, proc, data = broker
    log_cmd("create-topic", "t", "--broker", address)
    log_cmd("produce", "t", "--broker", address, stdin="".join(f"{i}\n" for i in range(100)))
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait() == 0
    assert json.loads((data / "topics.json").read_text()) == {"t": 1}
    assert (data / "t-0" / "00000000000000000000.log").stat().st_size == sum(9 + len(str(i)) for i in range(100))
