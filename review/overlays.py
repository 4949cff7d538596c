"""Review overlays, reader flags and the audit log, in ``<index>/folio.sqlite`` (folio/db.py).

Plain storage: the app writes here (review/reviewer.py), the nightly run reads here to
re-apply overlays and records orphans (review/step.py), the export reads it
(``overlays_for``). One row per element content hash; every change writes an audit row
(who, when, field, previous value, new value) in the same transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from folio.db import DB_NAME, Database
from folio.review import Overlay

_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_overlays (
    content_hash TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    element_id TEXT,              -- the element it was last applied to
    kind TEXT,
    page INTEGER,
    preview TEXT NOT NULL DEFAULT '',  -- first words of the element, for the orphans list
    vals TEXT NOT NULL DEFAULT '{}',   -- JSON: field -> value
    hidden INTEGER NOT NULL DEFAULT 0,
    approved INTEGER NOT NULL DEFAULT 0,
    approved_by TEXT,
    approved_at REAL,
    status TEXT NOT NULL DEFAULT 'active',  -- active | orphaned | dismissed
    orphan_reason TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    updated_by TEXT
);
CREATE INDEX IF NOT EXISTS review_overlays_source ON review_overlays(source);
CREATE TABLE IF NOT EXISTS review_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,  -- edit hide unhide approve unapprove flag reattach dismiss orphan restore
    source TEXT,
    content_hash TEXT,
    element_id TEXT,
    field TEXT,
    previous TEXT,            -- JSON
    new TEXT                  -- JSON
);
CREATE TABLE IF NOT EXISTS review_flags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    user TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    element_id TEXT,
    note TEXT NOT NULL DEFAULT '',
    open INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS review_flags_hash ON review_flags(content_hash);
"""


def _overlay(row: Any) -> Overlay:
    return Overlay(
        content_hash=row["content_hash"], source=row["source"], values=json.loads(row["vals"]),
        hidden=bool(row["hidden"]), approved=bool(row["approved"]), status=row["status"],
        element_id=row["element_id"], kind=row["kind"], page=row["page"], preview=row["preview"],
        updated_by=row["updated_by"], updated_at=row["updated_at"], approved_by=row["approved_by"],
        approved_at=row["approved_at"], orphan_reason=row["orphan_reason"],
    )


