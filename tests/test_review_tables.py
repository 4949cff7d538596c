"""Review state in the index's own store (review/tables.py): the review state an older
Folio kept in SQLite moves into the tables once and loses nothing; two stores over one
index on the S3 server (two app servers) see each other's writes on the next read."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from folio.review import Overlay
from review.overlays import OverlayStore
from review.tables import AUDIT, MOVED, OVERLAYS
from tests.s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)

# The tables as Folio wrote them into <index>/folio.sqlite before they moved to the store.
OLD_SCHEMA = """
CREATE TABLE review_overlays (content_hash TEXT PRIMARY KEY, source TEXT NOT NULL, element_id TEXT, kind TEXT,
  page INTEGER, preview TEXT NOT NULL DEFAULT '', vals TEXT NOT NULL DEFAULT '{}', hidden INTEGER NOT NULL DEFAULT 0,
  approved INTEGER NOT NULL DEFAULT 0, approved_by TEXT, approved_at REAL, status TEXT NOT NULL DEFAULT 'active',
  orphan_reason TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL, updated_by TEXT);
CREATE TABLE review_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user TEXT NOT NULL,
  action TEXT NOT NULL, source TEXT, content_hash TEXT, element_id TEXT, field TEXT, previous TEXT, new TEXT);
CREATE TABLE review_flags (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, user TEXT NOT NULL,
  source TEXT NOT NULL, content_hash TEXT NOT NULL, element_id TEXT, note TEXT NOT NULL DEFAULT '',
  open INTEGER NOT NULL DEFAULT 1);
