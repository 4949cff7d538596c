"""Review overlays, reader flags and the audit log, in the index's store (review/tables.py).

Plain storage: the app writes here (review/reviewer.py), the nightly run reads here to
re-apply overlays and records orphans (review/step.py), the export reads it
(``overlays_for``). One row per element content hash; every change writes an audit row
(who, when, field, previous value, new value) right after it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from folio.review import Overlay
from review.tables import AUDIT, FLAGS, OVERLAYS, ReviewTables, dumps, new_ids, sql_str

if TYPE_CHECKING:
    from folio.config import Pipeline


def _overlay(row: Any) -> Overlay:
    return Overlay(
        content_hash=row["content_hash"], source=row["source"], values=json.loads(row["vals"]),
        hidden=bool(row["hidden"]), approved=bool(row["approved"]), status=row["status"],
        element_id=row["element_id"], kind=row["kind"], page=row["page"], preview=row["preview"],
        updated_by=row["updated_by"], updated_at=row["updated_at"], approved_by=row["approved_by"],
        approved_at=row["approved_at"], orphan_reason=row["orphan_reason"],
    )


def _row(ov: Overlay, created_at: float) -> dict[str, Any]:
    return {"content_hash": ov.content_hash, "source": ov.source, "element_id": ov.element_id, "kind": ov.kind,
            "page": ov.page, "preview": ov.preview or "", "vals": dumps(ov.values), "hidden": ov.hidden,
            "approved": ov.approved, "approved_by": ov.approved_by, "approved_at": ov.approved_at,
            "status": ov.status, "orphan_reason": ov.orphan_reason, "created_at": created_at,
            "updated_at": ov.updated_at, "updated_by": ov.updated_by}


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(sql_str(v) for v in values) + ")"


class OverlayStore:
    """``location``: the index (folder or URI); ``legacy_dir``: where an older version kept
    the review state in SQLite (the index folder, or this machine's cache folder of a
    remote index), merged into the tables on first open. ``read_only``: nothing is
    written, not even that merge or an empty table (``ingest.py status``)."""

    def __init__(self, location: str | Path, storage_options: dict[str, str] | None = None,
                 legacy_dir: Path | None = None, read_only: bool = False) -> None:
        self.tables = ReviewTables(location, storage_options, legacy_dir, read_only)

    def _audit(self, rows: list[tuple[str, str, Overlay, str | None, Any, Any]], at: float) -> None:
        """Audit rows (user, action, overlay, field, previous, new), all at ``at``."""
        ids = new_ids(len(rows))
        self.tables.append(AUDIT, [
            {"id": i, "at": at, "user": user, "action": action, "source": ov.source,
             "content_hash": ov.content_hash, "element_id": ov.element_id, "field": field,
             "previous": dumps(previous), "new": dumps(new)}
            for i, (user, action, ov, field, previous, new) in zip(ids, rows, strict=True)])

    def _stored(self, content_hash: str) -> dict[str, Any] | None:
        rows = self.tables.rows(OVERLAYS, f"content_hash = {sql_str(content_hash)}")
        return rows[0] if rows else None

    # ---- reading --------------------------------------------------------------------------

    def get(self, content_hash: str) -> Overlay | None:
        row = self._stored(content_hash)
        return _overlay(row) if row else None

    def for_source(self, source: str, statuses: tuple[str, ...] = ("active", "orphaned")) -> dict[str, Overlay]:
        rows = self.tables.rows(OVERLAYS, f"source = {sql_str(source)} AND status IN {_in(statuses)}")
        return {r["content_hash"]: _overlay(r) for r in rows}

    def all(self, status: str | None = None) -> list[Overlay]:
        rows = self.tables.rows(OVERLAYS, None if status is None else f"status = {sql_str(status)}")
        return [_overlay(r) for r in sorted(rows, key=lambda r: r["updated_at"] or 0.0, reverse=True)]

    def sources_changed_since(self, at: float) -> set[str]:
        return {r["source"] for r in self.tables.rows(OVERLAYS, f"updated_at >= {float(at)!r}")}

    def open_flags(self) -> dict[str, int]:
        """content hash -> number of open reader flags."""
        out: dict[str, int] = {}
        for r in self.tables.rows(FLAGS, "open"):
            out[r["content_hash"]] = out.get(r["content_hash"], 0) + 1
        return out

    def flagged_element_ids(self) -> list[str]:
        return sorted({r["element_id"] for r in self.tables.rows(FLAGS, "open") if r["element_id"]})

    def flags(self, content_hash: str) -> list[dict[str, Any]]:
        rows = sorted(self.tables.rows(FLAGS, f"content_hash = {sql_str(content_hash)}"), key=lambda r: r["id"])
        return [{"at": r["at"], "user": r["user"], "note": r["note"], "open": int(r["open"])} for r in rows]

    def audit(self, limit: int | None = None, content_hash: str | None = None,
              since: float | None = None) -> list[dict[str, Any]]:
        where: list[str] = []
        if content_hash:
            where.append(f"content_hash = {sql_str(content_hash)}")
        if since is not None:
            where.append(f"at >= {float(since)!r}")
        rows = sorted(self.tables.rows(AUDIT, " AND ".join(where) or None), key=lambda r: r["id"], reverse=True)
        out = rows[:int(limit)] if limit else rows
        for d in out:
            d["previous"], d["new"] = json.loads(d["previous"]), json.loads(d["new"])
        return out

    # ---- writing --------------------------------------------------------------------------

    def change(self, base: Overlay, user: str, action: str, field: str | None, previous: Any, new: Any,
               *, values: dict[str, Any] | None = None, hidden: bool | None = None,
               approved: bool | None = None, status: str = "active") -> Overlay:
        """Create or update the overlay of ``base.content_hash`` (element data from ``base``),
        then write the audit row."""
        now = time.time()
        row = self._stored(base.content_hash)
        cur = _overlay(row) if row else base
        vals = {**cur.values, **(values or {})}
        vals = {k: v for k, v in vals.items() if v is not None or k in ("caption", "summary")}
        appr_by, appr_at = (user, now) if approved else (cur.approved_by, cur.approved_at)
        if approved is False:
            appr_by = appr_at = None
        out = Overlay(
            content_hash=base.content_hash, source=base.source, values=vals,
            hidden=cur.hidden if hidden is None else hidden, approved=cur.approved if approved is None else approved,
            status=status, element_id=base.element_id, kind=base.kind, page=base.page, preview=base.preview,
            updated_by=user, updated_at=now, approved_by=appr_by, approved_at=appr_at,
            orphan_reason=base.orphan_reason if status == "orphaned" else None)
        self.tables.upsert(OVERLAYS, [_row(out, row["created_at"] if row else now)])
        if approved:  # an approved element leaves the queue: its flags are dealt with
            self.tables.update(FLAGS, f"content_hash = {sql_str(base.content_hash)} AND open", {"open": False})
        self._audit([(user, action, base, field, previous, new)], now)
        return out

    def flag(self, base: Overlay, user: str, note: str = "") -> None:
        now = time.time()
        self.tables.append(FLAGS, [{"id": new_ids()[0], "at": now, "user": user, "source": base.source,
                                    "content_hash": base.content_hash, "element_id": base.element_id,
                                    "note": note, "open": True}])
        self._audit([(user, "flag", base, None, None, note)], now)

    def mark(self, source: str, found: dict[str, str], orphan_reason: str, user: str = "nightly run") -> list[Overlay]:
        """After a re-ingest of ``source``: overlays whose content hash is in ``found`` (hash ->
        element id) become active on that element, the others orphaned. Returns the newly
        orphaned ones (an overlay already orphaned is not reported again)."""
        import dataclasses

        now = time.time()
        newly: list[Overlay] = []
        changed: list[dict[str, Any]] = []
        audits: list[tuple[str, str, Overlay, str | None, Any, Any]] = []
        for row in self.tables.rows(OVERLAYS, f"source = {sql_str(source)} AND status IN ('active', 'orphaned')"):
            ov = _overlay(row)
            if ov.content_hash in found:
                eid = found[ov.content_hash]
                if ov.status != "active" or ov.element_id != eid:
                    changed.append(_row(dataclasses.replace(ov, status="active", element_id=eid, orphan_reason=None),
                                        row["created_at"]))
                    if ov.status == "orphaned":
                        audits.append((user, "restore", ov, None, "orphaned", "active"))
            elif ov.status == "active":
                changed.append(_row(dataclasses.replace(ov, status="orphaned", orphan_reason=orphan_reason),
                                    row["created_at"]))
                audits.append((user, "orphan", ov, None, "active", orphan_reason))
                newly.append(ov)
        if changed:
            self.tables.upsert(OVERLAYS, changed)
        if audits:
            self._audit(audits, now)
        return newly

    def reattach(self, orphan: Overlay, target: Overlay, user: str) -> Overlay:
        """Move an orphaned overlay onto another element (``target``: its hash and data);
        the target's own overlay, if any, keeps what the orphan does not set."""
        now = time.time()
        cur = self.get(target.content_hash) or target
        out = Overlay(
            content_hash=target.content_hash, source=target.source, values={**cur.values, **orphan.values},
            hidden=orphan.hidden or cur.hidden, approved=orphan.approved or cur.approved, status="active",
            element_id=target.element_id, kind=target.kind, page=target.page, preview=target.preview,
            updated_by=user, updated_at=now, approved_by=orphan.approved_by, approved_at=orphan.approved_at)
        created = (self._stored(orphan.content_hash) or {}).get("created_at") or now
        # one commit: the target's row written, the orphan's row gone
        self.tables.upsert(OVERLAYS, [_row(out, created)],
                           delete_where=f"content_hash = {sql_str(orphan.content_hash)}")
        self._audit([(user, "reattach", target, None, orphan.content_hash, target.content_hash)], now)
        return out

    def dismiss(self, ov: Overlay, user: str) -> None:
        now = time.time()
        self.tables.update(OVERLAYS, f"content_hash = {sql_str(ov.content_hash)}",
                           {"status": "dismissed", "updated_at": now, "updated_by": user})
        self._audit([(user, "dismiss", ov, None, ov.status, "dismissed")], now)


def open_overlays(pipe: Pipeline) -> OverlayStore:
    """The overlay store of a pipeline's index, local or remote."""
    return OverlayStore(pipe.location, pipe.store_options(), legacy_dir=pipe.index)


def overlays_for(pipe: Pipeline) -> dict[str, Overlay]:
    """Every overlay of an index by content hash (the export's view of review state:
    values, hidden, approved, who and when, status); {} when nothing was reviewed."""
    return {ov.content_hash: ov for ov in open_overlays(pipe).all()}
