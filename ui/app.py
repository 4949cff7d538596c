"""One process: the Gradio app mounted in a FastAPI app, with the JSON API, the
OpenAI-compatible endpoint, the MCP server (/mcp) and the asset route beside it, all over one engine.

Fully offline: analytics are off (folio.offline), the theme uses local fonts, and the
page loads nothing from another host (checked by the Chromium test). Every request passes
ui/guard.py first (host, login, same-origin changes, body size) and every response gets
the headers of ui/security.py (CSP with a per-response script nonce, nosniff, no framing).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.requests import Request

from answer.requests import Ask, AskError
from answer.worker import Busy
from ui import ask_tab, cards, corpus_tab, review_tab, runs_chart
from ui.api import with_urls

if TYPE_CHECKING:
    from fastapi import FastAPI

    from answer.engine import Engine
    from review.reviewer import Reviewer
    from ui.auth import Authenticator


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


def build_blocks(engine: Engine, review: Reviewer | None = None, auth: Authenticator | None = None,
                 uploads: bool = False) -> Any:
    role_of = role_checker(auth)
    with gr.Blocks(title="Folio", analytics_enabled=False) as blocks:
        gr.Markdown(f"## Folio · {engine.pipe.name}")
        with gr.Tab("Ask"):
            ask_tab.build(engine, gr, blocks, login=auth is not None)
        if review is not None:
            with gr.Tab("Review", elem_id="folio-review-tab") as review_ui:
                docs = [d["source"] for d in engine.documents() if d["status"] != "error"]
                fill, inputs, outputs = review_tab.build(review, docs, role_of)
            # the needs-review list is there when the tab opens, not after a click on Refresh
            review_ui.select(fill, inputs, outputs, api_visibility="private")
        overlays = review.overlays if review is not None else None
        with gr.Tab("Corpus"):
            corpus_outs = corpus_tab.build(engine, gr, uploads, overlays)
        blocks.load(lambda: corpus_tab.corpus_view(engine, overlays), None, corpus_outs, api_name=False)

        async def ask(question: str, session_id: str = "", k: int = 0, source: str = "", kind: str = "",
                      request: gr.Request = None) -> dict[str, Any]:  # type: ignore[assignment]
            """Answer a question with checked citations (the JSON of /api/ask)."""
            filters = {key: v for key, v in (("source", source), ("kind", kind)) if v}
            owner = getattr(request, "username", None) if auth is not None else None
            try:
                result = await engine.answer_async(Ask(question, session_id=session_id or None, k=k or None,
                                                       filters=filters, owner=owner))
            except Busy as e:
                raise gr.Error(f"busy: {e}; retry in {e.retry_after} s") from None
            except AskError as e:
                raise gr.Error(str(e)) from None
            # gradio_client takes any dict with a "path" key for a file to download, and
            # "path" here names the answer path (extract, lookup...): renamed for this endpoint.
            result["answer_path"] = result.pop("path", None)
            return with_urls(result)

        gr.api(ask, api_name="ask", concurrency_limit=engine.pipe.serve.queue_size, concurrency_id="folio-ask")

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


def build_app(engine: Engine, auth: Authenticator | None = None, hosts: set[str] | None = None,
              ingest: list[str] | None = None) -> FastAPI:
    """The whole app; ``hosts``: the Host names it answers to (ui.guard.allowed_hosts);
    ``ingest``: the `ingest.py ... run` command of this pipeline (uploads: ui/uploads.py)."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    from ui import api, docs_page, openai_api
    from ui.assets import asset_response
    from ui.guard import Guard
    from ui.security import SecurityHeaders
    from ui.starlette_names import restore_old_names

    restore_old_names()  # before Gradio's routes run: no deprecation warning per page event
    # FastAPI's docs page would load Swagger UI from a CDN: ours serves it from the wheel.
    app = FastAPI(title="Folio", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    docs_page.mount(app)
    from review.reviewer import Reviewer
    from ui import review_api

    review = Reviewer(engine.pipe, engine.store, engine.embedder)
    # The review queue's table checks take seconds on a large index the first time (then
    # they are cached per table): made now, the Corpus and Review tabs open at once.
    threading.Thread(target=review.queue, kwargs={"limit": 1}, name="folio-queue-warmup", daemon=True).start()
    app.include_router(api.router(engine))
    app.include_router(review_api.router(review))
    app.include_router(openai_api.router(engine))
    from ui import uploads_api
    from ui.uploads import Uploads

    uploads = Uploads(engine.pipe, engine.store, ingest) if ingest and engine.pipe.serve.upload_dir else None
    if uploads is not None:
        app.include_router(uploads_api.router(uploads))
    root = engine.pipe.assets_dir

    from gradio.routes import BUILD_PATH_LIB

    frontend = Path(BUILD_PATH_LIB)

    @app.get("/assets/{path:path}", include_in_schema=False)
    def assets(request: Request) -> Any:
        return asset_response(request, root, engine.renderer, frontend)

    @app.get("/folio-ui.js", include_in_schema=False)
    def ui_script() -> Any:
        # A file, not an inline script: the CSP runs scripts from this server only.
        return Response(cards.UI_SCRIPT + corpus_tab.UPLOAD_SCRIPT + review_tab.KEYS_SCRIPT,
                        media_type="application/javascript")

    def user_of(request: Request) -> str | None:
        # The Guard already checked the login; without login everyone is the local user.
        return getattr(request.state, "user", None) or "local"

    @app.post("/gradio_api/upload", include_in_schema=False)
    def no_uploads() -> Any:
        # No component of the app takes a file, so Gradio's upload route (any user could
        # fill the disk through it) is closed; declared before Gradio's mount, it wins.
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": "uploads: this app takes no files"}, status_code=403)

    from ui import mcp

    mcp.mount(app, engine, login=auth is not None)  # before Gradio takes the root path
    blocks = build_blocks(engine, review, auth, uploads is not None)
    css = cards.CSS + runs_chart.CSS + review_tab.CSS
    app = gr.mount_gradio_app(app, blocks, path="", css=css, auth_dependency=user_of,
                              footer_links=["api"], show_error=True, head=cards.HEAD,
                              mcp_server=False, ssr_mode=False, max_file_size="1mb")
    app.add_middleware(Guard, auth=auth, max_body=engine.pipe.serve.max_body_bytes,  # type: ignore[arg-type]
                       hosts=hosts, upload_max=uploads.max_bytes if uploads else 0)
    app.add_middleware(SecurityHeaders)  # outermost: the guard's refusals get the headers too
    return app


def basic(user: str, password: str) -> str:
    """An Authorization header value (tests, clients)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
