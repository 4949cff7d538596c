"""Review overlays over a real index: the real runner, partitioner and LanceDB, SQLite
overlays (the fast hash embedder from pipeline_fixtures stands in for the model).

Edit -> re-ingest -> still there; change the document so the element goes -> orphan in the
run report, re-attach, dismiss; invalid table edits refused with the reason; hidden
elements never searchable; an edit racing a re-ingest is a conflict that loses nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from index.search import search
from index.store import Store
from review.overlays import OverlayStore, overlays_for
from review.reviewer import Conflict, Reviewer, ReviewError
from tests.pipeline_fixtures import Counters, FakeEmbedder, pipeline_for, run

TABLE = [["Region", "Q1", "Q2"], ["North", "12.5", "14.0"], ["South", "9.1", "8.7"]]


def make_doc(path: Path, table: list[list[str]], extra: str | None = None) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Regional sales", level=1)
    d.add_paragraph("The quarterly figures below cover the two regions of the cooperative.")
    if extra:
        d.add_paragraph(extra)
    d.add_paragraph("A confidential remark that should never be shown to readers of the corpus.")
    t = d.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, v in enumerate(row):
            t.cell(r, c).text = v
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(str(path))
    return path


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, object, Counters]:
    src = tmp_path / "src"
    make_doc(src / "sales.docx", TABLE)
    pipe = pipeline_for(src, tmp_path / "index")
    counters = Counters()
    run(pipe, counters)
    return src, pipe, counters


def _reviewer(pipe: object) -> Reviewer:
    return Reviewer(pipe, Store(pipe.index), FakeEmbedder())  # type: ignore[attr-defined]


def _find(rv: Reviewer, kind: str, words: str = "") -> dict:
    rows = [r for r in rv.browse("sales.docx") if r["kind"] == kind and words in r["preview"]]
    assert rows, rv.browse("sales.docx")
    el = rv.element(rows[0]["element_id"])
    assert el is not None
    return el


def _fts(pipe: object, words: str) -> list:
    return search(Store(pipe.index), None, words, 10, mode="fts")  # type: ignore[attr-defined]


def test_edits_apply_at_once_and_survive_re_ingest(indexed: tuple) -> None:
    src, pipe, counters = indexed
    rv = _reviewer(pipe)
    table = _find(rv, "table")
    remark = _find(rv, "text", "confidential")
    assert _fts(pipe, "confidential remark")

    out = rv.edit(table["id"], "summary", "Zanzibarian quarterly sales by region", "ann")
    assert out["refresh"]["chunks_embedded"] >= 1
    hits = _fts(pipe, "Zanzibarian")
    assert hits and table["id"] in hits[0].element_ids  # searchable from the next question on
    rv.edit(remark["id"], "hidden", True, "ann")
    assert not any("confidential" in h.text for h in _fts(pipe, "confidential remark"))
    grid = [row[:] for row in table["grid"]]
    grid[1][1] = "99.9"
    rv.edit(table["id"], "table", {"cells": grid}, "ann")
    assert any("99.9" in h.text for h in _fts(pipe, "North 99.9"))

    # the document changes elsewhere: every id changes, the content hashes do not
    make_doc(src / "sales.docx", TABLE, extra="A new paragraph added after the review.")
    runner = run(pipe, counters)
    rep = runner.report.to_dict()
    assert rep["counts"]["changed"] == 1 and rep["review"]["reapplied"] == 2, rep["review"]
    assert rep["review"]["orphaned"] == []
    rv2 = _reviewer(pipe)
    new_table = _find(rv2, "table")
    assert new_table["id"] != table["id"] and new_table["content_hash"] == table["content_hash"]
    assert new_table["summary"] == "Zanzibarian quarterly sales by region"
    assert new_table["summary_model"] == "review:ann" and new_table["grid"][1][1] == "99.9"
    assert _fts(pipe, "Zanzibarian")
    assert not any("confidential" in h.text for h in _fts(pipe, "confidential remark"))
    assert any(r["state"] == "hidden" for r in rv2.browse("sales.docx"))

    # a settings change re-chunks stored elements: overlays are applied again, not doubled
    pipe2 = pipe.model_copy(update={"chunk": pipe.chunk.model_copy(update={"max_tokens": 64})})
    rep = run(pipe2, counters).report.to_dict()
    assert rep["review"]["reapplied"] == 2 and not rep["review"]["orphaned"]
    assert _fts(pipe, "Zanzibarian") and not any("confidential" in h.text for h in _fts(pipe, "confidential"))

    # unhide: searchable again; the audit log has every step with who, previous, new
    rv3 = _reviewer(pipe)
    remark = _find(rv3, "text", "confidential")
    rv3.edit(remark["id"], "hidden", False, "bob")
    assert any("confidential" in h.text for h in _fts(pipe, "confidential remark"))
    log = rv3.audit()
    actions = [(a["user"], a["action"], a["field"]) for a in reversed(log)]
    assert actions == [("ann", "edit", "summary"), ("ann", "hide", "hidden"), ("ann", "edit", "table"),
                       ("bob", "unhide", "hidden")]
    assert log[-1]["previous"] is None and log[-1]["new"] == "Zanzibarian quarterly sales by region"
    state = overlays_for(pipe)[table["content_hash"]]
    assert state.values["summary"].startswith("Zanzibarian") and state.updated_by == "ann"


def test_an_element_that_disappears_orphans_its_overlay(indexed: tuple) -> None:
    src, pipe, counters = indexed
    rv = _reviewer(pipe)
    table = _find(rv, "table")
    rv.edit(table["id"], "summary", "Quokka sales table", "ann")
    rv.edit(table["id"], "approved", True, "ann")
    changed = [row[:] for row in TABLE]
    changed[2][2] = "7.7"  # the table's content changes: another content hash
    make_doc(src / "sales.docx", changed)
    runner = run(pipe, counters)
    rep = runner.report.to_dict()
    orphans = rep["review"]["orphaned"]
    assert [o["content_hash"] for o in orphans] == [table["content_hash"]], rep["review"]
    assert "orphaned review edit" in "\n".join(runner.report.summary_lines(None))
    rv2 = _reviewer(pipe)
    assert [o["content_hash"] for o in rv2.orphans()] == [table["content_hash"]]
    assert not _fts(pipe, "Quokka")
    new_table = _find(rv2, "table")
    assert new_table["summary"] != "Quokka sales table"
    # a caption cannot go onto a table; the summary can
    para = _find(rv2, "text", "quarterly figures")
    with pytest.raises(ReviewError, match="does not have"):
        rv2.reattach(table["content_hash"], para["id"], "ann")
    rv2.reattach(table["content_hash"], new_table["id"], "ann")
    assert rv2.orphans() == []
    assert rv2.element(new_table["id"])["summary"] == "Quokka sales table"  # type: ignore[index]
    assert _fts(pipe, "Quokka")
    # the next re-ingest keeps it on the new table
    assert run(pipe, counters).report.to_dict()["review"].get("orphaned", []) == []
    rv2.dismiss(new_table["content_hash"], "ann")
    assert not _fts(pipe, "Quokka")
    assert [a["action"] for a in rv2.audit(3)] == ["dismiss", "reattach", "orphan"]


def test_invalid_table_edits_are_refused_with_the_reason(indexed: tuple) -> None:
    _src, pipe, _ = indexed
    rv = _reviewer(pipe)
    table = _find(rv, "table")
    cases = [
        ({"cells": [["a", "b"], ["c"]]}, "row 2 has 1 cells"),
        ({"html": "<table><tr><td rowspan='3'>a</td><td>b</td></tr><tr><td>c</td></tr></table>"},
         "runs past the last row"),
        ({"html": "<table><tr><td>a</td><td>b</td></tr><tr><td colspan='3'>c</td></tr></table>"},
         "row 2 covers 3 columns"),
        ({"html": "<p>no table</p>"}, "<table>"),
        ("just text", "cells"),
    ]
    for value, reason in cases:
        with pytest.raises(ReviewError, match=reason) as exc:
            rv.edit(table["id"], "table", value, "ann")
        assert exc.value.status == 422
    with pytest.raises(ReviewError, match="no caption"):
        rv.edit(table["id"], "caption", "x", "ann")
    assert rv.audit() == []  # nothing refused was recorded
    # HTML is sanitized: a script never reaches the stored table
    rv.edit(table["id"], "table", {"html": "<table><tr><th onclick='x()'>A</th></tr><tr><td>1<script>alert(1)"
                                            "</script></td></tr></table>"}, "ann")
    stored = rv.element(table["id"])
    assert stored is not None and "script" not in stored["html"] and "onclick" not in stored["html"]


def test_an_edit_racing_a_re_ingest_is_a_conflict_and_is_kept(indexed: tuple) -> None:
    src, pipe, counters = indexed
    rv = _reviewer(pipe)
    table = _find(rv, "table")
    make_doc(src / "sales.docx", [["Other", "table"], ["1", "2"]])
    run(pipe, counters)  # the nightly run replaced the table while the reviewer was typing
    with pytest.raises(Conflict, match="removed by a re-ingest") as exc:
        rv.edit(table["id"], "summary", "Typed before the run", "ann", content_hash=table["content_hash"],
                source="sales.docx")
    assert exc.value.status == 409
    kept = OverlayStore(pipe.index).get(table["content_hash"])
    assert kept is not None and kept.status == "orphaned" and kept.values["summary"] == "Typed before the run"


def test_audit_log_exports_as_csv(indexed: tuple) -> None:
    from ui.review_api import audit_csv

    _src, pipe, _ = indexed
    rv = _reviewer(pipe)
    table = _find(rv, "table")
    rv.edit(table["id"], "summary", "Sales, by region", "ann")
    rows = list(csv.DictReader(io.StringIO(audit_csv(rv.audit()))))
    assert rows[0]["user"] == "ann" and rows[0]["new"] == '"Sales, by region"' and rows[0]["field"] == "summary"


def test_a_deleted_document_orphans_its_overlays_until_it_comes_back(indexed: tuple) -> None:
    src, pipe, counters = indexed
    rv = _reviewer(pipe)
    table = _find(rv, "table")
    rv.edit(table["id"], "summary", "Numbat summary", "ann")
    saved = (src / "sales.docx").read_bytes()
    (src / "sales.docx").unlink()
    make_doc(src / "other.docx", [["a", "b"], ["1", "2"]])  # an empty source folder would look unmounted
    rep = run(pipe, counters).report.to_dict()
    assert [(o["source"], o["reason"]) for o in rep["review"]["orphaned"]] == [
        ("sales.docx", "document deleted from the sources")]
    (src / "sales.docx").write_bytes(saved)
    rep = run(pipe, counters).report.to_dict()
    assert rep["review"]["reapplied"] == 1 and not rep["review"]["orphaned"]
    ov = OverlayStore(pipe.index).get(table["content_hash"])
    assert ov is not None and ov.status == "active"
    assert _fts(pipe, "Numbat") and [a["action"] for a in rv.audit(2)] == ["restore", "orphan"]
