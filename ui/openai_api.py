"""``POST /v1/chat/completions`` and ``GET /v1/models``: the corpus behind the OpenAI API.

The last user message is the question; earlier user/assistant messages are the
conversation a follow-up is rewritten against. The answer text carries [n] markers and
the response an extra ``citations`` field (URLs included), so any OpenAI client or chat
UI can talk to the corpus. Streaming sends the model's pieces as ``delta.content``; the
last chunk carries ``citations`` and, under ``folio``, the checked answer.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from answer import contracts as C
from answer.backends import BackendError
from answer.requests import Ask, AskError
from answer.worker import Busy, Slot
from ui.api import read_json, with_urls
from ui.streams import busy_response, until_disconnect, watched

if TYPE_CHECKING:
    from answer.engine import Engine

MODEL_ID = "folio"


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def _usage(engine: Engine, result: dict[str, Any]) -> dict[str, int]:
    """Token counts by the model's own tokenizer (the answer's text as shown)."""
    done = engine.backend.count_tokens(result["answer"])
    return {"prompt_tokens": result["prompt_tokens"], "completion_tokens": done,
            "total_tokens": result["prompt_tokens"] + done}


def _text(content: Any) -> str:
    """OpenAI message content: a string or a list of parts (text parts are kept)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def parse_messages(messages: Any) -> tuple[str, list[tuple[str, str]]]:
    """(question, [(earlier question, its answer), ...]) from a chat."""
    if not isinstance(messages, list) or not messages:
        raise AskError("messages: required, a non-empty list")
    turns = [(m.get("role"), _text(m.get("content"))) for m in messages if isinstance(m, dict)]
    if not turns or turns[-1][0] != "user":
        raise AskError("messages: the last message must be the user's question")
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for role, text in turns[:-1]:
        if role == "user":
            pending = text
        elif role == "assistant" and pending is not None:
            history.append((pending, text))
            pending = None
    return turns[-1][1], history


def _chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None,
           extra: dict[str, Any] | None = None) -> str:
    obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **(extra or {})}
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def router(engine: Engine) -> APIRouter:
    r = APIRouter()

    @r.get("/v1/models", response_model=C.ModelList)
    def models() -> Any:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "folio",
                                            "description": f"pipeline {engine.pipe.name}: {engine.backend.model_id}"}]}

    @r.post("/v1/chat/completions", response_model=C.ChatCompletion, responses=C.ERRORS)
    async def chat(request: Request) -> Any:
        try:
            body = await read_json(request)
            model = body.get("model")
            if model is not None and model not in (MODEL_ID, engine.backend.model_id):
                # As OpenAI does: a model not served is a 404 naming what is.
                return _error(404, f"model {model!r} is not served here; the models are: {MODEL_ID}",
                              "invalid_request_error")
            question, history = parse_messages(body.get("messages"))
            req = Ask(question, owner=getattr(request.state, "user", None), history=history,
                      k=body.get("k") if isinstance(body.get("k"), int) else None)
            engine.validate(req)
        except AskError as e:
            return _error(e.status, str(e))
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        try:
            slot = engine.admit(req)
        except Busy as e:  # what OpenAI clients expect for "slow down": 429 + Retry-After
            return busy_response(e, {"error": {"message": str(e), "type": "rate_limit_error", "code": e.status}})
        if body.get("stream"):
            return StreamingResponse(watched(request, _stream(engine, req, slot, cid, created)),
                                     media_type="text/event-stream")
        try:
            answered = await until_disconnect(request, engine.answer_async(req, slot))
        except AskError as e:
            return _error(e.status, str(e))
        except Busy as e:
            return busy_response(e, {"error": {"message": str(e), "type": "server_error", "code": e.status}})
        except BackendError as e:
            return _error(502, str(e), "server_error")
        finally:
            slot.release()
        if answered is None:
            return _error(499, "client closed the request")
        result = with_urls(answered)
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["answer"]},
                         "finish_reason": "stop"}],
            "usage": _usage(engine, result),
            "citations": result["citations"],
            "folio": {k: result[k] for k in ("standalone_query", "unsupported", "session_id", "timings")},
        }

    return r


async def _stream(engine: Engine, req: Ask, slot: Slot, cid: str, created: int) -> AsyncGenerator[str, None]:
    yield _chunk(cid, created, {"role": "assistant", "content": ""})
    try:
        async with aclosing(engine.ask_async(req, slot)) as events:  # closed with us: the job stops
            async for ev in events:
                if ev.kind == "token":
                    yield _chunk(cid, created, {"content": ev.data})
                elif ev.kind == "done":
                    result = with_urls(ev.data)
                    yield _chunk(cid, created, {}, "stop", {"citations": result["citations"], "folio": result})
    except Exception as e:  # headers are sent: report in-band, as OpenAI servers do
        code = getattr(e, "status", 500)  # Busy: 503 when no turn came in time
        yield f"data: {json.dumps({'error': {'message': str(e), 'type': 'server_error', 'code': code}})}\n\n"
    yield "data: [DONE]\n\n"