class OverlayStore:
    def __init__(self, index_dir: Path, read_only: bool = False) -> None:
        self.db = Database(index_dir, _SCHEMA, read_only)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        c = self.db.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    @staticmethod
    def _audit(c: Any, user: str, action: str, ov: Overlay, field: str | None, previous: Any, new: Any,
               at: float) -> None:
        c.execute("INSERT INTO review_audit (at, user, action, source, content_hash, element_id, field, previous, "
                  "new) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (at, user, action, ov.source, ov.content_hash, ov.element_id, field,
                   json.dumps(previous, ensure_ascii=False), json.dumps(new, ensure_ascii=False)))

    # ---- reading --------------------------------------------------------------------------

    def get(self, content_hash: str) -> Overlay | None:
        row = self.db.conn().execute("SELECT * FROM review_overlays WHERE content_hash = ?",
                                     (content_hash,)).fetchone()
        return _overlay(row) if row else None

    def for_source(self, source: str, statuses: tuple[str, ...] = ("active", "orphaned")) -> dict[str, Overlay]:
        marks = ",".join("?" * len(statuses))
        rows = self.db.conn().execute(
            f"SELECT * FROM review_overlays WHERE source = ? AND status IN ({marks})", (source, *statuses))
        return {r["content_hash"]: _overlay(r) for r in rows}

    def all(self, status: str | None = None) -> list[Overlay]:
        if status is None:
            rows = self.db.conn().execute("SELECT * FROM review_overlays ORDER BY updated_at DESC")
        else:
            rows = self.db.conn().execute("SELECT * FROM review_overlays WHERE status = ? ORDER BY updated_at DESC",
                                          (status,))
        return [_overlay(r) for r in rows]

    def sources_changed_since(self, at: float) -> set[str]:
        rows = self.db.conn().execute("SELECT DISTINCT source FROM review_overlays WHERE updated_at >= ?", (at,))
        return {r["source"] for r in rows}

    def open_flags(self) -> dict[str, int]:
        """content hash -> number of open reader flags."""
        rows = self.db.conn().execute(
            "SELECT content_hash, COUNT(*) AS n FROM review_flags WHERE open = 1 GROUP BY content_hash")
        return {r["content_hash"]: int(r["n"]) for r in rows}

    def flagged_element_ids(self) -> list[str]:
        rows = self.db.conn().execute("SELECT DISTINCT element_id FROM review_flags WHERE open = 1")
        return [r["element_id"] for r in rows if r["element_id"]]

    def flags(self, content_hash: str) -> list[dict[str, Any]]:
        rows = self.db.conn().execute("SELECT at, user, note, open FROM review_flags WHERE content_hash = ? "
                                      "ORDER BY id", (content_hash,))
        return [dict(r) for r in rows]

    def audit(self, limit: int | None = None, content_hash: str | None = None,
              since: float | None = None) -> list[dict[str, Any]]:
        where: list[str] = []
        args: list[Any] = []
        if content_hash:
            where.append("content_hash = ?")
            args.append(content_hash)
        if since is not None:
            where.append("at >= ?")
            args.append(since)
        sql = "SELECT * FROM review_audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        out = []
        for r in self.db.conn().execute(sql, args):
            d = dict(r)
            d["previous"], d["new"] = json.loads(d["previous"]), json.loads(d["new"])
            out.append(d)
        return out

    # ---- writing --------------------------------------------------------------------------

    def change(self, base: Overlay, user: str, action: str, field: str | None, previous: Any, new: Any,
               *, values: dict[str, Any] | None = None, hidden: bool | None = None,
               approved: bool | None = None, status: str = "active") -> Overlay:
        """Create or update the overlay of ``base.content_hash`` (element data from ``base``)
        and write the audit row, in one transaction."""
        now = time.time()
        with self._tx() as c:
            row = c.execute("SELECT * FROM review_overlays WHERE content_hash = ?", (base.content_hash,)).fetchone()
            cur = _overlay(row) if row else base
            vals = {**cur.values, **(values or {})}
            vals = {k: v for k, v in vals.items() if v is not None or k in ("caption", "summary")}
            hid = cur.hidden if hidden is None else hidden
            appr = cur.approved if approved is None else approved
            appr_by, appr_at = (user, now) if approved else (cur.approved_by, cur.approved_at)
            if approved is False:
                appr_by = appr_at = None
            c.execute(
                "INSERT INTO review_overlays (content_hash, source, element_id, kind, page, preview, vals, hidden, "
                "approved, approved_by, approved_at, status, orphan_reason, created_at, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(content_hash) DO UPDATE SET "
                "source = excluded.source, element_id = excluded.element_id, kind = excluded.kind, "
                "page = excluded.page, preview = excluded.preview, vals = excluded.vals, hidden = excluded.hidden, "
                "approved = excluded.approved, approved_by = excluded.approved_by, "
                "approved_at = excluded.approved_at, status = excluded.status, "
                "orphan_reason = excluded.orphan_reason, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (base.content_hash, base.source, base.element_id, base.kind, base.page, base.preview,
                 json.dumps(vals, ensure_ascii=False), int(hid), int(appr), appr_by, appr_at, status,
                 base.orphan_reason if status == "orphaned" else None, now, now, user))
            if approved:  # an approved element leaves the queue: its flags are dealt with
                c.execute("UPDATE review_flags SET open = 0 WHERE content_hash = ?", (base.content_hash,))
            self._audit(c, user, action, base, field, previous, new, now)
        out = self.get(base.content_hash)
        assert out is not None
        return out

    def flag(self, base: Overlay, user: str, note: str = "") -> None:
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT INTO review_flags (at, user, source, content_hash, element_id, note) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (now, user, base.source, base.content_hash, base.element_id, note))
            self._audit(c, user, "flag", base, None, None, note, now)

    def mark(self, source: str, found: dict[str, str], orphan_reason: str, user: str = "nightly run") -> list[Overlay]:
        """After a re-ingest of ``source``: overlays whose content hash is in ``found`` (hash ->
        element id) become active on that element, the others orphaned. Returns the newly
        orphaned ones (an overlay already orphaned is not reported again)."""
        now = time.time()
        newly: list[Overlay] = []
        with self._tx() as c:
            rows = c.execute("SELECT * FROM review_overlays WHERE source = ? AND status IN ('active', 'orphaned')",
                             (source,)).fetchall()
            for row in rows:
                ov = _overlay(row)
                if ov.content_hash in found:
                    eid = found[ov.content_hash]
                    if ov.status != "active" or ov.element_id != eid:
                        c.execute("UPDATE review_overlays SET status = 'active', element_id = ?, orphan_reason = "
                                  "NULL WHERE content_hash = ?", (eid, ov.content_hash))
                        if ov.status == "orphaned":
                            self._audit(c, user, "restore", ov, None, "orphaned", "active", now)
                elif ov.status == "active":
                    c.execute("UPDATE review_overlays SET status = 'orphaned', orphan_reason = ? "
                              "WHERE content_hash = ?", (orphan_reason, ov.content_hash))
                    self._audit(c, user, "orphan", ov, None, "active", orphan_reason, now)
                    newly.append(ov)
        return newly

    def reattach(self, orphan: Overlay, target: Overlay, user: str) -> Overlay:
        """Move an orphaned overlay onto another element (``target``: its hash and data);
        the target's own overlay, if any, keeps what the orphan does not set."""
        now = time.time()
        with self._tx() as c:
            row = c.execute("SELECT * FROM review_overlays WHERE content_hash = ?", (target.content_hash,)).fetchone()
            cur = _overlay(row) if row else target
            vals = {**cur.values, **orphan.values}
            c.execute("DELETE FROM review_overlays WHERE content_hash = ?", (target.content_hash,))
            c.execute(
                "UPDATE review_overlays SET content_hash = ?, source = ?, element_id = ?, kind = ?, page = ?, "
                "preview = ?, vals = ?, hidden = ?, approved = ?, status = 'active', orphan_reason = NULL, "
                "updated_at = ?, updated_by = ? WHERE content_hash = ?",
                (target.content_hash, target.source, target.element_id, target.kind, target.page, target.preview,
                 json.dumps(vals, ensure_ascii=False), int(orphan.hidden or cur.hidden),
                 int(orphan.approved or cur.approved), now, user, orphan.content_hash))
            self._audit(c, user, "reattach", target, None, orphan.content_hash, target.content_hash, now)
        out = self.get(target.content_hash)
        assert out is not None
        return out

    def dismiss(self, ov: Overlay, user: str) -> None:
        now = time.time()
        with self._tx() as c:
            c.execute("UPDATE review_overlays SET status = 'dismissed', updated_at = ?, updated_by = ? "
                      "WHERE content_hash = ?", (now, user, ov.content_hash))
            self._audit(c, user, "dismiss", ov, None, ov.status, "dismissed", now)


def overlays_for(index_dir: Path) -> dict[str, Overlay]:
    """Every overlay of an index by content hash (the export's view of review state:
    values, hidden, approved, who and when, status); {} when nothing was reviewed."""
    if not (Path(index_dir) / DB_NAME).exists():
        return {}
    return {ov.content_hash: ov for ov in OverlayStore(index_dir).all()}
