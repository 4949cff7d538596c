"""The JSON API beside the app: plain functions over the one engine.

POST /api/ask, GET /api/search, /api/elements/{id}, /api/documents, /api/export, /api/sessions/{id},
/api/health.
With ``"stream": true`` /api/ask answers with server-sent events: ``sources`` first,
then ``token`` events, then ``done`` with the same object as the plain call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from answer.backends import BackendError
from answer.contracts import ERRORS, AskBody, AskResult, Documents, ElementOut, Health, SearchResult, Session
from answer.requests import Ask, AskError
from answer.sessions import SessionError
from answer.worker import Busy
from ui.assets import url
from ui.streams import busy_response, until_disconnect, watched

if TYPE_CHECKING:
    from answer.engine import Engine
    from answer.requests import Event


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
    except RecursionError:  # thousands of nested brackets: refused, not a 500
        raise AskError("body: JSON nested too deeply") from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise AskError(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(body, dict):
        raise AskError("body: must be a JSON object")
    return body


MAX_JSON_DEPTH = 8  # the deepest body any route takes is 4 (an OpenAI message's content parts)


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


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
    unknown = set(body) - {"question", "session_id", "k", "filters", "stream", "show_prompt"}
    if unknown:
        raise AskError(f"unknown field(s) {sorted(unknown)}; allowed: question, session_id, k, filters, stream, "
                       "show_prompt")
    return Ask(question, session_id=body.get("session_id"), k=k, filters=filters, owner=owner,
               show_prompt=body.get("show_prompt") is True)


async def sse(events: AsyncIterator[Event]) -> AsyncIterator[str]:
    try:
        async for ev in events:
            data = with_urls(ev.data) if ev.kind == "done" else ev.data
            yield f"event: {ev.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    except AskError as e:
        yield f"event: error\ndata: {json.dumps({'error': str(e), 'status': e.status})}\n\n"
    except Busy as e:
        yield f"event: error\ndata: {json.dumps({'error': str(e), 'status': e.status})}\n\n"
    except Exception as e:  # the stream has started: the error goes in-band
        yield f"event: error\ndata: {json.dumps({'error': str(e)})}\n\n"


def health_figures(engine: Engine, max_age: float = 10.0) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The index figures of /api/health (LanceDB reads), refreshed in the background at
    most every ``max_age`` seconds; only the very first call waits for them."""
    import asyncio
    import time

    import anyio.to_thread

    state: dict[str, Any] = {"data": None, "at": 0.0, "task": None, "limiter": None}

    async def refresh() -> None:
        if state["limiter"] is None:  # its own thread: a busy shared pool cannot delay it
            state["limiter"] = anyio.CapacityLimiter(1)
        state["data"] = await anyio.to_thread.run_sync(engine.health, limiter=state["limiter"])
        state["at"] = time.monotonic()

    async def figures() -> dict[str, Any]:
        if state["data"] is None:
            await refresh()
        elif time.monotonic() - state["at"] > max_age and (state["task"] is None or state["task"].done()):
            state["task"] = asyncio.ensure_future(refresh())
        return dict(state["data"])

    return figures


def router(engine: Engine) -> APIRouter:
    r = APIRouter()
    figures = health_figures(engine)

    @r.post("/api/ask", response_model=AskResult, responses=ERRORS, response_model_exclude_unset=True,
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": AskBody.model_json_schema(ref_template="#/components/schemas/{model}")}}}})
    async def ask(request: Request) -> Any:
        """Answer a question with checked citations; ``"stream": true`` gives server-sent events
        (``sources``, ``token``..., ``done`` with this same object)."""
        try:
            body = await read_json(request)
            req = ask_request(body, getattr(request.state, "user", None))
            engine.validate(req)
        except AskError as e:
            return error(e.status, str(e))
        if req.session_id:  # someone else's (or an unknown) session: a 404 now, not in the stream
            from starlette.concurrency import run_in_threadpool

            if not await run_in_threadpool(engine.sessions.owned, req.session_id, req.owner):
                return error(404, f"session_id: no session {req.session_id!r}")
        try:
            slot = engine.admit(req)  # a full line is refused now, before any work or stream
        except Busy as e:
            return busy_response(e)
        if body.get("stream"):
            return StreamingResponse(sse(watched(request, engine.ask_async(req, slot))),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            result = await until_disconnect(request, engine.answer_async(req, slot))
        except AskError as e:
            return error(e.status, str(e))
        except Busy as e:
            return busy_response(e)
        except BackendError as e:  # the model or the answer server failed: not the client's fault
            return error(502, str(e))
        finally:
            slot.release()
        if result is None:  # the client went away; nobody reads this
            return error(499, "client closed the request")
        return with_urls(result)

    @r.get("/api/elements/{element_id}", response_model=ElementOut, responses=ERRORS, response_model_exclude_unset=True)
    def element(element_id: str, request: Request) -> Any:
        from ui.roles import can_edit

        # A hidden element is the same 404 as an unknown one for readers (no probing).
        el = engine.element(element_id, include_hidden=can_edit(request))
        if el is None:
            return error(404, f"no element {element_id!r} in the index")
        el["crop_url"] = url(el.pop("crop"))
        el["page_url"] = url(el.pop("page_image"), [el["bbox"]] if el.get("bbox") else None)
        return el

    @r.get("/api/search", response_model=SearchResult, responses=ERRORS)
    def search(q: str = "", k: int = 5) -> Any:
        """Retrieval only (no model): the hits a question would get, as ``ingest.py search --json``."""
        from index.reader import hit_dict

        if not q.strip():
            return error(400, "q: empty; give the words to search for")
        if len(q) > engine.pipe.serve.max_question_chars:
            return error(413, f"q: {len(q)} characters, the limit is {engine.pipe.serve.max_question_chars}")
        if not 1 <= k <= 50:
            return error(400, "k: must be between 1 and 50")
        hits = engine.search(q, k)
        elements = engine.store.elements_by_id([i for h in hits for i in h.element_ids])
        return {"hits": [hit_dict(h, elements) for h in hits]}

    @r.get("/api/documents", response_model=Documents)
    def documents() -> Any:
        return {"documents": engine.documents()}

    @r.get("/api/export", responses={**ERRORS, 200: {"description": "the export (docs/export-schema.json)",
                                                       "content": {"application/json": {}}}})
    def export(source: list[str] = Query(default=[])) -> Any:  # noqa: B008  (FastAPI's idiom)
        """The JSON export (docs/export-schema.json) of the given documents, or of all."""
        from folio.errors import FolioError
        from ui.export_ui import export_file

        try:
            path = export_file(engine, source)
        except FolioError as e:
            return error(400, str(e))
        from starlette.background import BackgroundTask

        # Sent once, then deleted: nothing of the corpus is left behind in a temp folder.
        return FileResponse(path, media_type="application/json", filename=path.name,
                            background=BackgroundTask(path.unlink, missing_ok=True))

    @r.get("/api/sessions/{session_id}", response_model=Session, responses=ERRORS, response_model_exclude_unset=True)
    def session(session_id: str, request: Request) -> Any:
        try:
            s = engine.session(session_id, getattr(request.state, "user", None))
        except SessionError as e:
            return error(404, str(e))
        s["turns"] = [with_urls(t) for t in s["turns"]]
        return s

    @r.get("/api/health", response_model=Health)
    async def health() -> Any:
        # On the event loop, from figures refreshed in the background: it answers at once
        # even when every thread is busy, which is what a health check is for.
        from folio import __version__

        return {**await figures(), "queue": engine.worker.in_line(), "version": __version__}

    return r
