"""The cluster runner's master process: ``minisys mapreduce master`` (paper §3.1).

The master listens over ``minisys.net`` HTTP; any number of
``minisys mapreduce worker --master URL`` processes, on this host or others,
join by asking it for tasks, serve their map output to each other, and exit
when the job is done. Input and output paths must be visible to every worker
under the same names (the paper's GFS; here a shared or network file system).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from minisys.mapreduce.driver import JobDriver, RunResult
from minisys.mapreduce.master import MasterConfig
from minisys.mapreduce.master_node import MasterNode
from minisys.mapreduce.worker_node import PING_INTERVAL, TOKEN_ENV
from minisys.net import HttpNetwork

#: After the job ends, how long the master waits for live workers to hear it.
FAREWELL_SECONDS = 4 * PING_INTERVAL


async def serve_master(job: str, inputs: list[str], output: str, *, host: str = "127.0.0.1", port: int = 8400,
                       status_port: int | None = None, token: str | None = None, reduce_tasks: int = 2,
                       split_mb: float = 32.0, input_format: str | None = None, args: dict[str, str] | None = None,
                       **config: Any) -> RunResult:
    driver = JobDriver(job, list(inputs), output, MasterConfig(reduce_tasks=reduce_tasks, **config),
                       split_mb=split_mb, input_format=input_format, args=args)
    token = token or os.environ.get(TOKEN_ENV)
    try:
        async with HttpNetwork(token=token, host=host) as net:
            master = await net.add_node("master", lambda t: MasterNode(t, driver), port=port)
            print(f"master listening on {net.directory['master']} "
                  f"({len(driver.master.maps)} map tasks, {reduce_tasks} reduce tasks)", flush=True)
            status_runner = None
            if status_port is not None:
                from minisys.mapreduce.status import start_status_server

                status_runner, url = await start_status_server(master, host=host, port=status_port)
                print(f"status page on {url}", flush=True)
            try:
                while driver.state == "running":
                    await asyncio.sleep(0.05)
                await asyncio.sleep(FAREWELL_SECONDS)  # let workers learn the job is over and exit
            finally:
                if status_runner is not None:
                    await status_runner.cleanup()
    except (asyncio.CancelledError, KeyboardInterrupt):
        driver.fail("the master was interrupted")  # §3.3: the job aborts with its master
        raise
    finally:
        if driver.state != "done":
            driver.fail("the master stopped before the job completed")
    return driver.finish()
