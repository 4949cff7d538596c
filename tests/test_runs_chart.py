"""The Corpus tab's last-nights chart (ui/runs_chart.py) from run summaries
(index/run_reports.py): numbers only, the two strings escaped, a damaged report harmless."""

from __future__ import annotations

import re

from index.run_reports import run_summary
from ui.runs_chart import runs_chart


def _report(started: str, status: str, seconds: object, **counts: object) -> dict[str, object]:
    return {"run_id": started, "started_at": started, "status": status,
            "report": {"seconds": seconds, "counts": counts}}


def test_bars_scale_to_the_largest_night_oldest_first() -> None:
    runs = [run_summary(_report("2026-12-03T02:00:00.000Z", "ok", 30.0, new=1, changed=1, failed=0)),
            run_summary(_report("2026-12-02T02:00:00.000Z", "partial", 120.0, new=4, deleted=0, failed=2))]
    assert runs[0]["changed"] == 2 and runs[1]["changed"] == 4 and runs[1]["failed"] == 2
    html = runs_chart(runs)
    rows = re.findall(r"<tr><td>([^<]*)</td>", html)
    assert rows == ["2026-12-02 02:00", "2026-12-03 02:00"]  # oldest at the top
    widths = [float(w) for w in re.findall(r'width:([\d.]+)%', html)]
    # night 1: 4 changed (100%), 120 s (100%), 2 failed (100%); night 2: 2, 30 s, 0
    assert widths == [100.0, 100.0, 100.0, 50.0, 25.0, 0.0]


def test_a_hostile_or_damaged_report_is_text_and_zeros() -> None:
    evil = run_summary({"run_id": "x", "started_at": "<script>alert(1)</script>", "status": "<b>ok</b>",
                        "report": {"seconds": "NaN; background:url(//evil)", "counts": {"new": "9", "failed": -3,
                                                                                       "changed": True}}})
    assert evil["seconds"] is None and evil["changed"] == 0 and evil["failed"] == 0
    html = runs_chart([evil])
    assert "<script" not in html and "<b>" not in html and "evil" not in html
    assert "&lt;script&gt;alert(1" in html
    assert run_summary({"run_id": "y", "started_at": "2026", "report": "not a dict"})["counts"] == {}
    assert "No runs yet" in runs_chart([])
