"""Hybrid retrieval: LanceDB full-text (BM25) + vector search, fused by reciprocal rank.

The two legs run as separate queries (rather than LanceDB's built-in hybrid query) so each
hit keeps its rank in each leg, which the UI and the eval show, and so both legs get the
same prefilter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from index.query_hints import QueryHints, parse
from index.store import DISTANCE, sql_str

if TYPE_CHECKING:
    import numpy as np

    from index.routing import Route
    from index.store import Store

MODES = ("hybrid", "vector", "fts")
_COLUMNS = ["id", "doc_id", "source", "kind", "text", "section", "pages", "boxes", "element_ids", "write_id"]
# Each leg returns this many candidates per requested hit before fusion: RRF needs some
# depth to let a hit ranked moderately in both legs overtake one ranked well in only one.
_DEPTH_FACTOR = 4
_MIN_DEPTH = 50
_MAX_QUERY_TERMS = 64
# IVF partitions probed (of ~sqrt(rows)): at 1M chunks, 20 probes gave recall@10 0.67
# against an exact scan in 13 ms (bench/query_latency.py); 40 trades a few ms for recall.
_NPROBES = 40
_WORD = re.compile(r"\w+", re.UNICODE)


class QueryEmbedder(Protocol):
    def embed_query(self, text: str) -> np.ndarray: ...


@dataclass
class Hit:
    chunk_id: str
    score: float  # hybrid: RRF score; vector: cosine similarity; fts: BM25 score
    source: str
    doc_id: str
    kind: str
    text: str
    section: tuple[str, ...]
    pages: tuple[int, ...]
    boxes: tuple[tuple[int, float, float, float, float], ...]
    element_ids: tuple[str, ...]
    rank_fts: int | None = None  # 1-based rank in the FTS leg
    rank_vec: int | None = None  # 1-based rank in the vector leg
    # The write that stored the row: a reader drops rows of a write not committed yet
    # (a nightly run between its add and its commit, index/store.py).
    write_id: str = ""


def fts_terms(query: str) -> str:
    """The query reduced to plain words: user punctuation ("FY2022?", quotes, colons,
    parentheses) is never parsed as query syntax."""
    return " ".join(_WORD.findall(query)[:_MAX_QUERY_TERMS])


def build_filter(source: str | None = None, kind: str | None = None, page: int | None = None) -> str | None:
    parts = []
    if source is not None:
        parts.append(f"source = {sql_str(source)}")
    if kind is not None:
        parts.append(f"kind = {sql_str(kind)}")
    if page is not None:
        parts.append(f"array_has_any(pages, [{int(page)}])")
    return " AND ".join(parts) or None


def search(
    store: Store,
    embedder: QueryEmbedder | None,
    query: str,
    k: int = 5,
    *,
    source: str | None = None,
    kind: str | None = None,
    page: int | None = None,
    mode: str = "hybrid",
    rrf_k: int = 60,
    query_vector: np.ndarray | None = None,
    routes: list[Route] | None = None,
) -> list[Hit]:
    """Top ``k`` chunks for ``query``. ``query_vector`` skips embedding (benchmarks, re-use).

    Hybrid search routes the question to the documents it names (index/routing.py) unless
    ``routes`` is given (``[]`` turns routing off) or a ``source`` filter already chose one.
    """
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; known: {', '.join(MODES)}")
    tbl = store.chunks_table
    if tbl is None or not query.strip():
        return []
    where = build_filter(source, kind, page)
    depth = max(k * _DEPTH_FACTOR, _MIN_DEPTH)
    vec_rows: list[dict[str, Any]] = []
    fts_rows: list[dict[str, Any]] = []
    if mode in ("hybrid", "vector"):
        if query_vector is None:
            if embedder is None:
                raise ValueError(f"search mode {mode!r} needs an embedder")
            query_vector = embedder.embed_query(query)
        vec_rows = _vector_leg(tbl, query_vector, where, depth, exact=source is not None)
    if mode in ("hybrid", "fts"):
        fts_rows = _fts_leg(tbl, fts_terms(query), where, depth)
    if mode == "vector":
        return [_hit(r, 1.0 - float(r["_distance"]), rank_vec=i) for i, r in enumerate(vec_rows[:k], 1)]
    if mode == "fts":
        return [_hit(r, float(r["_score"]), rank_fts=i) for i, r in enumerate(fts_rows[:k], 1)]
    if routes is None:
        from index.routing import router_for

        routes = router_for(store).route(query) if source is None else []
    routed: list[tuple[list[dict[str, Any]], float]] = []
    if routes and query_vector is not None:
        # The same two legs within the routed documents: their chunks get votes even when
        # other documents fill the open legs' depth. Weighted by how firmly each is named.
        for r in routes:
            scoped = build_filter(r.source, kind, page)
            routed.append((_vector_leg(tbl, query_vector, scoped, depth, exact=True), r.weight))
            routed.append((_fts_leg(tbl, fts_terms(query), scoped, depth), r.weight))
    return fuse(vec_rows, fts_rows, k, rrf_k, parse(query), routed)


def _vector_leg(tbl: Any, vector: np.ndarray, where: str | None, depth: int, exact: bool) -> list[dict[str, Any]]:
    q = tbl.search(vector, vector_column_name="vector").distance_type(DISTANCE)
    q = q.select([*_COLUMNS, "_distance"]).limit(depth)
    if exact:
        # One document's chunks are spread over every IVF partition: probing a few would
        # miss most of them, while an exact scan of a single document's rows is cheap.
        q = q.bypass_vector_index()
    else:
        q = q.nprobes(_NPROBES)
    if where:
        q = q.where(where, prefilter=True)
    # Equal distances come back in storage order, which compaction changes: break ties by
    # id so that the same rows rank the same on every copy of the index (local, S3).
    return sorted(q.to_list(), key=lambda r: (round(float(r["_distance"]), 6), r["id"]))


def _fts_leg(tbl: Any, terms: str, where: str | None, depth: int) -> list[dict[str, Any]]:
    if not terms:
        return []
    from lancedb.query import MatchQuery

    # A match query is never parsed as query syntax (unlike a plain string query); OR of terms.
    match = MatchQuery(terms, "text")  # type: ignore[call-arg]  # a dataclass with defaults
    q = tbl.search(match, query_type="fts").select([*_COLUMNS, "_score"]).limit(depth)
    if where:
        q = q.where(where, prefilter=True)
    return sorted(q.to_list(), key=lambda r: (-round(float(r["_score"]), 6), r["id"]))  # ties: as above


def fuse(
    vec_rows: list[dict[str, Any]],
    fts_rows: list[dict[str, Any]],
    k: int,
    rrf_k: int,
    hints: QueryHints | None = None,
    routed: list[tuple[list[dict[str, Any]], float]] | tuple[()] = (),
) -> list[Hit]:
    """Reciprocal-rank fusion; a chunk id seen twice in one leg (possible only between an
    interrupted write and repair()) counts once, at its best rank. ``hints`` (pages,
    figure/table references, kinds the question points at) add their bonus on the same
    scale, in units of a first-place vote. ``routed`` legs (rows, weight) vote with their
    weight; the hit's ``rank_fts``/``rank_vec`` stay those of the open legs."""
    scores: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    ranks: dict[str, dict[str, int]] = {}
    legs = [("vec", vec_rows, 1.0), ("fts", fts_rows, 1.0)]
    legs += [(f"r{i}", leg_rows, w) for i, (leg_rows, w) in enumerate(routed)]
    for leg, leg_rows, weight in legs:
        rank = 0
        for r in leg_rows:
            cid = r["id"]
            if leg in ranks.get(cid, {}):
                continue
            rank += 1
            ranks.setdefault(cid, {})[leg] = rank
            rows.setdefault(cid, r)
            scores[cid] = scores.get(cid, 0.0) + weight / (rrf_k + rank)
    if hints:
        for cid, r in rows.items():
            scores[cid] += hints.bonus(r) / (rrf_k + 1)
    best = sorted(scores, key=lambda c: (-scores[c], c))[:k]
    return [
        _hit(rows[c], scores[c], rank_fts=ranks[c].get("fts"), rank_vec=ranks[c].get("vec")) for c in best
    ]


def _hit(r: dict[str, Any], score: float, *, rank_fts: int | None = None, rank_vec: int | None = None) -> Hit:
    boxes = json.loads(r["boxes"]) if r.get("boxes") else []
    return Hit(
        chunk_id=r["id"],
        score=score,
        source=r["source"],
        doc_id=r["doc_id"],
        kind=r["kind"],
        text=r["text"],
        section=tuple(r["section"] or ()),
        pages=tuple(r["pages"] or ()),
        boxes=tuple((int(b[0]), *map(float, b[1:5])) for b in boxes),  # type: ignore[misc]
        element_ids=tuple(r["element_ids"] or ()),
        rank_fts=rank_fts,
        rank_vec=rank_vec,
        write_id=str(r.get("write_id") or ""),
    )
