"""Review: edit, hide, approve, flag; orphans; the audit log. Plain functions over the
store, the embedder and the overlay store, used by the app's tab and JSON API.

An edit is saved as an overlay (with its audit row) first, then applied at once: the
document's chunks are re-built and the changed ones re-embedded (index/reindex.py), so
the next question already searches the corrected text. Edits are applied one at a time
(a lock): each re-writes its document's rows from the committed version.

Concurrent re-ingest: an edit addresses an element by id (and, from the app, by content
hash). If the nightly run replaced the document meanwhile and the element is still there
(same content hash), the edit goes to it; if it is gone, the edit is refused with a
conflict (HTTP 409) and kept as an orphaned overlay, so nothing typed is lost and it can
be re-attached to the element that replaced it.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any

from folio.errors import FolioError
from folio.review import HASH_KEY, REVIEW_MODEL, Overlay, apply_overlays, content_hash_of, stamp_content_hashes
from index.reindex import DocumentGone, Refresh, refresh_document
from review.overlays import open_overlays
from review.queue import preview, queue_of

if TYPE_CHECKING:
    from folio.config import Pipeline
    from folio.element import Element
    from index.reindex import TextEmbedder
    from index.store import Store

FIELDS = ("caption", "summary", "table", "hidden", "approved")
AUDIT_FIELDS = ["id", "at", "user", "action", "source", "content_hash", "element_id", "field", "previous", "new"]
MAX_TEXT = 4000


class ReviewError(FolioError):
    """A review request that cannot be done; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Conflict(ReviewError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 409)


