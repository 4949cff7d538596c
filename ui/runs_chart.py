"""The last nights as a small chart for the Corpus tab: for each run, bars of documents
changed, time taken and failures. Built from numbers only (index/run_reports.py reduces
each report to counts and seconds); the two strings shown, the date and the status, are
escaped and cut, since a report is a file anyone with the index folder can edit."""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
.folio-runs {border-collapse: collapse; font-size: 0.86em; width: 100%; max-width: 900px;}
.folio-runs th {text-align: left; font-weight: 600; padding: 2px 8px 2px 0; white-space: nowrap;}
.folio-runs td {padding: 2px 8px 2px 0; vertical-align: middle; white-space: nowrap;}
.folio-runs td.bar {width: 30%;}
.folio-runs .w {display: flex; align-items: center; gap: 6px;}
.folio-runs .b {display: block; height: 10px; border-radius: 2px; min-width: 1px; flex: 0 1 auto;}
.folio-runs .n {flex: none;}
.folio-runs .changed .b {background: #4a7fd0;}
.folio-runs .secs .b {background: #8a8f98;}
.folio-runs .failed .b {background: #c4452c;}
.folio-runs .zero {opacity: 0.45;}
.folio-backlog {font-size: 0.95em;}
"""

BARS = (("changed", "documents changed", "changed"), ("seconds", "time taken", "secs"),
        ("failed", "failures", "failed"))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _cell(value: float | None, top: float, css: str, label: str) -> str:
    v = value or 0.0
    width = 0.0 if top <= 0 else max(0.0, min(100.0, 100.0 * v / top))
    zero = " zero" if not v else ""
    # the bar shrinks to leave its number room beside it (flex), however long the bar
    return (f'<td class="bar {css}{zero}"><div class="w"><span class="b" style="width:{width:.1f}%"></span>'
            f'<span class="n">{escape(label)}</span></div></td>')


def runs_chart(runs: list[dict[str, Any]]) -> str:
    """HTML for ``runs`` (newest first, as review/backlog.py gives them): one row per night,
    oldest at the top so the chart reads forward in time."""
    if not runs:
        return '<p class="folio-backlog">No runs yet: the chart fills in after the first nightly run.</p>'
    tops = {key: max(float(r.get(key) or 0) for r in runs) for key, _, _ in BARS}
    head = "".join(f"<th>{escape(title)}</th>" for _, title, _ in BARS)
    rows = []
    for r in reversed(runs):
        started = str(r.get("started_at") or "")[:16].replace("T", " ")
        status = str(r.get("status") or "?")[:12]
        cells = (_cell(r.get("changed"), tops["changed"], "changed", str(int(r.get("changed") or 0)))
                 + _cell(r.get("seconds"), tops["seconds"], "secs", duration(r.get("seconds")))
                 + _cell(r.get("failed"), tops["failed"], "failed", str(int(r.get("failed") or 0))))
        rows.append(f"<tr><td>{escape(started)}</td><td>{escape(status)}</td>{cells}</tr>")
    return (f'<table class="folio-runs" aria-label="last runs"><thead><tr><th>night (UTC)</th><th>status</th>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
