"""``minisys mapreduce``: run, and a real cluster of master + worker processes (§3.1, §3.3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import write_text

MINISYS = [sys.executable, "-m", "minisys"]
HERE = Path(__file__).parent


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MINISYS, "mapreduce", *args], capture_output=True, text=True, env=env(), cwd=cwd)


def test_run_writes_parts_success_and_counters(tmp_path):
    text = write_text(tmp_path / "in.txt", 2000)
    out = tmp_path / "out"
    proc = cli("run", "minisys.mapreduce.examples.wordcount:WordCount", "--input", str(text), "--output", str(out),
               "--runner", "local", "--workers", "2", "--reduce-tasks", "3", "--split-mb", "0.01")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "_counters.json", "part-00000", "part-00001",
                                                     "part-00002"]
    assert '"map_input_records": 2000' in proc.stdout


def test_job_given_as_a_file_path_runs(tmp_path):
    job = tmp_path / "myjob.py"
    job.write_text("from minisys.mapreduce import Job\n\nclass Lines(Job):\n"
                   "    def map(self, k, line):\n        yield 'lines', 1\n"
                   "    def reduce(self, k, ones):\n        yield k, sum(ones)\n")
    text = write_text(tmp_path / "in.txt", 50)
    proc = cli("run", f"{job}:Lines", "-i", str(text), "-o", str(tmp_path / "out"), "-r", "local")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "part-00000").read_text() + (tmp_path / "out" / "part-00001").read_text() \
        == '"lines"\t50\n'


def test_bad_invocations_are_one_line_errors(tmp_path):
    text = write_text(tmp_path / "in.txt", 10)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    cases = [
        (["no.such.module:Job"], "cannot import no.such.module"),
        (["minisys.mapreduce.examples.wordcount:WordCount", "-i", str(tmp_path / "bad.jsonl")],
         "bad.jsonl: line at byte 0 is not valid JSON"),
        (["minisys.mapreduce.examples.wordcount:WordCount", "-o", str(text / "out")], "cannot write there"),
        (["mr_testjobs:Crashy", "-i", str(text), "--arg", "x"], "--arg 'x': expected name=value"),
    ]
    for extra, message in cases:
        args = ["run", extra[0], "-i", str(text), "-o", str(tmp_path / "out"), "-r", "inline", *extra[1:]]
        proc = cli(*args)
        assert proc.returncode == 2, (extra, proc.stderr)
        assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
        assert not (tmp_path / "out").exists()


def _start_master(tmp_path: Path, text: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    master = subprocess.Popen(
        [*MINISYS, "mapreduce", "master", "mr_testjobs:SlowWordCount", "-i", str(text), "-o", str(tmp_path / "out"),
         "--port", "0", "--split-mb", "0.01", "--ping-timeout", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    line = master.stdout.readline()
    assert line.startswith("master listening on "), line + master.stderr.read()
    return master, line.split()[3]


def test_cluster_master_and_worker_processes_run_a_job_and_workers_exit_when_done(tmp_path):
    text = write_text(tmp_path / "in.txt", 2000)
    master, url = _start_master(tmp_path, text, "--token", "s3cret")
    worker_env = {**env(), "MINISYS_MAPREDUCE_TOKEN": "s3cret"}
    workers = [subprocess.Popen([*MINISYS, "mapreduce", "worker", "--master", url], env=worker_env,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    # A worker without the shared token is refused (401) and gives up: it never gets a task.
    rogue = subprocess.Popen([*MINISYS, "mapreduce", "worker", "--master", url, "--master-timeout", "1"],
                             env=env(), stderr=subprocess.PIPE, text=True)
    try:
        assert [w.wait(timeout=120) for w in workers] == [0, 0]
        assert master.wait(timeout=60) == 0, master.stderr.read()
        assert rogue.wait(timeout=60) == 3
    finally:
        for p in (master, *workers, rogue):
            p.kill()
            p.wait()
    assert (tmp_path / "out" / "_SUCCESS").exists()
    assert sum(int(line.split("\t")[1]) for p in (tmp_path / "out").glob("part-*")
               for line in p.read_text().splitlines()) == 2000 * 8


def test_job_aborts_cleanly_when_the_master_dies(tmp_path):
    text = write_text(tmp_path / "in.txt", 20000)
    master, url = _start_master(tmp_path, text)
    worker = subprocess.Popen([*MINISYS, "mapreduce", "worker", "--master", url, "--master-timeout", "2"], env=env(),
                              stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        master.send_signal(signal.SIGKILL)
        master.wait()
        assert worker.wait(timeout=60) == 3
        assert "master-lost" in worker.stderr.read()
    finally:
        for p in (master, worker):
            p.kill()
            p.wait()
    assert not (tmp_path / "out" / "_SUCCESS").exists()
