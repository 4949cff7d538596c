"""The one answer engine behind the app, the JSON API, the OpenAI endpoint and ``ingest.py ask``.

``Engine.ask`` is a generator of events, so every front end streams the same way:

    queued   {"ahead": n}                      only when others are generating
    query    {"standalone_query": ...}          after a follow-up was rewritten
    sources  {"sources": [...], "retrieve_ms"}  as soon as retrieval is done
    token    "text"                             answer pieces as the model writes them
    done     {...}                              the checked answer (the JSON of ``ask --json``)

Retrieval runs before the request joins the model's queue, so a queued question is
ready the moment its turn comes. Rows of a write the nightly run has not committed yet
are dropped: a question during a run answers from the last committed state.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from answer import prompts
from answer.context import build_blocks
from answer.requests import Ask, Event, validate
from answer.sessions import Sessions
from answer.worker import ModelWorker, Slot
from folio.config import Pipeline
from folio.db import database_url
from index.pages import Renderer

if TYPE_CHECKING:
    from answer.backends import Backend
    from answer.context import Block
    from index.embed import Embedder
    from index.search import Hit
    from index.store import Store

log = logging.getLogger(__name__)
_OVERFETCH = 2  # extra hits fetched in case some belong to an uncommitted write


class Engine:
    def __init__(self, pipe: Pipeline, store: Store, embedder: Embedder, backend: Backend,
                 sessions: Sessions | None = None) -> None:
        self.pipe = pipe
        self.settings = pipe.answer
        self.store = store
        self.embedder = embedder
        self.backend = backend
        self.sessions = sessions or Sessions(pipe.index, database_url())
        remote = None
        if pipe.remote is not None:
            from folio.storage import blobs_for

            remote = blobs_for(pipe.remote, pipe.store_options())
        self.renderer = Renderer(pipe.assets_dir, store, remote)
        serve = pipe.serve
        self.worker = ModelWorker(serve.queue_size, serve.max_questions_per_user,
                                  serve.queue_timeout_s)
        self._blocking: Any = None
        self.system = self.settings.system_prompt or prompts.SYSTEM

    @classmethod
    def load(cls, pipe: Pipeline) -> Engine:
        """Open the index and load the embedder and the answer model, once."""
        from answer.backends import load_backend
        from index.reader import open_index

        # the sessions database first: a wrong URL or a server down is said before the models load
        sessions = Sessions(pipe.index, database_url())
        store, embedder = open_index(pipe, "hybrid")
        assert embedder is not None
        return cls(pipe, store, embedder, load_backend(pipe.models, pipe.answer), sessions)

    # ---- asking -------------------------------------------------------------------------

    def validate(self, req: Ask) -> None:
        validate(req, self.pipe)

    def admit(self, req: Ask) -> Slot:
        """A place in the line for ``req`` or ``Busy`` at once (429 with Retry-After)."""
        return self.worker.admit(req.owner)

    def ask(self, req: Ask) -> Iterator[Event]:
        """The events of one question, for a caller without an event loop (CLI, tests)."""
        from answer.turns import ask_sync

        return ask_sync(self, req)

    def ask_async(self, req: Ask, slot: Slot | None = None) -> AsyncGenerator[Event, None]:
        """The same events for the server; waiting for the model holds no thread, and a
        full line is refused (``Busy``) before any work (answer/turns.py)."""
        from answer.turns import ask_async

        return ask_async(self, req, slot)

    def answer(self, req: Ask) -> dict[str, Any]:
        """The whole answer at once (the last event's data)."""
        result: dict[str, Any] = {}
        for ev in self.ask(req):
            if ev.kind == "done":
                result = ev.data
        return result

    async def answer_async(self, req: Ask, slot: Slot | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        async with aclosing(self.ask_async(req, slot)) as events:
            async for ev in events:
                if ev.kind == "done":
                    result = ev.data
        return result

    def blocking_limiter(self) -> Any:
        # Retrieval embeds and searches on the CPU the model also needs: two at a time is
        # what 2 cores use well, and it leaves the shared thread pool to everything else.
        import anyio

        if self._blocking is None:
            self._blocking = anyio.CapacityLimiter(2)
        return self._blocking

    def retrieve(self, query: str, k: int, filters: dict[str, Any] | None = None) -> list[Block]:
        return self.blocks(self.search(query, k, filters), query)

    def search(self, query: str, k: int, filters: dict[str, Any] | None = None) -> list[Hit]:
        """The top ``k`` chunks of the committed index (hybrid search); a question that
        needs figures also gets the statements it is built from and one search per period
        it compares (answer/packs.py)."""
        from answer.packs import merge, period_queries, statement_hits

        f = filters or {}
        hits = self._search(query, k, f)
        if not f and self._wants_figures(query):
            extra = statement_hits(self.store, self.embedder, query, self.pipe.search.rrf_k)
            for q in period_queries(query):
                extra += self._search(q, 2, f)
            hits = merge(hits, self._committed(extra), k)
        return hits

    def _search(self, query: str, k: int, f: dict[str, Any]) -> list[Hit]:
        from index.search import search

        hits = search(self.store, self.embedder, query, k + _OVERFETCH, source=f.get("source"),
                      kind=f.get("kind"), page=f.get("page"), rrf_k=self.pipe.search.rrf_k)
        return self._committed(hits)[:k]

    def _committed(self, hits: list[Hit]) -> list[Hit]:
        committed = self.store.committed_writes()
        return [h for h in hits if committed.get(h.source) == h.write_id or not h.write_id]

    def similarity(self, query: str) -> Callable[[Sequence[str]], list[float]]:
        """Cosine of texts (a table's rows) to the query, with the index's own embedder."""
        qv = self.embedder.embed_query(query)

        def similarity(texts: Sequence[str]) -> list[float]:
            return [float(x) for x in self.embedder.embed(list(texts)) @ qv] if texts else []

        return similarity

    def _wants_figures(self, query: str) -> bool:
        paths = set(self.settings.paths)
        if "computed" in paths:
            from answer.measures import catalogue_for, needs_arithmetic

            if needs_arithmetic(query, catalogue_for(self.settings)):
                return True
        if "lookup" in paths:
            from answer.lookup import asks_for_value

            return asks_for_value(query)
        return False

    def blocks(self, hits: list[Hit], query: str) -> list[Block]:
        ids = [i for h in hits for i in h.element_ids]
        elements = self.store.elements_by_id(ids)
        return build_blocks(hits, elements, query, self.settings.context_tokens, self.backend.count_tokens)

    def snapshot(self, cites: list[dict[str, Any]]) -> None:
        """Render the crops and pages an answer cites now, while its documents are as
        cited: the session keeps showing them after a document changes or goes."""
        for c in cites:
            for rel in (c.get("image"), c.get("page_image")):
                if rel:
                    self.renderer.ensure(rel)

    # ---- reading ------------------------------------------------------------------------

    def current_documents(self) -> dict[str, str]:
        return {d.source: d.sha256 for d in self.store.documents().values() if d.status != "error"}

    def session(self, session_id: str, owner: str | None = None) -> dict[str, Any]:
        """The conversation, for its owner only (anyone else gets ``SessionError``)."""
        return self.sessions.get(session_id, self.current_documents(), owner)

    def element(self, element_id: str, include_hidden: bool = False) -> dict[str, Any] | None:
        """The element as the API shows it; None for an unknown id, and for one a reviewer
        hid (it left the answers; only reviewers still read it) unless ``include_hidden``."""
        from folio.review import is_hidden
        from index.pages import crop_path, page_path

        el = self.store.elements_by_id([element_id]).get(element_id)
        if el is None or (is_hidden(el) and not include_hidden):
            return None
        d = el.to_dict()
        d.pop("embed_text", None)
        d["crop"] = crop_path(el)
        d["page_image"] = page_path(el.doc_id, el.page) if el.page is not None and el.bbox else None
        return d

    def documents(self) -> list[dict[str, Any]]:
        docs = sorted(self.store.documents().values(), key=lambda d: d.source)
        return [{"source": d.source, "doc_id": d.doc_id, "sha256": d.sha256, "status": d.status,
                 "error": d.error, "pages": d.pages, "elements": d.elements, "chunks": d.chunks,
                 "indexed_at": d.finished_at} for d in docs]

    def health(self) -> dict[str, Any]:
        docs = self.store.documents()
        return {
            "status": "ok",
            "pipeline": self.pipe.name,
            "documents": sum(1 for d in docs.values() if d.status != "error"),
            "failed": sum(1 for d in docs.values() if d.status == "error"),
            "chunks": self.store.count_chunks(),
            "models": {"embedder": self.embedder.model_id, "llm": self.backend.model_id,
                       "backend": self.backend.kind},
            "queue": self.worker.in_line(),
        }

