"""``report.md`` and ``index.html``: the same content, two formats.

Both are built from one table model (:func:`summary_table`) so the numbers in
the Markdown and the HTML cannot disagree. The HTML is self-contained (inline
CSS, no scripts, no network) and refers to the PNGs by relative path, so the
report directory can be copied or served as-is.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from minisys import __version__
from minisys.report.numbers import (
    NO_RESULT,
    NOT_A_NUMBER,
    arrow,
    better_note,
    fmt_ratio,
    fmt_value,
    scale_label,
    with_unit,
)
from minisys.report.plots import Plot
from minisys.report.rundir import Run, Scenario

LEGEND = (
    "Median over repeats. Bold: best at that scale. ↓ lower is better, ↑ higher is better. "
    "“× best”: the headline metric as a multiple of the best system at that scale "
    f"(1.00× = best, bigger = worse). {NO_RESULT} no result, {NOT_A_NUMBER} not a number."
)


@dataclass(frozen=True)
class Cell:
    text: str
    best: bool = False
    tip: str = ""  # spread over repeats, shown as a tooltip in HTML
    numeric: bool = True


def summary_table(sc: Scenario) -> tuple[list[str], list[list[Cell]]]:
    """Header and rows: one row per scale × system, one column per metric (+ × best).

    Metrics without a single row in the table are left out: a metric that exists
    only as raw samples is shown by its CDF, not by a column of dashes.
    """
    metrics = [m for m in sc.metrics if sc.scales_with(m.name)]
    headline = sc.headline
    ratio_col = bool(metrics) and metrics[0] == headline and headline.better is not None
    header = ["Scale", "System"]
    for i, m in enumerate(metrics):
        header.append(f"{with_unit(m.title, m.unit)} {arrow(m)}".strip())
        if i == 0 and ratio_col:
            header.append("× best")
    rows = []
    if not metrics:
        return header, rows
    for scale in sc.scales:
        best = {m.name: sc.best(m, scale) for m in metrics}
        for k, system in enumerate(sc.systems):
            row = [
                Cell(scale_label(sc, scale) if k == 0 else "", numeric=False),
                Cell(system, numeric=False),
            ]
            for i, m in enumerate(metrics):
                st = sc.stat(m.name, system, scale)
                is_best = system in best[m.name]
                if st is not None:
                    tip = f"min {fmt_value(st.low)} · max {fmt_value(st.high)} · n={st.n}"
                    row.append(Cell(fmt_value(st.median), is_best, tip))
                elif sc.measured(m.name, system, scale):
                    row.append(Cell(NOT_A_NUMBER))
                else:
                    row.append(Cell(NO_RESULT))
                if i == 0 and ratio_col:
                    row.append(Cell(fmt_ratio(sc.ratio(m, system, scale)), is_best))
            rows.append(row)
    return header, rows


def verdict(sc: Scenario) -> str:
    """Who is best on the headline metric where: the crossover in one sentence."""
    m = sc.headline
    if m is None or m.better is None:
        return ""
    spans: list[tuple[str, list[str]]] = []  # (winners, consecutive scales)
    for scale in sc.scales:
        best = sc.best(m, scale)
        if not best:
            continue
        who = " and ".join(s for s in sc.systems if s in best)
        if spans and spans[-1][0] == who:
            spans[-1][1].append(scale)
        else:
            spans.append((who, [scale]))
    if not spans:
        return ""
    if len(spans) == 1 and len(sc.scales_with(m.name)) > 1:
        where = f"{spans[0][0]} at every scale"
    else:
        where = "; ".join(f"{who} at {', '.join(scales)}" for who, scales in spans)
    return f"{m.title} ({better_note(m)}): best is {where}."


def environment_rows(run: Run) -> list[tuple[str, str]]:
    env = run.environment
    rows = [("run", run.run_id), ("run directory", str(run.path))]
    for key, label in (("started", "started"), ("finished", "finished")):
        if env.get(key):
            rows.append((label, str(env[key])))
    duration = _duration(env.get("started"), env.get("finished"))
    if duration:
        rows.append(("duration", duration))
    for key, label in (
        ("machine", "machine"),
        ("platform", "platform"),
        ("cpu_count", "CPUs"),
        ("python", "Python"),
        ("seed", "seed"),
        ("repeat", "repeats"),
        ("warmup", "warm-up runs (excluded)"),
    ):
        if env.get(key) not in (None, ""):
            rows.append((label, str(env[key])))
    if isinstance(env.get("argv"), list) and env["argv"]:
        rows.append(("command", shlex.join(str(a) for a in env["argv"])))
    for system, version in sorted(run.versions.items()):
        rows.append((f"{system} version", version))
    return rows


def _duration(start, end) -> str:
    try:
        secs = (
            datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
        ).total_seconds()
    except (TypeError, ValueError):
        return ""
    if secs < 0:
        return ""
    m, s = divmod(round(secs), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s" if m else f"{secs:.1f}s"


def _systems_line(run: Run, sc: Scenario) -> str:
    return ", ".join(f"{s} {run.versions[s]}" if run.versions.get(s) else s for s in sc.systems)


# -- Markdown -----------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(run: Run, figures: dict[str, list[Plot]]) -> str:
    out = [f"# minisys report: run {run.run_id}", ""]
    out += ["## Environment", "", "| | |", "|---|---|"]
    out += [f"| {k} | {_md_escape(v)} |" for k, v in environment_rows(run)]
    for sc in run.scenarios:
        out += ["", f"## {sc.title}", ""]
        if sc.title != sc.name:
            out += [f"Scenario `{sc.name}`.", ""]
        if sc.description:
            out += [sc.description, ""]
        if sc.systems:
            out += [f"Systems: {_systems_line(run, sc)}.", ""]
        if sc.skipped:
            out += ["Not run:", ""]
            out += [f"- **{s}**: {reason}" for s, reason in sc.skipped.items()]
            out.append("")
        if sc.errors:
            out += ["Failed:", ""]
            out += [f"- **{where}**: {why}" for where, why in sc.errors.items()]
            out.append("")
        if sc.notes:
            out += [f"> {note}" for note in sc.notes] + [""]
        header, rows = summary_table(sc)
        if not rows or not sc.metrics:
            out += ["No results were recorded for this scenario.", ""]
        else:
            out += [f"**{verdict(sc)}**", ""] if verdict(sc) else []
            out += [
                "| " + " | ".join(_md_escape(h) for h in header) + " |",
                "|" + "|".join("---:" if i >= 2 else "---" for i in range(len(header))) + "|",
            ]
            for row in rows:
                cells = [f"**{c.text}**" if c.best else _md_escape(c.text) for c in row]
                out.append("| " + " | ".join(cells) + " |")
            out += ["", LEGEND, ""]
        for plot in figures.get(sc.name, []):
            out += [f"![{plot.title}]({quote(plot.file)})", "", f"*{plot.caption}*", ""]
    out += ["", f"Generated by minisys {__version__}."]
    return "\n".join(out).rstrip() + "\n"


# -- HTML ---------------------------------------------------------------------

CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       margin: 0; background: #f6f8fa; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin-top: 40px; padding-top: 12px; border-top: 1px solid #d0d7de; }
h3 { font-size: 16px; margin: 24px 0 8px; }
.sub, .legend, figcaption { color: #59636e; font-size: 13px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: #eff1f3;
       padding: 1px 4px; border-radius: 4px; }
nav ul { columns: 2; padding-left: 20px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e1e4e8; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { font-weight: 700; background: #dafbe1; }
tr.first td { border-top: 2px solid #d0d7de; }
table.env th { width: 190px; }
.skipped { background: #fff8c5; border: 1px solid #e9d66b; border-radius: 6px;
           padding: 8px 14px; margin: 12px 0; }
.skipped ul, .failed ul { margin: 4px 0; padding-left: 20px; }
.failed { background: #ffebe9; border: 1px solid #ff8182; border-radius: 6px;
          padding: 8px 14px; margin: 12px 0; }
.notes { color: #424a53; }
.verdict { font-weight: 600; }
.wide { overflow-x: auto; }
table.summary th.num { white-space: normal; min-width: 80px; }
figure { margin: 20px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e1e4e8; border-radius: 4px; }
"""


