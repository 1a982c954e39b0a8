from __future__ import annotations

import asyncio

from minisys.net.simloop import VirtualTimeLoop


def test_timers_fire_in_virtual_time_order_and_ties_in_scheduling_order() -> None:
    loop = VirtualTimeLoop()
    fired: list[tuple[float, str]] = []
    for when, name in [(5.0, "late"), (1.0, "first"), (1.0, "second"), (3.0, "middle")]:
        loop.call_at(when, lambda n=name: fired.append((loop.time(), n)))
    loop.call_raw(1.0, lambda: fired.append((loop.time(), "raw")))
    cancelled = loop.call_at(2.0, lambda: fired.append((loop.time(), "cancelled")))
    cancelled.cancel()
    loop.run_until_complete(asyncio.sleep(10.0))
    loop.close()
    assert fired == [(1.0, "first"), (1.0, "second"), (1.0, "raw"), (3.0, "middle"), (5.0, "late")]


def test_eager_task_runs_its_first_step_at_once_inside_a_real_task() -> None:
    loop = VirtualTimeLoop()
    seen: list[object] = []

    async def handler() -> str:
        seen.append(asyncio.current_task())
        return "done"

    def start() -> None:
        task = loop.start_eager(handler())
        seen.append(task)
        seen.append(task.done() and task.result())

    loop.call_soon(start)
    loop.run_until_complete(asyncio.sleep(0.1))
    loop.close()
    assert seen[0] is seen[1] and seen[2] == "done"
