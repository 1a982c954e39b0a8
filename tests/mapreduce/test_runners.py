"""The same Job on every runner (§3.1, §3.3, §4.6, §4.7, §4.9): equal output, failures survived."""

from __future__ import annotations

import asyncio
import os
import random
import signal
from pathlib import Path

import pytest

from minisys.errors import BadInput
from minisys.mapreduce import JobFailed, MasterConfig, run
from minisys.mapreduce.driver import JobDriver
from minisys.mapreduce.runners.inline import run_inline
from minisys.mapreduce.runners.local import LocalRunner

from .conftest import write_text

JOBS = "mr_testjobs"


def parts(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("part-*"))}


def inline(job: str, inputs: list[Path], out: Path, **kw) -> dict[str, bytes]:
    result = run(job, inputs, out, runner="inline", **kw)
    assert (out / "_SUCCESS").exists()
    return parts(out) | {"_counters": repr(result.counters).encode()}


def test_reducer_sees_keys_in_increasing_order_within_each_partition(tmp_path, text_file):
    result = run(f"{JOBS}:WordCount", [text_file], tmp_path / "out", reduce_tasks=3, split_mb=0.05)
    assert len(result.parts) == 3
    for part in result.parts:
        keys = [line.split("\t")[0] for line in part.read_text().splitlines()]
        assert keys == sorted(keys)
    assert sum(v for _, v in result.pairs()) == 20_000 * 8


@pytest.mark.parametrize("job", ["WordCount", "TopWords"])
def test_local_runner_output_equals_inline_byte_for_byte(tmp_path, text_file, job):
    kw = {"reduce_tasks": 3, "split_mb": 0.03, "spill_records": 2000}
    expected = inline(f"{JOBS}:{job}", [text_file], tmp_path / "inline", **kw)
    result = run(f"{JOBS}:{job}", [text_file], tmp_path / "local", runner="local", workers=2, **kw)
    assert parts(result.output) | {"_counters": repr(result.counters).encode()} == expected


def test_cluster_runner_fetches_map_output_over_http_and_matches_inline(tmp_path, text_file):
    kw = {"reduce_tasks": 2, "split_mb": 0.05}
    expected = inline(f"{JOBS}:WordCount", [text_file], tmp_path / "inline", **kw)
    result = run(f"{JOBS}:WordCount", [text_file], tmp_path / "cluster", runner="cluster", workers=2, **kw)
    assert parts(result.output) | {"_counters": repr(result.counters).encode()} == expected
    map_workers = {a["worker"] for a in result.attempts if a["kind"] == "map"}
    reduce_workers = {a["worker"] for a in result.attempts if a["kind"] == "reduce"}
    assert map_workers - reduce_workers or len(map_workers) > 1  # some region crossed between processes


def test_map_tasks_run_in_parallel_on_two_workers_and_each_runs_exactly_once(tmp_path):
    text = write_text(tmp_path / "in.txt", 4000)
    result = run(f"{JOBS}:SlowWordCount", [text], tmp_path / "out", runner="local", workers=2,
                 split_mb=0.01, args={"sleep": "0.001"})
    maps = [a for a in result.attempts if a["kind"] == "map"]
    assert {a["worker"] for a in maps} == {"w1", "w2"}
    overlapping = any(a["worker"] != b["worker"] and a["started"] < b["finished"] and b["started"] < a["finished"]
                      for a in maps for b in maps)
    assert overlapping
    # Without failures, no spurious backups: every map task ran exactly once.
    assert sorted(a["task"] for a in maps) == list(range(len(maps)))
    assert not any(a["backup"] for a in result.attempts)