def _h(text: str) -> str:
    """Escape, then show `backticked` spans as code, as the runner writes commands that way."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _anchor(name: str) -> str:
    return "sc-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name)


def render_html(run: Run, figures: dict[str, list[Plot]]) -> str:
    title = f"minisys report: run {run.run_id}"
    out = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    started = run.environment.get("started")
    out.append(
        f'<p class="sub">{len(run.scenarios)} scenario(s)'
        + (f" · started {html.escape(str(started))}" if started else "")
        + "</p>"
    )
    if len(run.scenarios) > 1:
        out.append("<nav><ul>")
        out += [
            f'<li><a href="#{_anchor(sc.name)}">{html.escape(sc.title)}</a></li>'
            for sc in run.scenarios
        ]
        out.append("</ul></nav>")
    out += ["<h2>Environment</h2>", '<table class="env">']
    out += [
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in environment_rows(run)
    ]
    out.append("</table>")
    for sc in run.scenarios:
        out += _html_scenario(run, sc, figures.get(sc.name, []))
    out += [
        f'<p class="sub">Generated by minisys {__version__}.</p>',
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


def _html_scenario(run: Run, sc: Scenario, plots: list[Plot]) -> list[str]:
    out = [f'<section id="{_anchor(sc.name)}">', f"<h2>{html.escape(sc.title)}</h2>"]
    if sc.title != sc.name:
        out.append(f'<p class="sub">scenario <code>{html.escape(sc.name)}</code></p>')
    if sc.description:
        out.append(f"<p>{_h(sc.description)}</p>")
    if sc.systems:
        out.append(f"<p><strong>Systems:</strong> {html.escape(_systems_line(run, sc))}</p>")
    if sc.skipped:
        out += ['<div class="skipped"><strong>Not run:</strong>', "<ul>"]
        out += [
            f"<li><strong>{html.escape(s)}</strong>: {_h(r)}</li>" for s, r in sc.skipped.items()
        ]
        out += ["</ul>", "</div>"]
    if sc.errors:
        out += ['<div class="failed"><strong>Failed:</strong>', "<ul>"]
        out += [f"<li><strong>{html.escape(w)}</strong>: {_h(r)}</li>" for w, r in sc.errors.items()]
        out += ["</ul>", "</div>"]
    if sc.notes:
        out += ['<ul class="notes">'] + [f"<li>{_h(n)}</li>" for n in sc.notes] + ["</ul>"]
    header, rows = summary_table(sc)
    if not rows or not sc.metrics:
        out.append("<p>No results were recorded for this scenario.</p>")
    else:
        out.append("<h3>Summary</h3>")
        if verdict(sc):
            out.append(f'<p class="verdict">{html.escape(verdict(sc))}</p>')
        out += ['<div class="wide"><table class="summary">', "<tr>"]
        num = ' class="num"'
        out += [f"<th{num if i >= 2 else ''}>{html.escape(h)}</th>" for i, h in enumerate(header)]
        out.append("</tr>")
        for row in rows:
            first = ' class="first"' if row[0].text else ""
            cells = []
            for c in row:
                cls = " ".join(
                    x for x in ("num" if c.numeric else "", "best" if c.best else "") if x
                )
                attrs = (f' class="{cls}"' if cls else "") + (
                    f' title="{html.escape(c.tip)}"' if c.tip else ""
                )
                cells.append(f"<td{attrs}>{html.escape(c.text)}</td>")
            out.append(f"<tr{first}>{''.join(cells)}</tr>")
        out += [
            "</table></div>",
            f'<p class="legend">{html.escape(LEGEND)} Hover a value for its min, max and repeats.</p>',
        ]
    if plots:
        out.append("<h3>Plots</h3>")
    for p in plots:
        out += [
            "<figure>",
            f'<img src="{html.escape(quote(p.file))}" alt="{html.escape(sc.title + ": " + p.title)}">',
            f"<figcaption>{html.escape(p.caption)}</figcaption>",
            "</figure>",
        ]
    out.append("</section>")
    return out


def write_pages(run: Run, figures: dict[str, list[Plot]], out_dir: Path) -> Path:
    (out_dir / "report.md").write_text(render_markdown(run, figures), encoding="utf-8")
    index = out_dir / "index.html"
    index.write_text(render_html(run, figures), encoding="utf-8")
    return index
