"""End to end: the README's main job writes results and a report people can open."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from conftest import in_ci


def test_scenario_suite_writes_results_and_an_html_report_with_plots(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "minisys", "scenario", "run", "--all", "--scale", "tiny",
         "--repeat", "1", "--warmup", "0", "--quiet", "--out", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "kv-ingest" in res.stdout and "report:" in res.stdout
    run_dir = tmp_path / "latest"
    index = run_dir / "report" / "index.html"
    html = index.read_text()
    images = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert images, "the report embeds no plots"
    for src in images:
        png = (index.parent / src).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    systems = {r["system"] for r in json.loads((run_dir / "results.json").read_text()) if r["scenario"] == "kv-ingest"}
    assert {"sqlite", "duckdb"} <= systems
    if in_ci():  # .ci/run started Postgres: it must be in the comparison, not skipped
        assert "postgres" in systems
        assert "postgres" in html
