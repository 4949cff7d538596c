"""The MCP server: agents reach the one answer engine through four read-only tools.

    search          retrieval hits with their citations (no model call)
    ask             an answer with checked citations (``Engine.answer``, as the app and API)
    get_element     one element by id (``Engine.element``)
    list_documents  the indexed documents (``Engine.documents``)

Two transports over the same tools:

- stdio, ``python serve.py mcp [--pipeline NAME] [--db DIR]``, for desktop clients that
  start the server themselves (stdout carries the protocol, logs go to stderr);
- streamable HTTP at ``/mcp`` in the app (``mount``), inside the app's Guard: the same
  login as the JSON API, and every role (reader and reviewer) may call these tools,
  since none of them writes.
"""

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations

from answer.backends import BackendError
from answer.engine import Engine
from answer.requests import Ask, AskError
from answer.worker import Busy
from folio.errors import FolioError, report
from folio.exitcodes import EXIT_OK

log = logging.getLogger(__name__)

PATH = "/mcp"
MAX_K = 50  # the engine's own bound on k (answer.engine.validate)
INSTRUCTIONS = (
    "Folio answers questions about a local collection of documents (PDF, DOCX, PPTX). "
    "Use `ask` for an answer with checked citations, `search` to see the matching passages "
    "without an answer, `get_element` to read a cited element in full, and `list_documents` "
    "to see what is indexed. Cite documents by source and page."
)
# Every tool only reads the index; a client may call them without asking the user.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)


def _user(ctx: Context) -> str | None:
    """The logged-in user over HTTP (the Guard put it in the request's state), else None."""
    request = ctx.request_context.request
    return getattr(getattr(request, "state", None), "user", None)


def _filters(source: str | None, kind: str | None, page: int | None) -> dict[str, Any]:
    return {key: v for key, v in (("source", source), ("kind", kind), ("page", page)) if v is not None}


def build_server(engine: Engine) -> MCPServer:
    """The tools over ``engine``; each is a plain function the SDK runs in a worker thread,
    so a long answer never blocks the event loop (other tools, the app's routes)."""
    from folio import __version__
    from index.reader import citation, hit_dict, snippet

    server: MCPServer = MCPServer("folio", title=f"Folio · {engine.pipe.name}", version=__version__,
                                  instructions=INSTRUCTIONS)

    @server.tool(annotations=READ_ONLY)
    def search(query: str, k: int = 5, source: str | None = None, kind: str | None = None,
               page: int | None = None) -> dict[str, Any]:
        """Retrieval only (no answer model): the passages of the index that best match
        `query`, each with its citation (source, pages, kind), a text snippet and the ids of
        its elements (read one in full with `get_element`). Filters: `source` (a document
        path from `list_documents`), `kind` (text, table or image), `page`."""
        if not query.strip():
            raise ToolError("query: empty; give the words to search for")
        if not 1 <= k <= MAX_K:
            raise ToolError(f"k: must be between 1 and {MAX_K}")
        # The engine checks filters when asked a question; the same rules apply here.
        try:
            engine.validate(Ask(query, k=k, filters=_filters(source, kind, page)))
        except AskError as e:
            raise ToolError(str(e)) from None
        hits = engine.search(query, k, _filters(source, kind, page))
        elements = engine.store.elements_by_id([i for h in hits for i in h.element_ids])
        out = []
        for h in hits:
            d = hit_dict(h, elements)
            out.append({
                "citation": citation(h), "source": h.source, "page": h.pages[0] if h.pages else None,
                "pages": d["pages"], "kind": h.kind, "section": d["section"], "score": h.score,
                "snippet": snippet(h.text), "element_ids": d["element_ids"],
                "caption": d["caption"], "summary": d["summary"],
            })
        return {"query": query, "hits": out}

    @server.tool(annotations=READ_ONLY)
    def ask(question: str, ctx: Context, k: int | None = None, session_id: str | None = None,
            source: str | None = None, kind: str | None = None, page: int | None = None) -> dict[str, Any]:
        """Answer a question from the documents with checked citations. Each citation names
        the source, page, kind, the cited text and the element ids it rests on; claims the
        checker could not tie to a source are listed in `unsupported`. Pass the returned
        `session_id` back to ask a follow-up in the same conversation."""
        req = Ask(question, session_id=session_id, k=k, filters=_filters(source, kind, page), owner=_user(ctx))
        try:
            result = engine.answer(req)
        except AskError as e:
            raise ToolError(str(e)) from None
        except Busy as e:
            raise ToolError(f"busy: {e}; try again shortly") from None
        except BackendError as e:
            raise ToolError(f"the answer model failed: {e}") from None
        # The prompt is internal (and large); the API leaves it out as well.
        result.pop("prompt", None)
        return result

    @server.tool(annotations=READ_ONLY)
    def get_element(element_id: str) -> dict[str, Any]:
        """One element of a document by id (from a citation or a search hit): its source,
        page, box, kind, full text, table HTML, caption or summary."""
        el = engine.element(element_id)
        if el is None:
            raise ToolError(f"no element {element_id!r} in the index")
        return el

    @server.tool(annotations=READ_ONLY)
    def list_documents() -> dict[str, Any]:
        """The indexed documents: source path, status (an `error` document is not
        searchable, with the reason), pages, elements, chunks and when it was indexed."""
        return {"documents": engine.documents()}

    return server


def mount(app: FastAPI, engine: Engine, login: bool) -> None:
    """Streamable HTTP at ``/mcp`` in ``app``; call before Gradio is mounted at the root, so
    this route comes first and Gradio's lifespan wraps the one that runs the sessions."""
    server = build_server(engine)
    # Stateless: each POST stands alone (no session affinity, nothing left behind by a
    # client that vanished); the tools keep no per-connection state, and `ask` keeps its
    # conversation in the engine's sessions. JSON replies suit a tool call's one result.
    # Without login the app listens on loopback only, and the SDK's DNS-rebinding check
    # (Host and Origin must be loopback) stops a web page from reaching the tools through
    # a browser; with login the Guard refuses anyone without credentials, and the Host is
    # whatever name the server is reached by.
    security = None if not login else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    http = server.streamable_http_app(streamable_http_path=PATH, stateless_http=True, json_response=True,
                                      transport_security=security,
                                      max_request_body_size=engine.pipe.serve.max_body_bytes)
    app.router.routes.extend(http.routes)
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        # The session manager's task group must run for as long as the app serves.
        async with server.session_manager.run(), outer(a) as state:
            yield state

    app.router.lifespan_context = lifespan


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Native libraries (llama.cpp, onnxruntime) may write to fd 1 while loading; over stdio
    that is the protocol's channel, so it points at stderr until the server takes it."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def stdio_command(argv: list[str], default_config: str) -> int:
    """``serve.py mcp``: the tools over stdin/stdout for a desktop client."""
    from folio.targets import add_target, resolve_pipeline

    p = argparse.ArgumentParser(prog="serve.py mcp", description="Folio's MCP server over stdio")
    p.add_argument("--config", default=default_config, help="pipelines file (default: %(default)s)")
    add_target(p)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        with _stdout_to_stderr():
            engine = Engine.load(resolve_pipeline(args))
    except FolioError as e:
        return report(e)
    log.info("MCP server for pipeline %s on stdio", engine.pipe.name)
    build_server(engine).run("stdio")
    return EXIT_OK
