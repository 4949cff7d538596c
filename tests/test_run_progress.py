"""The nightly run's plain progress lines (pipeline/report.py ``ProgressLines``): what a
cron log gets instead of the terminal's progress bar. The real CLI's lines are checked in
tests/test_pipeline_crash.py (a run with stderr on a pipe)."""

from __future__ import annotations

import io

from pipeline.report import DocResult, ProgressLines


def test_one_plain_line_per_document_and_a_second_when_enriched() -> None:
    out = io.StringIO()
    lines = ProgressLines("nightly", out)
    lines(DocResult("a.pdf", "partial", pages=3, chunks=7, seconds=1.25))
    lines(DocResult("b.docx", "error", error="encrypted: password required"))
    lines(DocResult("a.pdf", "ok", pages=3, chunks=8, seconds=4.0))
    lines(DocResult("older.pdf", "ok", reason="enrich", pages=1, chunks=2, seconds=2.0))  # an earlier run's backlog
    assert out.getvalue().splitlines() == [
        "folio run nightly: [1] indexed, enrichment follows: a.pdf (3 pages, 7 chunks, 1.2 s)",
        "folio run nightly: [2] FAILED: b.docx: encrypted: password required",
        "folio run nightly: [2] enriched: a.pdf (3 pages, 8 chunks, 4.0 s)",
        "folio run nightly: [3] enriched: older.pdf (1 pages, 2 chunks, 2.0 s)",
    ]


def test_control_characters_from_file_names_and_errors_cannot_redraw_the_log() -> None:
    out = io.StringIO()
    ProgressLines("p", out)(DocResult("evil\r\x1b[2Kfake.pdf", "error", error="bad\nfolio run p: [9] indexed: x"))
    text = out.getvalue()
    assert text.count("\n") == 1 and "\r" not in text and "\x1b" not in text
    assert text == "folio run p: [1] FAILED: evil??[2Kfake.pdf: bad?folio run p: [9] indexed: x\n"