def _text_value(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReviewError(f"value: the {field} must be a string")
    v = " ".join(value.split())
    if len(v) > MAX_TEXT:
        raise ReviewError(f"value: the {field} has {len(v)} characters, the limit is {MAX_TEXT}", 413)
    return v or None


class Reviewer:
    def __init__(self, pipe: Pipeline, store: Store, embedder: TextEmbedder, max_tokens: int | None = None) -> None:
        self.pipe, self.store, self.embedder = pipe, store, embedder
        self.overlays = open_overlays(pipe)
        self.max_tokens = max_tokens or pipe.chunk.max_tokens or int(getattr(embedder, "max_tokens", 256))
        self._lock = threading.Lock()

    # ---- elements -----------------------------------------------------------------------

    @staticmethod
    def base(e: Element) -> Overlay:
        """An overlay shell carrying the element's identity (hash, source, id, page, words)."""
        return Overlay(content_hash=content_hash_of(e), source=e.source, element_id=e.id, kind=e.kind,
                       page=e.page, preview=preview(e.caption or e.summary or e.text))

    def _committed(self, source: str) -> list[Element]:
        """The committed elements of ``source``, content-hashed as the nightly run does
        (elements indexed before hashes were stamped get theirs here, persisted by the
        next edit of their document)."""
        write_id = self.store.committed_writes().get(source)
        els = self.store.elements(source, write_id=write_id) if write_id else []
        return stamp_content_hashes(els, self.pipe.assets_dir)

    def _stamped(self, el: Element) -> Element:
        if HASH_KEY in el.meta:
            return el
        return next((e for e in self._committed(el.source) if e.id == el.id), el)

    def current(self, element_id: str, content_hash: str | None = None, source: str | None = None) -> Element:
        """The element as committed now; found by content hash when its id changed with a
        re-ingest; Conflict when the document no longer has it."""
        found = self.store.elements_by_id([element_id]).get(element_id)
        src = found.source if found is not None else source
        if src is None and content_hash:
            ov = self.overlays.get(content_hash)
            src = ov.source if ov else None
        if src is None:
            raise ReviewError(f"element_id: no element {element_id!r} in the index", 404)
        els = self._committed(src)
        for e in els:
            if e.id == element_id:
                return e
        h = content_hash or (content_hash_of(found) if found is not None else None)
        if h:
            for e in els:
                if content_hash_of(e) == h:
                    return e
        raise Conflict(f"element {element_id} of {src} was removed by a re-ingest of the document "
                       f"({'deleted' if not els else 'its content changed'}); reload the document and edit "
                       "the element that replaced it")

    def element(self, element_id: str) -> dict[str, Any] | None:
        from review.table_edit import dense_grid

        el = self.store.elements_by_id([element_id]).get(element_id)
        if el is None:
            return None
        el = self._stamped(el)
        h = content_hash_of(el)
        ov = self.overlays.get(h)
        d = el.to_dict()
        d.pop("embed_text", None)
        d["content_hash"] = h
        d["grid"] = dense_grid(el.html, el.text) if el.kind == "table" else None
        d["overlay"] = ov.to_dict() if ov else None
        d["hidden"] = bool(ov and ov.status == "active" and ov.hidden)
        d["approved"] = bool(ov and ov.status == "active" and ov.approved)
        d["flags"] = self.overlays.flags(h)
        d["audit"] = self.overlays.audit(20, content_hash=h)
        return d

    def browse(self, source: str, page: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """A document's committed elements (optionally one page / kind) with their review state."""
        ovs = self.overlays.for_source(source, ("active",))
        out = []
        for e in self._committed(source):
            if (page is not None and e.page != page) or (kind and e.kind != kind):
                continue
            ov = ovs.get(content_hash_of(e))
            state = [s for s, on in (("edited", ov and ov.values), ("hidden", ov and ov.hidden),
                                     ("approved", ov and ov.approved)) if on]
            out.append({"element_id": e.id, "page": e.page, "kind": e.kind, "role": e.role,
                        "state": ", ".join(state), "preview": preview(e.caption or e.summary or e.text)})
        return out

    # ---- edits --------------------------------------------------------------------------

    def edit(self, element_id: str, field: str, value: Any, user: str, content_hash: str | None = None,
             source: str | None = None) -> dict[str, Any]:
        """Apply one edit; returns the element as now stored, its overlay and what was re-indexed."""
        if field not in FIELDS:
            raise ReviewError(f"field: {field!r} is not one of {', '.join(FIELDS)}")
        with self._lock:
            self.store.refresh()
            try:
                el = self.current(element_id, content_hash, source)
            except Conflict:
                if content_hash and source:
                    self._keep_orphan(element_id, content_hash, source, field, value, user)
                raise
            base = self.base(el)
            kw, previous, new = self._change(el, field, value, user)
            action = {"hidden": "hide" if value else "unhide",
                      "approved": "approve" if value else "unapprove"}.get(field, "edit")
            ov = self.overlays.change(base, user, action, field, previous, new, **kw)
            # Approving changes no text; a document without stamped hashes is re-written once
            # all the same, so the queue and the export see the hash the overlay uses.
            stamped = HASH_KEY in (self.store.elements_by_id([el.id]).get(el.id) or el).meta
            refresh = None if field == "approved" and stamped else self._refresh(el.source)
        return {"element": self.element(el.id), "overlay": ov.to_dict(),
                "refresh": dataclasses.asdict(refresh) if refresh else None}

    def _change(self, el: Element, field: str, value: Any, user: str) -> tuple[dict[str, Any], Any, Any]:
        """(overlay change kwargs, previous value, new value) of a validated edit."""
        if field in ("hidden", "approved"):
            if not isinstance(value, bool):
                raise ReviewError(f"value: {field} takes true or false")
            ov = self.overlays.get(content_hash_of(el))
            return {field: value}, bool(ov and getattr(ov, field)), value
        if field == "caption":
            if el.kind != "image":
                raise ReviewError(f"field: a {el.kind} element has no caption to edit (pictures have)")
            v = _text_value(value, "caption")
            return {"values": {"caption": v, "caption_model": REVIEW_MODEL + user}}, el.caption, v
        if el.kind != "table":
            raise ReviewError(f"field: {field} applies to tables; element {el.id} is a {el.kind}")
        if field == "summary":
            v = _text_value(value, "summary")
            return {"values": {"summary": v, "summary_model": REVIEW_MODEL + user}}, el.summary, v
        from review.table_edit import TableEditError, table_from_grid, table_from_html

        try:
            if isinstance(value, dict) and "cells" in value:
                html, text = table_from_grid(value["cells"], el.html)
            elif isinstance(value, dict) and "html" in value:
                html, text = table_from_html(value["html"])
            else:
                raise TableEditError("value: a table edit is {\"cells\": [[...], ...]} or {\"html\": \"<table>...\"}")
        except TableEditError as e:
            raise ReviewError(f"invalid table edit: {e}", 422) from None
        return {"values": {"html": html, "text": text}}, el.html, html

    def _keep_orphan(self, element_id: str, content_hash: str, source: str, field: str, value: Any,
                     user: str) -> None:
        """An edit that lost its element to a concurrent re-ingest is stored as an orphan."""
        if field not in ("caption", "summary"):
            return  # a table edit needs its table to be validated; hide/approve need their element
        v = _text_value(value, field)
        base = Overlay(content_hash=content_hash, source=source, element_id=element_id,
                       orphan_reason="element removed by a re-ingest while it was being edited")
        values = {field: v, f"{field}_model": REVIEW_MODEL + user}
        self.overlays.change(base, user, "edit", field, None, v, values=values, status="orphaned")

    def _refresh(self, source: str) -> Refresh:
        def apply(els: list[Element]) -> list[Element]:
            return apply_overlays(stamp_content_hashes(els, self.pipe.assets_dir), self.overlays.for_source(source))[0]

        try:
            return refresh_document(self.store, self.embedder, self.max_tokens, source, apply)
        except DocumentGone as e:
            raise Conflict(f"{e}: the edit is saved and applies if the document comes back") from None

    def flag(self, element_ids: list[str], user: str, note: str = "") -> int:
        els = self.store.elements_by_id(element_ids)
        if not els:
            raise ReviewError("element_ids: none of these elements is in the index", 404)
        for e in els.values():
            self.overlays.flag(self.base(self._stamped(e)), user, note[:500])
        legacy = {e.source for e in els.values() if HASH_KEY not in e.meta}
        with self._lock:  # persist the hashes the flags use (see edit)
            for source in legacy:
                self._refresh(source)
        return len(els)

    # ---- queue, orphans, audit ----------------------------------------------------------

    def queue(self, source: str | None = None, kind: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        items = queue_of(self.store, self.overlays, source=source, kind=kind, limit=limit)
        return [dataclasses.asdict(i) for i in items]

    def orphans(self) -> list[dict[str, Any]]:
        return [ov.to_dict() for ov in self.overlays.all("orphaned")]

    def reattach(self, content_hash: str, element_id: str, user: str) -> dict[str, Any]:
        with self._lock:
            self.store.refresh()
            orphan = self.overlays.get(content_hash)
            if orphan is None or orphan.status != "orphaned":
                raise ReviewError(f"content_hash: no orphaned overlay {content_hash!r}", 404)
            target = self.current(element_id)
            kinds = {k for k in orphan.values if k not in ("caption_model", "summary_model", "text")}
            needs = "image" if "caption" in kinds else "table" if kinds else target.kind
            if needs != target.kind:
                raise ReviewError(f"element_id: the overlay edits {', '.join(sorted(kinds))}, which a "
                                  f"{target.kind} element does not have")
            ov = self.overlays.reattach(orphan, self.base(target), user)
            self._refresh(target.source)
        return ov.to_dict()

    def dismiss(self, content_hash: str, user: str) -> None:
        ov = self.overlays.get(content_hash)
        if ov is None or ov.status == "dismissed":
            raise ReviewError(f"content_hash: no overlay {content_hash!r} to dismiss", 404)
        with self._lock:
            self.overlays.dismiss(ov, user)
            if ov.status == "active":
                self._refresh(ov.source)

    def audit(self, limit: int | None = None, since: float | None = None) -> list[dict[str, Any]]:
        return self.overlays.audit(limit, since=since)
