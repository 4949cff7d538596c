"""The review JSON API beside /api/ask: queue, elements, edits, flags, orphans, audit log.

    GET  /api/review/queue[?source=&kind=&limit=]         the needs-review queue, best fix first
    GET  /api/review/elements?source=S[&page=&kind=]      a document's elements with review state
    GET  /api/review/elements/{id}                        one element: fields, content hash, overlay,
                                                           flags, audit, grid, crop and page URLs
    POST /api/review/elements/{id}                        {"field": caption|summary|table|hidden|approved,
                                                           "value": ..., "content_hash"?, "source"?}
    POST /api/review/elements/{id}/hide | /unhide | /approve
    POST /api/review/flag                                 {"element_ids": [...], "note"?}  (readers too)
    GET  /api/review/orphans
    POST /api/review/orphans/{hash}/reattach              {"element_id": ...}
    POST /api/review/orphans/{hash}/dismiss
    GET  /api/review/audit[?format=json|csv&limit=&since=]

With login on, every change but a flag needs the reviewer role (403 for readers). Errors
are ``{"error": ...}`` with 400 (bad field), 404, 409 (the element went with a re-ingest),
413 or 422 (invalid table edit, with the reason).
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from answer import contracts as C
from answer.requests import AskError
from index.pages import crop_path, page_path
from review.reviewer import AUDIT_FIELDS, ReviewError
from ui.api import error, read_json
from ui.assets import url
from ui.roles import can_edit, user_of

if TYPE_CHECKING:
    from review.reviewer import Reviewer



def with_asset_urls(el: dict[str, Any]) -> dict[str, Any]:
    """crop_url (the element's own crop) and page_url (its page with the box drawn)."""
    from folio.element import Element

    e = Element.from_dict({k: el[k] for k in Element.__dataclass_fields__ if k in el})
    page = page_path(e.doc_id, e.page) if e.page is not None and e.bbox else None
    return {**el, "crop_url": url(crop_path(e)), "page_url": url(page, [list(e.bbox)] if e.bbox else None)}


def audit_csv(rows: list[dict[str, Any]]) -> str:
    """The audit log as CSV (previous / new as JSON text, so any value fits one cell)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=AUDIT_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "previous": json.dumps(r.get("previous"), ensure_ascii=False),
                    "new": json.dumps(r.get("new"), ensure_ascii=False)})
    return buf.getvalue()


def _int(value: str | None, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except ValueError:
        raise ReviewError(f"{name}: must be a whole number") from None


def router(review: Reviewer) -> APIRouter:
    from starlette.concurrency import run_in_threadpool

    r = APIRouter()

    def refused(request: Request) -> Response | None:
        if can_edit(request):
            return None
        return error(403, f"user {user_of(request)!r} has the reader role: editing needs the reviewer role")

    async def call(fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return await run_in_threadpool(fn, *args, **kw)
        except ReviewError as e:
            return error(e.status, str(e))

    async def body_of(request: Request, allowed: set[str]) -> dict[str, Any]:
        try:
            body = await read_json(request)
        except AskError as e:
            raise ReviewError(str(e)) from None
        unknown = set(body) - allowed
        if unknown:
            raise ReviewError(f"unknown field(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
        return body

    @r.get("/api/review/queue", response_model=C.ReviewQueue, responses=C.ERRORS)
    async def queue(source: str | None = None, kind: str | None = None, limit: str | None = None) -> Any:
        try:
            n = _int(limit, "limit") or 200
        except ReviewError as e:
            return error(e.status, str(e))
        items = await call(review.queue, source or None, kind or None, n)
        return items if isinstance(items, Response) else {"queue": items}

    @r.get("/api/review/elements", response_model=C.ReviewElements, responses=C.ERRORS)
    async def browse(source: str = "", page: str | None = None, kind: str | None = None) -> Any:
        if not source:
            return error(400, "source: required, a document path as listed by /api/documents")
        try:
            p = _int(page, "page")
        except ReviewError as e:
            return error(e.status, str(e))
        rows = await call(review.browse, source, p, kind or None)
        return rows if isinstance(rows, Response) else {"elements": rows}

    @r.get("/api/review/elements/{element_id}", response_model=C.ReviewElement, responses=C.ERRORS)
    async def element(element_id: str, request: Request) -> Any:
        el = await run_in_threadpool(review.element, element_id)
        if el is None or (el["hidden"] and not can_edit(request)):
            # A hidden element is for reviewers: readers get the 404 of an unknown id.
            return error(404, f"no element {element_id!r} in the index")
        return with_asset_urls(el)

    async def _edit(request: Request, element_id: str, field: str | None = None, value: Any = None) -> Any:
        if (denied := refused(request)) is not None:
            return denied
        try:
            if field is None:
                body = await body_of(request, {"field", "value", "content_hash", "source"})
                field, value = body.get("field"), body.get("value")
                if not isinstance(field, str):
                    raise ReviewError("field: required, one of caption, summary, table, hidden, approved")
            else:
                body = {}
        except ReviewError as e:
            return error(e.status, str(e))
        out = await call(review.edit, element_id, field, value, user_of(request), body.get("content_hash"),
                         body.get("source"))
        if isinstance(out, dict) and out.get("element"):
            out["element"] = with_asset_urls(out["element"])
        return out

    @r.post("/api/review/elements/{element_id}", response_model=C.ReviewEdit, responses=C.ERRORS)
    async def edit(request: Request, element_id: str) -> Any:
        return await _edit(request, element_id)

    @r.post("/api/review/elements/{element_id}/hide", response_model=C.ReviewEdit, responses=C.ERRORS)
    async def hide(request: Request, element_id: str) -> Any:
        return await _edit(request, element_id, "hidden", True)

    @r.post("/api/review/elements/{element_id}/unhide", response_model=C.ReviewEdit, responses=C.ERRORS)
    async def unhide(request: Request, element_id: str) -> Any:
        return await _edit(request, element_id, "hidden", False)

    @r.post("/api/review/elements/{element_id}/approve", response_model=C.ReviewEdit, responses=C.ERRORS)
    async def approve(request: Request, element_id: str) -> Any:
        return await _edit(request, element_id, "approved", True)

    @r.post("/api/review/flag", response_model=C.Flagged, responses=C.ERRORS)
    async def flag(request: Request) -> Any:
        try:
            body = await body_of(request, {"element_ids", "note"})
            ids = body.get("element_ids")
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) or len(ids) > 50:
                raise ReviewError("element_ids: required, a list of 1-50 element ids")
            note = body.get("note") or ""
            if not isinstance(note, str):
                raise ReviewError("note: must be a string")
        except ReviewError as e:
            return error(e.status, str(e))
        n = await call(review.flag, ids, user_of(request), note)
        return n if isinstance(n, Response) else {"flagged": n}

    @r.get("/api/review/orphans", response_model=C.Orphans)
    async def orphans() -> Any:
        return {"orphans": await run_in_threadpool(review.orphans)}

    @r.post("/api/review/orphans/{content_hash}/reattach", response_model=C.Reattached, responses=C.ERRORS)
    async def reattach(request: Request, content_hash: str) -> Any:
        if (denied := refused(request)) is not None:
            return denied
        try:
            body = await body_of(request, {"element_id"})
            if not isinstance(body.get("element_id"), str):
                raise ReviewError("element_id: required, the element to attach the overlay to")
        except ReviewError as e:
            return error(e.status, str(e))
        out = await call(review.reattach, content_hash, body["element_id"], user_of(request))
        return out if isinstance(out, Response) else {"overlay": out}

    @r.post("/api/review/orphans/{content_hash}/dismiss", response_model=C.Dismissed, responses=C.ERRORS)
    async def dismiss(request: Request, content_hash: str) -> Any:
        if (denied := refused(request)) is not None:
            return denied
        out = await call(review.dismiss, content_hash, user_of(request))
        return out if isinstance(out, Response) else {"dismissed": content_hash}

    @r.get("/api/review/audit", response_model=C.Audit, responses={**C.ERRORS, 200: {"content": {"text/csv": {}}}})
    async def audit(format: str = "json", limit: str | None = None, since: str | None = None) -> Any:
        try:
            n = _int(limit, "limit")
            t = float(since) if since else None
        except (ReviewError, ValueError):
            return error(400, "limit / since: must be numbers (since: seconds since the epoch)")
        rows = await run_in_threadpool(review.audit, n, t)
        if format == "csv":
            return Response(audit_csv(rows), media_type="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="folio-audit.csv"'})
        if format != "json":
            return error(400, f"format: {format!r} is not one of json, csv")
        return {"audit": rows}

    return r