async def test_sigkilled_workers_are_replaced_and_output_equals_inline(tmp_path):
    text = write_text(tmp_path / "in.txt", 6000)
    kw = {"reduce_tasks": 3, "split_mb": 0.01}
    expected = inline(f"{JOBS}:SlowWordCount", [text], tmp_path / "inline", args={"sleep": "0.0005"}, **kw)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    driver = JobDriver(f"{JOBS}:SlowWordCount", [text], tmp_path / "local",
                       MasterConfig(reduce_tasks=3, ping_timeout=1.5), split_mb=0.01, args={"sleep": "0.0005"})
    runner = LocalRunner(driver, workers=2)
    killed = []

    async def chaos() -> None:
        for n in range(3):
            await asyncio.sleep(rng.uniform(0.2, 0.6) if n == 0 else rng.uniform(0.3, 1.2))
            if driver.state != "running" or not runner.processes:
                return
            victim = rng.choice(sorted(runner.processes))
            os.kill(runner.processes[victim].pid, signal.SIGKILL)
            killed.append(victim)

    result, _ = await asyncio.gather(runner.run_async(), chaos())
    assert killed, f"seed {seed}: the job ended before any kill"
    assert parts(result.output) | {"_counters": repr(result.counters).encode()} == expected, f"seed {seed}"
    assert set(killed) <= set(result.failed_workers) | set(runner.exited)


async def test_no_process_reports_the_job_done_before_all_outputs_are_final(tmp_path, text_file):
    driver = JobDriver(f"{JOBS}:WordCount", [text_file], tmp_path / "out", MasterConfig(reduce_tasks=4),
                       split_mb=0.05)
    runner = LocalRunner(driver, workers=2)
    observations = []

    async def watch() -> None:
        while driver.state == "running" or runner.processes:
            if driver.state == "done" or any(c == 0 for c in runner.exited.values()):
                out = driver.output
                observations.append(((out / "_SUCCESS").exists(), len(list(out.glob("part-*"))),
                                     (out / "_temporary").exists()))
            await asyncio.sleep(0.01)

    result, _ = await asyncio.gather(runner.run_async(), watch())
    assert observations, "never observed the done state"
    assert all(obs == (True, 4, False) for obs in observations)
    assert all(code == 0 for code in runner.exited.values())  # workers exited only after "done"
    assert len(result.parts) == 4


def test_a_bad_record_is_skipped_after_repeated_failures_and_counted(tmp_path):
    text = write_text(tmp_path / "in.txt", 500)
    with open(text, "a") as f:
        f.write("BAD line here\n")
    result = run(f"{JOBS}:Crashy", [text], tmp_path / "out", runner="local", workers=2, skip_bad_records=True)
    assert result.counters["mapreduce"]["skipped_records"] == 1
    assert dict(result.pairs()).get("BAD") is None
    failed = [a for a in result.attempts if a["outcome"] == "failed"]
    assert len(failed) == 2  # the record failed twice; the third attempt skipped it


def test_a_job_raising_is_reported_with_task_and_record_and_leaves_no_output(tmp_path):
    text = write_text(tmp_path / "in.txt", 100)
    with open(text, "a") as f:
        f.write("BAD\n")
    out = tmp_path / "out"
    with pytest.raises(JobFailed) as err:
        run(f"{JOBS}:Crashy", [text], out, runner="inline", max_failures=2)
    msg = str(err.value)
    assert "map task 0" in msg and "record 100" in msg and "in.txt at byte" in msg
    assert "ValueError: cannot parse this line" in msg and "mr_testjobs.py" in msg
    assert "\n" not in msg
    assert not out.exists()


def test_counters_are_summed_over_successful_tasks_only(tmp_path, text_file):
    result = run(f"{JOBS}:CountingWordCount", [text_file], tmp_path / "out", split_mb=0.05, reduce_tasks=2)
    assert result.counters["test"]["lines"] == 20_000
    assert result.counters["mapreduce"]["map_input_records"] == 20_000
    assert result.counters["test"]["reduce_calls"] == result.counters["mapreduce"]["reduce_input_groups"]


