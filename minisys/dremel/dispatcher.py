"""The query dispatcher (Dremel §6): slots, straggler re-dispatch, partial results.

Every leaf offers a number of *slots* (threads in the paper: 3,000 leaves x 8
threads = 24,000 slots). The dispatcher hands tablets to free slots, keeps a
histogram of the times of finished tablets, and when a tablet has run longer
than ``straggler_factor`` times the median it hands the same tablet to a slot
on another leaf — a replica — and takes whichever answer comes first. With
``min_fraction`` below 1 it stops once that share of its tablets is done; the
caller then reports the result as partial ("return after 98% of tablets").
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import deque
from collections.abc import Sequence

from minisys.dremel.messages import ScanTablet, ScanTablets, decode_partial
from minisys.dremel.query.executor import Partial
from minisys.errors import BadInput, ServiceUnavailable
from minisys.net import Node, RemoteError, RpcTimeout, Unreachable

CALL_TIMEOUT = 3600.0


class Dispatcher:
    """The query dispatcher (§6): slots, straggler re-dispatch, partial completion."""

    poll = 0.005

    def __init__(self, node: Node, leaves: Sequence[str], slots_per_leaf: int, straggler_factor: float) -> None:
        self.node = node
        self.leaves = list(leaves)
        self.slots_per_leaf = slots_per_leaf
        self.straggler_factor = straggler_factor
        self.tablet_seconds: list[float] = []
        self.redispatched = 0

    async def run(self, msg: ScanTablets) -> list[Partial]:
        node = self.node
        total = len(msg.tablets)
        need = min(total, max(1 if total else 0, math.ceil(msg.min_fraction * total - 1e-9)))
        pending = deque(msg.tablets)
        running: dict[int, list[tuple[str, float]]] = {}
        done: dict[int, Partial] = {}
        backups: dict[int, int] = {}
        failure: list[BaseException] = []
        finished = asyncio.Event()
        dead: set[str] = set()
        if need == 0:
            return []

        def next_tablet(leaf: str) -> int | None:
            while pending:
                t = pending.popleft()
                if t not in done:
                    return t
            times = sorted(self.tablet_seconds)
            if not times:
                return None
            threshold = self.straggler_factor * statistics.median(times)
            now = node.now()
            for t, runs in running.items():
                if t in done or any(leaf == other for other, _ in runs) or backups.get(t, 0) >= 2:
                    continue
                if runs and now - min(start for _, start in runs) > threshold:
                    backups[t] = backups.get(t, 0) + 1
                    self.redispatched += 1
                    return t
            return None

        async def slot(leaf: str) -> None:
            while not finished.is_set():
                t = next_tablet(leaf)
                if t is None:
                    if len(done) + len([x for x in running if x not in done]) == 0 and not pending:
                        return
                    await node.sleep(self.poll)
                    continue
                start = node.now()
                running.setdefault(t, []).append((leaf, start))
                try:
                    reply = await node.call(leaf, ScanTablet(msg.sql, msg.table_dir, t), timeout=CALL_TIMEOUT)
                except (Unreachable, RpcTimeout):
                    dead.add(leaf)
                    pending.appendleft(t)  # another replica takes it
                    if len(dead) == len(self.leaves):
                        failure.append(ServiceUnavailable("every leaf server is unreachable"))
                        finished.set()
                    return
                except RemoteError as exc:
                    failure.append(BadInput(f"leaf {leaf}: {exc}"))
                    finished.set()
                    return
                finally:
                    runs = running.get(t, [])
                    if (leaf, start) in runs:
                        runs.remove((leaf, start))
                if t not in done:
                    done[t] = decode_partial(reply)
                    self.tablet_seconds.append(node.now() - start)
                    running.pop(t, None)
                    if len(done) >= need:
                        finished.set()

        tasks = [node.spawn(slot(leaf)) for leaf in self.leaves for _ in range(self.slots_per_leaf)]
        await finished.wait()
        for task in tasks:
            task.cancel()
        if failure:
            raise failure[0]
        return [done[t] for t in msg.tablets if t in done]
