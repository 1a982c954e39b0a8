"""The master's status page (§4.8), served while a job runs and rendered by a real browser."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from minisys.mapreduce import JobFailed, MasterConfig
from minisys.mapreduce.driver import JobDriver
from minisys.mapreduce.runners.local import LocalRunner
from minisys.mapreduce.status import CHROMIUM, chromium

from .conftest import write_text


async def _with_running_job(tmp_path, check) -> None:
    """Run a slow job with the status page on, call ``check(runner)``, then abort the job."""
    text = write_text(tmp_path / "in.txt", 3000)
    driver = JobDriver("mr_testjobs:SlowWordCount", [text], tmp_path / "out", MasterConfig(reduce_tasks=2),
                       split_mb=0.01, args={"sleep": "0.01"})
    runner = LocalRunner(driver, workers=2, status_port=0)

    async def probe() -> None:
        try:
            # Both workers have reached the master (a loaded machine can start one late) and one task runs.
            while runner.status_url is None or not driver.master.attempts or len(driver.master.workers) < 2:
                await asyncio.sleep(0.05)
            await check(runner)
        finally:
            driver.fail("stopped by the test")

    results = await asyncio.gather(runner.run_async(), probe(), return_exceptions=True)
    assert isinstance(results[0], JobFailed), results[0]
    if isinstance(results[1], BaseException):
        raise results[1]


async def test_status_page_shows_tasks_data_workers_and_counters(tmp_path):
    async def check(runner: LocalRunner) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(runner.status_url) as resp:
                page = await resp.text()
            async with session.get(runner.status_url + "status.json") as resp:
                status = await resp.json()
        for heading in ("Tasks", "Data", "In progress", "Workers", "Counters"):
            assert f"<h2>{heading}</h2>" in page
        assert 'http-equiv="refresh"' in page
        assert "map tasks" in page and "intermediate" in page and "w1" in page
        assert status["maps"]["in-progress"] >= 1 and status["job_state"] == "running"

    await _with_running_job(tmp_path, check)


async def test_status_page_renders_in_a_real_browser(tmp_path):
    if not os.path.exists(CHROMIUM):
        # Like the real services (tests/conftest.py): skipped locally, a failure in CI.
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {CHROMIUM} is not installed (apt-get install chromium)", pytrace=False)
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")

    async def check(runner: LocalRunner) -> None:
        dom = await chromium(runner.status_url, "--dump-dom", "--virtual-time-budget=1000")
        assert "<h2>Tasks</h2>" in dom and "MapReduce job" in dom
        assert "in progress" in dom and 'id="state">running<' in dom

    await _with_running_job(tmp_path, check)