CREATE TABLE sessions (id TEXT PRIMARY KEY, created_at REAL NOT NULL, updated_at REAL NOT NULL, owner TEXT);
"""


def _old_index(index: Path) -> None:
    index.mkdir(parents=True)
    with sqlite3.connect(index / "folio.sqlite") as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO review_overlays VALUES ('h1', 'a.pdf', 'e1', 'image', 2, 'A chart', "
                   "'{\"caption\": \"Fixed by Rita\"}', 0, 1, 'rita', 100.5, 'active', NULL, 100.0, 100.5, 'rita')")
        db.execute("INSERT INTO review_overlays VALUES ('h2', 'b.docx', 'e2', 'text', NULL, 'Secret', '{}', 1, 0, "
                   "NULL, NULL, 'orphaned', 'gone', 90.0, 90.0, 'sam')")
        audit = ("INSERT INTO review_audit (at, user, action, source, content_hash, element_id, field, previous, new) "
                 "VALUES (?, 'rita', ?, 'a.pdf', 'h1', 'e1', ?, ?, ?)")
        db.execute(audit, (100.0, "edit", "caption", '"old"', '"Fixed by Rita"'))
        db.execute(audit, (100.5, "approve", "approved", "false", "true"))
        db.execute("INSERT INTO review_flags (at, user, source, content_hash, element_id, note) "
                   "VALUES (95.0, 'reader', 'a.pdf', 'h1', 'e1', 'wrong region')")
        db.execute("INSERT INTO sessions VALUES ('s1', 1.0, 1.0, 'rita')")


def test_old_sqlite_review_state_moves_into_the_store_once(tmp_path: Path) -> None:
    index = tmp_path / "index"
    _old_index(index)
    store = OverlayStore(index)
    ov = store.get("h1")
    assert ov is not None and ov.values == {"caption": "Fixed by Rita"} and ov.approved and ov.approved_by == "rita"
    h2 = store.get("h2")
    assert h2 is not None and h2.hidden and h2.status == "orphaned" and h2.orphan_reason == "gone" and h2.page is None
    assert [(a["action"], a["new"]) for a in store.audit()] == [("approve", True), ("edit", "Fixed by Rita")]
    assert store.open_flags() == {"h1": 1} and store.flags("h1")[0]["note"] == "wrong region"
    assert (index / "lancedb" / f"{OVERLAYS}.lance").is_dir()
    with sqlite3.connect(index / "folio.sqlite") as db:  # marked moved; the old rows and the sessions stay
        assert db.execute(f"SELECT COUNT(*) FROM {MOVED}").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM review_audit").fetchone()[0] == 2
        assert db.execute("SELECT id FROM sessions").fetchall() == [("s1",)]

    # a later edit sorts after the moved rows; opening again moves nothing twice
    store.change(Overlay(content_hash="h1", source="a.pdf", element_id="e1", kind="image"), "sam", "edit",
                 "caption", "Fixed by Rita", "Fixed again", values={"caption": "Fixed again"})
    again = OverlayStore(index)
    assert [a["user"] for a in again.audit()] == ["sam", "rita", "rita"]
    h1 = again.get("h1")
    assert h1 is not None and h1.values["caption"] == "Fixed again" and h1.approved

    # a move interrupted before its marker is written runs again without duplicating
    with sqlite3.connect(index / "folio.sqlite") as db:
        db.execute(f"DROP TABLE {MOVED}")
    third = OverlayStore(index)
    assert len(third.audit()) == 3 and third.open_flags() == {"h1": 1}
    h1 = third.get("h1")
    assert h1 is not None and h1.values["caption"] == "Fixed again"  # the newer edit is kept


def test_nothing_reviewed_creates_no_table(tmp_path: Path) -> None:
    store = OverlayStore(tmp_path / "index")
    assert not store.tables.reviewed() and store.all() == [] and store.audit() == []
    assert not (tmp_path / "index" / "lancedb" / f"{AUDIT}.lance").exists()


def test_two_stores_over_one_index_on_s3_see_each_others_writes(s3_bucket: str) -> None:  # noqa: F811
    location = f"{s3_bucket}/idx"
    a, b = OverlayStore(location), OverlayStore(location)
    assert b.all() == []  # b looked before a wrote anything
    base = Overlay(content_hash="h9", source="r.pdf", element_id="e9", kind="image")
    a.change(base, "ann", "edit", "caption", None, "From A", values={"caption": "From A"})
    got = b.get("h9")
    assert got is not None and got.values == {"caption": "From A"} and got.updated_by == "ann"
    b.change(base, "bob", "hide", "hidden", False, True, hidden=True)
    seen = a.get("h9")
    assert seen is not None and seen.hidden and seen.values == {"caption": "From A"}
    assert [(x["user"], x["action"]) for x in a.audit()] == [("bob", "hide"), ("ann", "edit")]
    # the nightly run's view (mark) from a third store: orphaned, then restored on another element
    c = OverlayStore(location)
    assert [o.content_hash for o in c.mark("r.pdf", {}, "gone")] == ["h9"]
    assert c.mark("r.pdf", {"h9": "e10"}, "gone") == []
    restored = a.get("h9")
    assert restored is not None and restored.status == "active" and restored.element_id == "e10"


def test_a_busy_store_prunes_its_versions_and_keeps_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each edit is a table version, and finding the latest lists them all (on S3, a read
    costs more with each); every MAINTAIN_EVERY writes the store compacts and prunes."""
    import review.tables as T

    monkeypatch.setattr(T, "KEEP", timedelta(milliseconds=1))
    store = OverlayStore(tmp_path / "index")
    for i in range(2 * T.MAINTAIN_EVERY):
        store.change(Overlay(content_hash=f"h{i % 3}", source="a.pdf", kind="image"), "ann", "edit", "caption",
                     None, f"c{i}", values={"caption": f"c{i}"})
    audit = store.tables.table(AUDIT)
    assert len(audit.list_versions()) < 5
    assert len(store.audit()) == 2 * T.MAINTAIN_EVERY and len(store.all()) == 3
    h2 = store.get("h2")
    assert h2 is not None and h2.values["caption"] == f"c{2 * T.MAINTAIN_EVERY - 2}"
