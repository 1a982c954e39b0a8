"""The master's status page (paper §4.8).

"The master runs an internal HTTP server and exports a set of status pages
for human consumption. The status pages show the progress of the
computation, such as how many tasks have been completed, how many are in
progress, bytes of input, bytes of intermediate data, bytes of output,
processing rates, etc. ... The top-level status page shows which workers
have failed, and which map and reduce tasks they were processing when they
failed." The page refreshes itself every two seconds; ``/status.json`` has
the same data for scripts.
"""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web

REFRESH_SECONDS = 2


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.1f} kB"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body or '<tr><td colspan=9>none</td></tr>'}</table>"


def render(status: dict[str, Any]) -> str:
    """The HTML page for one status snapshot (MasterNode.status())."""
    s = status
    elapsed = max(s["elapsed_s"], 1e-9)
    tasks = _table(
        ["", "idle", "in progress", "completed"],
        [[kind, s[key]["idle"], s[key]["in-progress"], s[key]["completed"]] for kind, key in
         (("map tasks", "maps"), ("reduce tasks", "reduces"))],
    )
    data = _table(
        ["", "bytes", "rate"],
        [["input", _mb(s["input_bytes"]), _mb(s["input_bytes"] / elapsed) + "/s"],
         ["intermediate", _mb(s["intermediate_bytes"]), _mb(s["intermediate_bytes"] / elapsed) + "/s"],
         ["output", _mb(s["output_bytes"]), _mb(s["output_bytes"] / elapsed) + "/s"]],
    )
    running = _table(
        ["task", "attempt", "worker", "running for", "backup"],
        [[f"{r['kind']} {r['task']}", r["attempt"], r["worker"], f"{r['elapsed_s']:.1f} s",
          "yes" if r["backup"] else ""] for r in s["running"]],
    )
    workers = _table(
        ["worker", "url", "state", "last ping", "tasks run"],
        [[w, i["url"], "FAILED" if i["failed"] else "alive", f"{i['last_seen_s']:.1f} s ago",
          ", ".join(i["ran"][-8:]) + (" ..." if len(i["ran"]) > 8 else "")]
         for w, i in s["workers"].items()],
    )
    counters = _table(
        ["group", "counter", "value"],
        [[g, n, f"{v:,}"] for g, vals in s["counters"].items() for n, v in vals.items()],
    )
    error = f"<p class=err>{html.escape(s['error'])}</p>" if s.get("error") else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>MapReduce: {html.escape(s['job'])}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: .4em 0 1.2em; }}
td, th {{ border: 1px solid #ccc; padding: .25em .7em; text-align: left; }}
th {{ background: #f0f0f0; }} .err {{ color: #b00; font-weight: bold; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.05em; margin-bottom: .2em; }}
</style></head><body>
<h1>MapReduce job <code>{html.escape(s['job'])}</code></h1>
<p>state <b id="state">{html.escape(s['job_state'])}</b> &middot; step {s['step'] + 1} of {s['steps']} &middot;
phase {html.escape(s['phase'])} &middot; {elapsed:,.1f} s elapsed &middot; backups launched {s['backups']}
&middot; records skipped {s['skipped_records']} &middot; output <code>{html.escape(s['output'])}</code></p>
{error}
<h2>Tasks</h2>{tasks}
<h2>Data</h2>{data}
<h2>In progress</h2>{running}
<h2>Workers</h2>{workers}
<h2>Counters</h2>{counters}
</body></html>
"""


async def start_status_server(master: Any, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve ``master.status()`` at ``/`` (HTML) and ``/status.json``; returns (runner, url)."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=render(master.status()), content_type="text/html")

    async def as_json(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(master.status(), default=str), content_type="application/json")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/status.json", as_json)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    return runner, f"http://{host}:{bound}/"


#: Headless Chromium, as the docs' screenshot and the browser test run it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run")


async def chromium(url: str, *extra: str, timeout: float = 120.0) -> str:
    """Load ``url`` in headless Chromium (fresh profile); returns its stdout."""
    import asyncio
    import tempfile

    with tempfile.TemporaryDirectory(prefix="minisys-chromium-") as profile:
        proc = await asyncio.create_subprocess_exec(
            CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    return out.decode("utf-8", "replace")
