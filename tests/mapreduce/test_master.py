"""The master's state machine (paper §3.2, §3.3, §3.6, §4.6, §4.9), driven step by step."""

from __future__ import annotations

from minisys.mapreduce.master import Master, MasterConfig, State
from minisys.mapreduce.messages import MapDone, ReduceDone, Region, Split, TaskFailed


def master(maps: int = 3, reduces: int = 2, **config: object) -> Master:
    splits = [Split(f"/in/{i}", 0, 10, "text") for i in range(maps)]
    cfg = MasterConfig(reduce_tasks=reduces, **config)  # type: ignore[arg-type]
    return Master("mod:Job", None, splits, cfg, "/out", now=0.0)


def map_done(m: Master, spec, worker: str, counters=None) -> bool:
    regions = [Region(spec.task, worker, f"http://{worker}", f"/{worker}/m{spec.task}/r{r}", 10 + r, 1)
               for r in range(spec.reduce_tasks)]
    return m.map_done(MapDone(worker, spec.task, spec.attempt, 0, regions, counters or {"g": {"n": 1}}, 10, 20), 1.0)


def reduce_done(m: Master, spec, worker: str, counters=None) -> bool:
    return m.reduce_done(ReduceDone(worker, spec.task, spec.attempt, 0, counters or {"g": {"r": 1}}, 5, 5), 2.0)


def failed(spec, worker: str, record: int | None = 7, **kw) -> TaskFailed:
    return TaskFailed(worker, spec.task, spec.attempt, 0, spec.kind, "ValueError: boom", record, "file at byte 70",
                      kw.get("fatal", False), kw.get("lost", False))


def run_maps(m: Master, worker: str = "a") -> None:
    while m.phase() == "map":
        spec = m.request_task(worker, "", 0.5)
        assert spec is not None and spec.kind == "map"
        assert map_done(m, spec, worker)


def test_task_states_go_idle_in_progress_completed_with_the_worker_identity():
    m = master()
    assert [t.state for t in m.maps] == [State.IDLE] * 3
    spec = m.request_task("a", "http://a", 0.0)
    assert (m.maps[0].state, m.maps[0].worker) == (State.IN_PROGRESS, "a")
    map_done(m, spec, "a")
    assert (m.maps[0].state, m.maps[0].worker) == (State.COMPLETED, "a")


def test_master_keeps_location_and_size_of_each_region_of_a_completed_map_task():
    m = master(maps=1, reduces=3)
    spec = m.request_task("a", "http://a", 0.0)
    map_done(m, spec, "a")
    assert [(r.path, r.size) for r in m.maps[0].regions] == [("/a/m0/r0", 10), ("/a/m0/r1", 11), ("/a/m0/r2", 12)]
    reduce_spec = m.request_task("b", "http://b", 1.0)
    assert reduce_spec.kind == "reduce"
    assert [r.path for r in reduce_spec.regions] == [f"/a/m0/r{reduce_spec.task}"]


def test_reduce_tasks_are_not_assigned_until_every_map_task_completed():
    m = master(maps=2)
    first = m.request_task("a", "", 0.0)
    m.request_task("b", "", 0.0)
    map_done(m, first, "a")
    assert m.request_task("a", "", 0.1) is None  # the other map is still running: wait
    assert m.phase() == "map"


def test_completed_map_tasks_of_a_failed_worker_are_reexecuted():
    m = master(maps=2)
    run_maps(m, "a")
    m.ping("b", "", 6.0)
    assert m.check_workers(6.0) == ["a"]  # a went silent for longer than ping_timeout
    assert all(t.state is State.IDLE for t in m.maps)
    assert all(t.regions == [] for t in m.maps)
    assert m.workers["a"].failed
    spec = m.request_task("c", "", 10.0)
    assert spec.kind == "map"  # back to the map phase


def test_in_progress_tasks_of_a_failed_worker_go_back_to_idle():
    m = master()
    m.request_task("a", "", 0.0)
    m.request_task("b", "", 0.0)
    m.ping("b", "", 5.0)
    assert m.check_workers(6.0) == ["a"]
    assert m.maps[0].state is State.IDLE and m.maps[1].state is State.IN_PROGRESS
    assert m.attempts[0].outcome == "lost"


def test_completed_reduce_tasks_of_a_failed_worker_are_not_reexecuted():
    m = master(maps=1, reduces=2)
    run_maps(m, "b")
    r0 = m.request_task("a", "", 1.0)
    reduce_done(m, r0, "a")
    m.worker_failed("a", 3.0)
    assert m.reduces[r0.task].state is State.COMPLETED
    assert m.maps[0].state is State.COMPLETED  # b's map output is still there


def test_duplicate_completion_messages_are_ignored():
    m = master(maps=1)
    spec = m.request_task("a", "", 0.0)
    assert map_done(m, spec, "a")
    assert not map_done(m, spec, "a")
    assert m.maps[0].regions[0].worker == "a"
    assert m.attempts[0].outcome == "completed"


