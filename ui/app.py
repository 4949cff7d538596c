"""One process: the Gradio app mounted in a FastAPI app, with the JSON API, the
OpenAI-compatible endpoint, the MCP server (/mcp) and the asset route beside it, all over one engine.

Fully offline: analytics are off (folio.offline), the theme uses local fonts, and the
page loads nothing from another host (checked by the Chromium test).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.requests import Request

from answer.engine import Ask
from ui import ask_tab, cards, corpus_tab, review_tab
from ui.api import with_urls

if TYPE_CHECKING:
    from fastapi import FastAPI

    from answer.engine import Engine
    from review.reviewer import Reviewer
    from ui.auth import Authenticator

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class Guard:
    """Pure ASGI middleware: login (when required) and the request body size limit.

    Streaming responses pass through untouched (BaseHTTPMiddleware would buffer SSE)."""

    def __init__(self, app: ASGI, auth: Authenticator | None, max_body: int) -> None:
        self.app, self.auth, self.max_body = app, auth, max_body

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if any(seg in ("..", ".") for seg in scope.get("path", "").split("/")):
            # A dot segment the client did not normalise away: no route may see it.
            await _reply(send, 404, {"error": "not found"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.auth is not None:
            user = self.auth.user(headers.get("authorization"))
            if user is None:
                await _reply(send, 401, {"error": "login required"},
                             [(b"www-authenticate", b'Basic realm="Folio", charset="UTF-8"')])
                return
            scope.setdefault("state", {})["user"] = user.name
            scope["state"]["role"] = user.role
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _reply(send, 413, {"error": f"request body over {self.max_body} bytes"})
            return
        await self.app(scope, _limited(receive, self.max_body, send) if length is None else receive, send)


def _limited(receive: Any, limit: int, send: Any) -> Any:
    """A chunked body without Content-Length is cut off once past the limit."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        msg = await receive()
        if msg["type"] == "http.request":
            seen += len(msg.get("body", b""))
            if seen > limit:
                raise ValueError(f"request body over {limit} bytes")
        return msg

    return wrapped


async def _reply(send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": data})


def role_checker(auth: Authenticator | None) -> Callable[[Any], tuple[str, bool]]:
    """request -> (user name, may edit): everyone reviews without login (loopback), only
    the reviewer role with it."""

    def role_of(request: Any) -> tuple[str, bool]:
        name = getattr(request, "username", None) or "local"
        if auth is None:
            return name, True
        user = auth.users.get(name)
        return name, bool(user and user.role == "reviewer")

    return role_of


def build_blocks(engine: Engine, review: Reviewer | None = None, auth: Authenticator | None = None) -> Any:
    role_of = role_checker(auth)
    with gr.Blocks(title="Folio", analytics_enabled=False) as blocks:
        gr.Markdown(f"## Folio · {engine.pipe.name}")
        with gr.Tab("Ask"):
            ask_tab.build(engine, gr, blocks)
        if review is not None:
            with gr.Tab("Review", elem_id="folio-review-tab") as review_ui:
                docs = [d["source"] for d in engine.documents() if d["status"] != "error"]
                fill, inputs, outputs = review_tab.build(review, docs, role_of)
            # the needs-review list is there when the tab opens, not after a click on Refresh
            review_ui.select(fill, inputs, outputs, api_visibility="private")
        with gr.Tab("Corpus"):
            corpus_outs = corpus_tab.build(engine, gr)
        blocks.load(lambda: corpus_tab.corpus_view(engine), None, corpus_outs, api_name=False)

        def ask(question: str, session_id: str = "", k: int = 0, source: str = "", kind: str = "") -> dict[str, Any]:
            """Answer a question with checked citations (the JSON of /api/ask)."""
            filters = {key: v for key, v in (("source", source), ("kind", kind)) if v}
            result = engine.answer(Ask(question, session_id=session_id or None, k=k or None, filters=filters))
            result.pop("prompt", None)
            return with_urls(result)

        gr.api(ask, api_name="ask", concurrency_limit=None)

        if review is not None:
            rv = review

            def review_edit(element_id: str, field: str, value: str, request: gr.Request) -> dict[str, Any]:
                """Edit an element (field: caption, summary; the JSON API takes every field)."""
                user, allowed = role_of(request)
                if not allowed:
                    raise gr.Error(f"user {user!r} has the reader role: editing needs the reviewer role")
                from review.reviewer import ReviewError

                try:
                    out = rv.edit(element_id, field, value, user)
                except ReviewError as e:
                    raise gr.Error(str(e)) from None
                return {"overlay": out["overlay"], "refresh": out["refresh"]}

            gr.api(review_edit, api_name="review_edit")
    blocks.queue(default_concurrency_limit=None, max_size=engine.pipe.serve.queue_size)
    return blocks


def build_app(engine: Engine, auth: Authenticator | None = None) -> FastAPI:
    from fastapi import FastAPI

    from ui import api, openai_api
    from ui.assets import asset_response

    app = FastAPI(title="Folio", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    from review.reviewer import Reviewer
    from ui import review_api

    review = Reviewer(engine.pipe, engine.store, engine.embedder)
    app.include_router(api.router(engine))
    app.include_router(review_api.router(review))
    app.include_router(openai_api.router(engine))
    root = engine.pipe.assets_dir

    from gradio.routes import BUILD_PATH_LIB

    frontend = Path(BUILD_PATH_LIB)

    @app.get("/assets/{path:path}")
    def assets(request: Request) -> Any:
        return asset_response(request, root, engine.renderer, frontend)

    def user_of(request: Request) -> str | None:
        # The Guard already checked the login; without login everyone is the local user.
        return getattr(request.state, "user", None) or "local"

    from ui import mcp

    mcp.mount(app, engine, login=auth is not None)  # before Gradio takes the root path
    blocks = build_blocks(engine, review, auth)
    app = gr.mount_gradio_app(app, blocks, path="", css=cards.CSS, auth_dependency=user_of,
                              footer_links=["api"], show_error=True, head=cards.FLAG_SCRIPT)
    app.add_middleware(Guard, auth=auth, max_body=engine.pipe.serve.max_body_bytes)  # type: ignore[arg-type]
    return app


def basic(user: str, password: str) -> str:
    """An Authorization header value (tests, clients)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
