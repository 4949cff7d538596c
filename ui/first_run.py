"""The first page of a pipeline with nothing indexed yet: instead of refusing to start
(or an app with empty tabs), ``serve.py`` answers every page with the command that
indexes the documents, and ``/api/health`` with ``"status": "empty"``. It checks the index
every few seconds and, once the first document is committed, serve.py starts the real app
on the same address (the page reloads itself to it).

The page is built here from our own words; the only values from elsewhere (the pipeline
name, paths, failed documents and their errors) are escaped.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from folio.config import Pipeline
    from ui.auth import Authenticator

POLL_S = 5.0  # how often serve.py looks for the first committed document
MAX_FAILED = 20  # failed documents listed on the page

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Folio · nothing indexed yet</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{refresh}">
<style>
body {{font-family: system-ui, sans-serif; max-width: 760px; margin: 48px auto; padding: 0 20px;
  color: #1f2328; line-height: 1.5;}}
h1 {{font-size: 1.5em; margin-bottom: 0.2em;}}
.sub {{color: #5b6270; margin-top: 0;}}
pre {{background: #f4f5f7; border: 1px solid #d0d4db; border-radius: 6px; padding: 10px 14px;
  overflow-x: auto; font-size: 0.95em;}}
li {{margin: 2px 0;}}
.failed {{color: #8a2b1e;}}
</style></head>
<body>
<h1>Nothing indexed yet</h1>
<p class="sub">Folio · pipeline <b>{name}</b> · index <code>{index}</code></p>
<p>Folio answers from the documents it has indexed, and this pipeline's index {state}.
Index the documents of the pipeline's sources with:</p>
<pre id="folio-first-command">{command}</pre>
<p>Sources: {sources}</p>
{failed}
<p>This page reloads itself every {refresh} seconds; as soon as the first document is indexed
the app opens here (Ask, Review and Corpus tabs). Indexing runs every night the same way
(cron): see <code>docs/nightly-run.md</code>. To try Folio on the bundled samples instead:
<code>make demo</code>.</p>
</body></html>
"""


def index_is_empty(pipe: Pipeline) -> bool:
    """True while no chunk is committed (no index folder, or only failed documents)."""
    if pipe.remote is None and not (pipe.index / "lancedb").is_dir():
        return True
    from index.store import open_index

    return open_index(pipe).count_chunks() == 0


def page(pipe: Pipeline, command: str) -> str:
    from review.backlog import corpus_status

    exists = pipe.remote is not None or (pipe.index / "lancedb").is_dir()
    failed_docs: list[dict[str, Any]] = []
    if exists:
        from index.store import open_index

        failed_docs = corpus_status(pipe, open_index(pipe), review=False, runs=1)["failed"]
    failed = ""
    if failed_docs:
        items = "".join(f"<li><code>{escape(str(f['source'])[:300])}</code>: {escape(str(f['error'] or '')[:300])}</li>"
                        for f in failed_docs[:MAX_FAILED])
        more = f"<li>… and {len(failed_docs) - MAX_FAILED} more</li>" if len(failed_docs) > MAX_FAILED else ""
        failed = (f'<div class="failed"><p>The last run could not index these documents '
                  f"(<code>ingest.py status</code> lists them too):</p><ul>{items}{more}</ul></div>")
    sources = ", ".join(f"<code>{escape(str(s.path))}</code>" for s in pipe.sources) or "none configured"
    return PAGE.format(
        name=escape(pipe.name), index=escape(str(pipe.location)), command=escape(command), sources=sources,
        state="holds no indexed document yet" if exists else "does not exist yet",
        failed=failed, refresh=int(POLL_S * 2),
    )


def build_app(pipe: Pipeline, command: str, auth: Authenticator | None = None,
              hosts: set[str] | None = None) -> FastAPI:
    """The whole server while nothing is indexed: the same gate and headers as the app."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse

    from ui.guard import Guard
    from ui.security import SecurityHeaders

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    message = f"nothing indexed yet in pipeline {pipe.name}: run `{command}`"

    @app.get("/api/health", include_in_schema=False)
    def health() -> Any:
        return {"status": "empty", "pipeline": pipe.name, "documents": 0, "chunks": 0, "message": message}

    @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    def anything(path: str) -> Any:
        if path.startswith(("api/", "v1/", "mcp", "gradio_api/")):
            return JSONResponse({"error": message}, status_code=503, headers={"retry-after": str(int(POLL_S))})
        return HTMLResponse(page(pipe, command), status_code=200)

    app.add_middleware(Guard, auth=auth, max_body=pipe.serve.max_body_bytes, hosts=hosts)  # type: ignore[arg-type]
    app.add_middleware(SecurityHeaders)
    return app