@pytest.mark.parametrize(("inputs", "output", "message"), [
    (["missing.txt"], "out", "input .*missing.txt: no such file"),
    (["in.txt"], "in.txt/out", "output .*cannot write there"),
    (["in.txt"], "full", "output .*full: directory exists and is not empty"),
])
def test_bad_input_paths_are_one_line_errors(tmp_path, inputs, output, message):
    write_text(tmp_path / "in.txt", 10)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BadInput, match=message):
        run(f"{JOBS}:WordCount", [tmp_path / i for i in inputs], tmp_path / output)


def test_unknown_job_path_is_a_clear_error(tmp_path, text_file):
    with pytest.raises(BadInput, match="cannot import no_such_module"):
        run("no_such_module:Job", [text_file], tmp_path / "out")
    with pytest.raises(BadInput, match="has no Job subclass named Nope"):
        run(f"{JOBS}:Nope", [text_file], tmp_path / "out")


def test_unserialisable_output_is_a_fatal_error_naming_the_rule(tmp_path, text_file):
    with pytest.raises(JobFailed, match="JSON-serialisable"):
        run(f"{JOBS}:Unserialisable", [text_file], tmp_path / "out")


def test_inline_runner_runs_in_this_process_so_a_breakpoint_in_map_works(tmp_path, text_file):
    import mr_testjobs

    calls = []
    original = mr_testjobs.WordCount.map

    def traced_map(self, key, line):
        calls.append(key)  # runs in the test's own process
        yield from original(self, key, line)

    mr_testjobs.WordCount.map = traced_map
    try:
        driver = JobDriver(f"{JOBS}:WordCount", [text_file], tmp_path / "out")
        run_inline(driver)
    finally:
        mr_testjobs.WordCount.map = original
    assert len(calls) == 20_000


@pytest.mark.heavy
@pytest.mark.parametrize("runner_kind", ["local", "cluster"])
async def test_many_sigkills_at_random_moments_on_every_process_runner_output_equals_inline(tmp_path, runner_kind):
    """The acceptance run: repeated SIGKILLs of map and reduce workers, with HTTP shuffle too,
    where a reducer can find its region's worker gone (§3.3: the map task is re-executed)."""
    text = write_text(tmp_path / "in.txt", 8000)
    kw = {"reduce_tasks": 4, "split_mb": 0.01}
    expected = inline(f"{JOBS}:SlowWordCount", [text], tmp_path / "inline", args={"sleep": "0.001"}, **kw)
    kills = []
    for trial in range(2):
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        driver = JobDriver(f"{JOBS}:SlowWordCount", [text], tmp_path / f"{runner_kind}{trial}",
                           MasterConfig(reduce_tasks=4, ping_timeout=1.0), split_mb=0.01, args={"sleep": "0.001"})
        runner = LocalRunner(driver, workers=3, shuffle="local" if runner_kind == "local" else "http")

        async def chaos(driver: JobDriver, runner: LocalRunner, rng: random.Random) -> None:
            pause = rng.uniform(0.2, 0.8)  # the first kill comes early, so every trial has one
            while driver.state == "running":
                await asyncio.sleep(pause)
                pause = rng.uniform(0.5, 2.5)
                if driver.state == "running" and runner.processes:
                    os.kill(runner.processes[rng.choice(sorted(runner.processes))].pid, signal.SIGKILL)
                    kills.append(runner.master_url)

        result, _ = await asyncio.gather(runner.run_async(), chaos(driver, runner, rng))
        got = parts(result.output) | {"_counters": repr(result.counters).encode()}
        assert got == expected, f"seed {seed}"
    assert kills, "no worker was killed: the jobs ended too soon"


async def test_local_runner_can_be_called_from_inside_a_running_event_loop(tmp_path, text_file):
    """As in a Jupyter notebook, where an event loop is always running."""
    result = run(f"{JOBS}:WordCount", [text_file], tmp_path / "out", runner="local", split_mb=0.1)
    assert sum(v for _, v in result.pairs()) == 20_000 * 8
