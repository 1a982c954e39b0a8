"""The master as a ``minisys.net`` node (paper §3.1-§3.3): the protocol over HTTP.

The handlers are thin: each hands the message to the :class:`JobDriver`
(and through it to the current step's master state machine) with the wall
clock. A background loop declares silent workers failed (§3.3). Workers pull
work -- a ``RequestTask`` when idle, a ``Ping`` every ``ping_interval`` --
so the master needs no address book of its own, only the URL each worker
reports for serving its map output.

Master failure (§3.3): there is one master and no checkpoint. If it dies,
workers find it unreachable, give up after ``MASTER_LOST_AFTER`` seconds and
exit; no ``_SUCCESS`` is ever written, and the client may run the job again.
"""

from __future__ import annotations

from typing import Any

from minisys.mapreduce.driver import JobDriver
from minisys.mapreduce.messages import (
    Ack,
    Assignment,
    MapDone,
    Ping,
    Pong,
    ReduceDone,
    RequestTask,
    TaskFailed,
)
from minisys.net import Node, Transport, handler

#: How often the master looks for silent workers (seconds).
CHECK_INTERVAL = 0.25


class MasterNode(Node):
    def __init__(self, transport: Transport, driver: JobDriver) -> None:
        super().__init__(transport)
        self.driver = driver

    async def start(self) -> None:
        self.spawn(self.detect_failures(), name="failure-detector")

    async def detect_failures(self) -> None:
        while True:
            await self.sleep(CHECK_INTERVAL)
            self.driver.check_workers(self.now())

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        return Pong(self.driver.ping(msg.worker, msg.url, self.now()))

    @handler
    async def on_request_task(self, msg: RequestTask, sender: str) -> Assignment:
        spec = self.driver.request_task(msg.worker, msg.url, self.now())
        return Assignment(spec, self.driver.ping(msg.worker, msg.url, self.now()))

    @handler
    async def on_task_result(self, msg: MapDone | ReduceDone | TaskFailed, sender: str) -> Ack:
        return Ack(self.driver.deliver(msg, self.now()))

    def status(self) -> dict[str, Any]:
        return self.driver.status(self.now())
