"""The JSON API beside the app: plain functions over the one engine.

POST /api/ask, GET /api/search, /api/elements/{id}, /api/documents, /api/export, /api/sessions/{id},
/api/health.
With ``"stream": true`` /api/ask answers with server-sent events: ``sources`` first,
then ``token`` events, then ``done`` with the same object as the plain call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from answer.backends import BackendError
from answer.engine import Ask, AskError
from answer.queue import QueueFull
from answer.sessions import SessionError
from ui.assets import url

if TYPE_CHECKING:
    from answer.engine import Engine, Event


def with_urls(result: dict[str, Any]) -> dict[str, Any]:
    """Asset paths -> URLs: ``image_url`` (the crop) and ``page_url`` (the page, box drawn)."""
    out = dict(result)
    out["citations"] = [
        {**c, "image_url": url(c.get("image")), "page_url": url(c.get("page_image"), c.get("boxes"))}
        for c in result.get("citations", [])
    ]
    return out


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AskError(f"body: not valid JSON ({e})") from None
    if not isinstance(body, dict):
        raise AskError("body: must be a JSON object")
    return body


def ask_request(body: dict[str, Any], owner: str | None) -> Ask:
    question = body.get("question")
    if not isinstance(question, str):
        raise AskError("question: required, a string")
    k = body.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool)):
        raise AskError("k: must be an integer")
    filters = body.get("filters") or {}
    if not isinstance(filters, dict):
        raise AskError("filters: must be an object with source, kind or page")
    unknown = set(body) - {"question", "session_id", "k", "filters", "stream"}
    if unknown:
        raise AskError(f"unknown field(s) {sorted(unknown)}; allowed: question, session_id, k, filters, stream")
    return Ask(question, session_id=body.get("session_id"), k=k, filters=filters, owner=owner)


def sse(events: Iterator[Event]) -> Iterator[str]:
    try:
        for ev in events:
            data = with_urls(ev.data) if ev.kind == "done" else ev.data
            if ev.kind == "done":
                data.pop("prompt", None)
            yield f"event: {ev.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    except Exception as e:  # the stream has started: the error goes in-band
        yield f"event: error\ndata: {json.dumps({'error': str(e)})}\n\n"


def router(engine: Engine) -> APIRouter:
    r = APIRouter()

    @r.post("/api/ask")
    async def ask(request: Request) -> Any:
        try:
            body = await read_json(request)
            req = ask_request(body, getattr(request.state, "user", None))
            engine.validate(req)
        except AskError as e:
            return error(e.status, str(e))
        if body.get("stream"):
            return StreamingResponse(sse(engine.ask(req)), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        from starlette.concurrency import run_in_threadpool

        try:
            result = await run_in_threadpool(engine.answer, req)
        except AskError as e:
            return error(e.status, str(e))
        except QueueFull as e:
            return error(503, str(e))
        except BackendError as e:  # the model or the answer server failed: not the client's fault
            return error(502, str(e))
        result.pop("prompt", None)
        return with_urls(result)

    @r.get("/api/elements/{element_id}")
    def element(element_id: str) -> Any:
        el = engine.element(element_id)
        if el is None:
            return error(404, f"no element {element_id!r} in the index")
        el["crop_url"] = url(el.pop("crop"))
        el["page_url"] = url(el.pop("page_image"), [el["bbox"]] if el.get("bbox") else None)
        return el

    @r.get("/api/search")
    def search(q: str = "", k: int = 5) -> Any:
        """Retrieval only (no model): the hits a question would get, as ``ingest.py search --json``."""
        from index.reader import hit_dict

        if not q.strip():
            return error(400, "q: empty; give the words to search for")
        if not 1 <= k <= 50:
            return error(400, "k: must be between 1 and 50")
        hits = engine.search(q, k)
        elements = engine.store.elements_by_id([i for h in hits for i in h.element_ids])
        return {"hits": [hit_dict(h, elements) for h in hits]}

    @r.get("/api/documents")
    def documents() -> Any:
        return {"documents": engine.documents()}

    @r.get("/api/export")
    def export(source: list[str] = Query(default=[])) -> Any:  # noqa: B008  (FastAPI's idiom)
        """The JSON export (docs/export-schema.json) of the given documents, or of all."""
        from folio.errors import FolioError
        from ui.export_ui import export_file

        try:
            path = export_file(engine, source)
        except FolioError as e:
            return error(400, str(e))
        return FileResponse(path, media_type="application/json", filename=path.name)

    @r.get("/api/sessions/{session_id}")
    def session(session_id: str) -> Any:
        try:
            s = engine.session(session_id)
        except SessionError as e:
            return error(404, str(e))
        s["turns"] = [with_urls(t) for t in s["turns"]]
        return s

    @r.get("/api/health")
    def health() -> Any:
        from folio import __version__

        return {**engine.health(), "version": __version__}

    return r
