"""``ingest.py search``: hybrid retrieval over a pipeline's index, printed with citations."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

from folio.config import Pipeline
from folio.errors import ConfigError
from folio.exitcodes import EXIT_OK

if TYPE_CHECKING:
    from folio.element import Element
    from index.embed import Embedder
    from index.query_hints import QueryHints
    from index.routing import Route
    from index.search import Hit
    from index.store import Store


def open_index(pipe: Pipeline, mode: str) -> tuple[Store, Embedder | None]:
    """The store read-only, plus the embedder unless the mode is full-text only."""
    from index.store import open_index as open_store

    if pipe.remote is None and not (pipe.index / "lancedb").is_dir():
        raise ConfigError(f"no index at {pipe.index}: run `ingest.py run --pipeline {pipe.name}` first")
    store = open_store(pipe)
    if store.chunks_table is None:
        raise ConfigError(f"the index at {pipe.location} holds no chunks yet")
    if mode == "fts":
        return store, None
    from index.embed import load_embedder

    embedder = load_embedder(pipe.embed)
    if store.embed_model and store.embed_model != embedder.model_id:
        raise ConfigError(
            f"the index was embedded with {store.embed_model} but pipelines.{pipe.name}.embed "
            f"loads {embedder.model_id}: run the pipeline again to re-embed"
        )
    return store, embedder


def hit_dict(hit: Hit, elements: dict[str, Element] | None = None) -> dict[str, Any]:
    """A hit as JSON; ``elements`` (by id) adds the caption and summary of its elements."""
    d = dataclasses.asdict(hit)
    for key in ("section", "pages", "element_ids"):
        d[key] = list(d[key])
    d["boxes"] = [list(b) for b in hit.boxes]
    els = [elements[i] for i in hit.element_ids if i in elements] if elements else []
    for key in ("caption", "caption_model", "summary", "summary_model"):
        values = list(dict.fromkeys(v for e in els if (v := getattr(e, key))))
        d[key] = "\n".join(values) if values else None
    return d


def hit_elements(store: Store, hits: list[Hit]) -> dict[str, Element]:
    """The stored elements of the hits' documents, by id (one read per document)."""
    out: dict[str, Element] = {}
    for source in dict.fromkeys(h.source for h in hits):
        out.update((e.id, e) for e in store.elements(source))
    return out


def citation(hit: Hit) -> str:
    if not hit.pages:
        return hit.source
    pages = hit.pages
    where = f"p.{pages[0]}" if len(pages) == 1 else f"pp.{pages[0]}-{pages[-1]}"
    return f"{hit.source} {where}"


def snippet(text: str, width: int = 240) -> str:
    # A chunk's first line is its context (document | section | page, enrich/chunk.py);
    # the citation line already shows that, so the snippet starts with the content.
    head, sep, body = text.partition("\n")
    flat = " ".join((body if sep and body.strip() else head).split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def format_hits(hits: list[Hit]) -> list[str]:
    lines: list[str] = []
    for i, h in enumerate(hits, 1):
        section = " > ".join(h.section)
        head = f"{i}. {citation(h)}  [{h.kind}]"
        if section:
            head += f"  {section}"
        lines.append(head)
        lines.append(f"   {snippet(h.text)}")
    return lines


def explain_lines(routes: list[Route], hints: QueryHints, hits: list[Hit], profiles: int = 1) -> list[str]:
    """Why the hits ranked as they did: routing, pointers in the question, leg ranks."""
    lines = ["routing:"]
    if routes:
        lines += [f"  {r.weight:.2f}  {r.source}  [{r.label}]  {'; '.join(r.reasons)}" for r in routes]
    elif not profiles:
        lines.append("  none: this index has no document profiles yet (the next `ingest.py run` builds them)")
    else:
        lines.append("  none (the question names no document): every document searched alike")
    asked = [s.removeprefix("Statement: ") for s in hints.statements]
    pointers = [
        f"pages {sorted(hints.pages)}" if hints.pages else "",
        f"kinds {sorted(hints.kinds)}" if hints.kinds else "",
        f"statements: {'; '.join(asked)}" if asked else "",
    ]
    lines.append("question points at: " + (", ".join(p for p in pointers if p) or "nothing in particular"))
    lines.append("hits (rank in the vector leg / full-text leg over all documents):")
    for i, h in enumerate(hits, 1):
        ranks = f"vec {h.rank_vec or '-'} fts {h.rank_fts or '-'}"
        lines.append(f"  {i}. {citation(h)} [{h.kind}] score {h.score:.4f} {ranks}")
    return lines


def search_command(
    pipe: Pipeline, query: str, k: int, as_json: bool, doc: str | None, kind: str | None,
    page: int | None, mode: str, explain: bool = False,
) -> int:
    from index.query_hints import parse
    from index.routing import router_for
    from index.search import search

    store, embedder = open_index(pipe, mode)
    router = router_for(store)
    routes = router.route(query) if mode == "hybrid" and doc is None else []
    hits = search(store, embedder, query, k, source=doc, kind=kind, page=page, mode=mode,
                  rrf_k=pipe.search.rrf_k, routes=routes)
    if as_json:
        elements = hit_elements(store, hits)
        out: Any = [hit_dict(h, elements) for h in hits]
        if explain:
            out = {"routing": [dataclasses.asdict(r) for r in routes], "hits": out}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        return EXIT_OK
    if explain:
        sys.stdout.write("\n".join(explain_lines(routes, parse(query), hits, len(router.profiles))) + "\n\n")
    sys.stdout.write("\n".join(format_hits(hits)) + "\n" if hits else "no hits\n")
    return EXIT_OK
