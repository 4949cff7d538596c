"""Reading an index from the question side: open it (store + embedder), hits as plain records."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from folio.config import Pipeline
from folio.errors import ConfigError

if TYPE_CHECKING:
    from folio.element import Element
    from index.embed import Embedder
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
    # A chunk's first line is its context (document | section | page, index/chunk.py);
    # the citation line already shows that, so the snippet starts with the content.
    head, sep, body = text.partition("\n")
    flat = " ".join((body if sep and body.strip() else head).split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
