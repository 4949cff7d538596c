"""``ingest.py search``: hybrid retrieval over a pipeline's index, printed with citations."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

from folio.config import Pipeline
from folio.exitcodes import EXIT_OK
from index.reader import citation, hit_dict, hit_elements, open_index, snippet

if TYPE_CHECKING:
    from index.query_hints import QueryHints
    from index.routing import Route
    from index.search import Hit


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