def test_completion_from_a_worker_declared_failed_is_ignored():
    m = master(maps=1)
    spec = m.request_task("a", "", 0.0)
    m.worker_failed("a", 1.0)
    assert not map_done(m, spec, "a")
    assert m.maps[0].state is State.IDLE
    assert m.ping("a", "", 2.0) == "evicted"


def test_backup_task_is_launched_for_a_straggler_near_the_end_of_a_phase():
    m = master(maps=3, backup_min_seconds=0.5)
    specs = [m.request_task(w, "", 0.0) for w in ("a", "b", "c")]
    for spec, w in zip(specs[:2], ("a", "b"), strict=True):
        m.map_done(MapDone(w, spec.task, spec.attempt, 0, [Region(spec.task, w, "", "/x", 1, 1)] * 2, {}, 1, 1), 1.0)
    assert m.request_task("a", "", 2.0) is None  # c has run 2 s, 2x the median: not yet a straggler
    backup = m.request_task("a", "", 3.5)  # 3.5 s > 3x the 1 s median
    assert backup is not None and backup.task == specs[2].task and m.attempts[-1].backup
    # Whichever copy finishes first wins; the other's completion is ignored.
    assert map_done(m, backup, "a")
    assert not map_done(m, specs[2], "c")
    assert m.phase() == "reduce"


def test_no_backup_tasks_without_stragglers_or_when_disabled():
    m = master(maps=2, backup_tasks=False)
    a = m.request_task("a", "", 0.0)
    m.request_task("b", "", 0.0)
    map_done(m, a, "a")
    assert m.request_task("a", "", 100.0) is None
    m2 = master(maps=2)
    a = m2.request_task("a", "", 0.0)
    m2.request_task("b", "", 0.0)
    m2.map_done(MapDone("a", a.task, a.attempt, 0, [], {}, 1, 1), 0.1)
    assert m2.request_task("a", "", 0.5) is None  # below backup_min_seconds
    assert not any(x.backup for x in m2.attempts)


def test_a_record_that_failed_more_than_once_is_skipped_on_reexecution():
    m = master(maps=1, skip_bad_records=True)
    for _ in range(2):
        spec = m.request_task("a", "", 0.0)
        assert spec.skip == []
        m.task_failed(failed(spec, "a", record=7), 0.1)
    spec = m.request_task("a", "", 0.2)
    assert spec.skip == [7]
    assert m.error is None


def test_without_skipping_repeated_failures_abort_the_job_naming_task_and_record():
    m = master(maps=1, max_failures=3)
    for _ in range(3):
        spec = m.request_task("a", "", 0.0)
        m.task_failed(failed(spec, "a", record=7), 0.1)
    assert m.state == "failed"
    assert "map task 0" in m.error and "record 7" in m.error and "file at byte 70" in m.error and "boom" in m.error


def test_fatal_errors_abort_at_once_and_lost_input_is_not_a_failure():
    m = master(maps=1)
    spec = m.request_task("a", "", 0.0)
    m.task_failed(failed(spec, "a", lost=True), 0.1)
    assert m.error is None and m.maps[0].failures == 0 and m.maps[0].state is State.IDLE
    spec = m.request_task("a", "", 0.2)
    m.task_failed(failed(spec, "a", fatal=True), 0.3)
    assert m.state == "failed"


def test_counters_count_each_task_once_under_reexecution_and_backups():
    m = master(maps=2, reduces=1)
    run_maps(m, "a")
    m.ping("b", "", 1.0)
    m.worker_failed("a", 1.0)  # both maps re-executed on b
    run_maps(m, "b")
    spec = m.request_task("b", "", 2.0)
    reduce_done(m, spec, "b")
    assert not reduce_done(m, spec, "b")  # a duplicate completion adds nothing
    assert m.counters() == {"g": {"n": 2, "r": 1}}
    assert m.done


def test_a_reducer_that_cannot_reach_a_silent_map_worker_gets_it_declared_failed():
    m = master(maps=1, reduces=1)
    run_maps(m, "a")
    spec = m.request_task("b", "", 0.6)
    lost = TaskFailed("b", spec.task, spec.attempt, 0, "reduce", "cannot fetch", None, "a", False, True)
    m.ping("a", "", 0.9)
    m.task_failed(lost, 1.0)  # a pinged 0.1 s ago: not enough evidence, wait for the ping timeout
    assert not m.workers["a"].failed
    spec = m.request_task("b", "", 2.5)
    m.task_failed(TaskFailed("b", spec.task, spec.attempt, 0, "reduce", "cannot fetch", None, "a", False, True), 2.5)
    assert m.workers["a"].failed and m.maps[0].state is State.IDLE  # re-executed without waiting 5 s
    assert m.reduces[0].failures == 0
