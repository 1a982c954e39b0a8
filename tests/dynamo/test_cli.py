"""`minisys dynamo cluster up/down` and `leave`: the commands a user types."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from minisys.dynamo.localcluster import free_ports


def _minisys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minisys", *args], capture_output=True, text=True, timeout=120)


def test_dynamo_help_lists_serve_cluster_and_leave():
    out = _minisys("dynamo", "--help").stdout
    assert "serve" in out and "cluster" in out and "leave" in out


def test_bad_quorum_is_a_one_line_error(tmp_path):
    res = _minisys("dynamo", "serve", "--node-id", "x", "--port", "1", "--data-dir", str(tmp_path), "--r", "4")
    assert res.returncode == 2 and "r=4: must be between 1 and n=3" in res.stderr


@pytest.mark.heavy
def test_cluster_up_serves_puts_and_gets_then_down_stops_every_process(tmp_path):
    base = min(free_ports(1)[0], 60000)
    up = _minisys("dynamo", "cluster", "up", "--nodes", "3", "--base-port", str(base), "--data-dir", str(tmp_path))
    try:
        assert up.returncode == 0, up.stderr
        req = urllib.request.Request(f"http://127.0.0.1:{base}/kv/cart", data=b"milk", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["context"]
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 2}/kv/cart", timeout=10) as resp:
            assert json.loads(resp.read())["siblings"] == ["milk"]
        assert _minisys("dynamo", "cluster", "up", "--nodes", "3", "--base-port", str(base),
                        "--data-dir", str(tmp_path)).returncode == 2  # already up there
    finally:
        down = _minisys("dynamo", "cluster", "down", "--data-dir", str(tmp_path))
    assert "stopped 3 node(s)" in down.stdout
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{base}/status", timeout=2)
