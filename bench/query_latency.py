"""Hybrid query latency on synthetic chunk tables (100k and 1M rows by default).

    nice python3 bench/query_latency.py                  # 100k and 1M
    nice python3 bench/query_latency.py --sizes 100000   # quicker
    nice python3 bench/query_latency.py --index-types IVF_SQ IVF_HNSW_SQ --sizes 100000

Per size: writes random-ish chunks (Zipf words from a synthetic vocabulary, unit 384-d vectors
around random topic centres) into a temp LanceDB through index.store, builds indexes as Store.optimize()
does, then times index.search.search() in hybrid mode with the query embedded by the real
embedder when index.embed is available (otherwise embedding is timed separately from a
random query vector). Also reports flat-vs-indexed latency and the vector index's
recall@10 against an exact scan, and the cost of refreshing indexes after one more
document (incremental optimize vs FTS rebuild).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index import search as search_mod
from index import store as store_mod
from index.schema import chunks_schema
from index.search import search
from index.store import Store

DIM = 384
BATCH = 50_000
WORDS_PER_CHUNK = (40, 140)


def vocabulary(n: int, rng: np.random.Generator) -> np.ndarray:
    syl = ["ka", "to", "re", "mi", "sun", "lo", "ver", "an", "tex", "pro", "del", "ta", "fin", "cor",
           "ix", "am", "ber", "nu", "qua", "zen", "ol", "ri", "ment", "cap"]
    words: set[str] = set()
    while len(words) < n:
        k = rng.integers(2, 5)
        words.add("".join(rng.choice(syl, size=k)))
    return np.array(sorted(words), dtype=object)


def zipf_ids(rng: np.random.Generator, n: int, vocab_size: int) -> np.ndarray:
    return (rng.zipf(1.3, size=n) - 1) % vocab_size


def batch_table(start: int, n: int, vocab: np.ndarray, rng: np.random.Generator, schema: pa.Schema) -> pa.Table:
    lengths = rng.integers(*WORDS_PER_CHUNK, size=n)
    ids = zipf_ids(rng, int(lengths.sum()), len(vocab))
    words = vocab[ids]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    texts = [" ".join(words[offsets[i]:offsets[i + 1]]) for i in range(n)]
    vecs = clustered_vectors(rng, n)
    rows = start + np.arange(n)
    docs = [f"doc{r // 200:06d}.pdf" for r in rows]
    cols = {
        "id": [f"c{r:09d}" for r in rows],
        "doc_id": [d[:9] for d in docs],
        "source": docs,
        "doc_sha256": ["0" * 64] * n,
        "kind": np.where(rng.random(n) < 0.1, "table", "text").tolist(),
        "text": texts,
        "section": [["Section"]] * n,
        "element_ids": [[f"e{r}"] for r in rows],
        "pages": [[int(r % 300) + 1] for r in rows],
        "boxes": ["[]"] * n,
        "order": (rows % 200).astype(np.int32),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1)), DIM),
        "embed_model": ["bench"] * n,
        "write_id": [f"w{r // 200}" for r in rows],
    }
    return pa.Table.from_pydict(cols, schema=schema)


def clustered_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit vectors around 2,000 fixed topic centres: uniformly random vectors have no
    neighbourhood structure, which makes every ANN index look far worse than on real
    embeddings; topic clusters keep the recall numbers meaningful."""
    centres = np.random.default_rng(7).standard_normal((2000, DIM)).astype(np.float32)
    vecs = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, DIM), dtype=np.float32) * 0.045
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def percentiles(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms"


def load_real_embedder():  # type: ignore[no-untyped-def]
    try:
        from folio.config import EmbedSettings
        from index.embed import load_embedder
    except ImportError as e:
        print(f"  (index.embed not available: {e}; query embedding timed separately as n/a)")
        return None
    return load_embedder(EmbedSettings())


def time_queries(  # type: ignore[no-untyped-def]
    store: Store, embedder, queries: list[str], rng: np.random.Generator, mode: str = "hybrid"
) -> list[float]:
    out = []
    for q in queries:
        qv = None if embedder is not None and mode != "fts" else _unit(rng)
        t = time.perf_counter()
        search(store, embedder, q, k=5, query_vector=qv, mode=mode)
        out.append((time.perf_counter() - t) * 1000)
    return out


def time_embedding(embedder, queries: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for q in queries:
        t = time.perf_counter()
        embedder.embed_query(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _unit(rng: np.random.Generator) -> np.ndarray:
    return clustered_vectors(rng, 1)[0]


def vector_recall(  # type: ignore[no-untyped-def]
    tbl, rng: np.random.Generator, nprobes: int, n: int = 30, k: int = 10
) -> tuple[float, float, float]:
    """recall@k of the indexed vector search vs an exact scan, and both latencies (ms)."""
    hits, t_idx, t_flat = 0, [], []
    for _ in range(n):
        v = _unit(rng)
        t = time.perf_counter()
        a = tbl.search(v).distance_type(store_mod.DISTANCE).nprobes(nprobes).select(["id"]).limit(k).to_list()
        t_idx.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        b = tbl.search(v).distance_type(store_mod.DISTANCE).bypass_vector_index().select(["id"]).limit(k).to_list()
        t_flat.append((time.perf_counter() - t) * 1000)
        hits += len({r["id"] for r in a} & {r["id"] for r in b})
    return hits / (n * k), statistics.median(t_idx), statistics.median(t_flat)


def run_size(rows: int, root: Path, embedder, n_queries: int, index_type: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(rows)
    vocab = vocabulary(20_000, rng)
    store = Store(root / f"n{rows}", dim=DIM, embed_model="bench")
    tbl = store.chunks_table
    schema = chunks_schema(DIM, "bench")
    print(f"\n== {rows:,} chunks ({index_type}) ==")
    t0 = time.perf_counter()
    for start in range(0, rows, BATCH):
        tbl.add(batch_table(start, min(BATCH, rows - start), vocab, rng, schema))
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    tbl.optimize()  # compaction of the write batches, as the nightly optimize would
    t_compact = time.perf_counter() - t0
    t0 = time.perf_counter()
    store_mod.ensure_indexes(tbl, vector_min_rows=rows + 1)  # FTS only
    t_fts = time.perf_counter() - t0
    queries = [" ".join(vocab[zipf_ids(rng, int(rng.integers(2, 6)), len(vocab)) + 20]) for _ in range(n_queries)]
    time_queries(store, embedder, queries[:5], rng)  # warm caches
    flat = time_queries(store, embedder, queries, rng)
    print(f"  build: write {t_write:.1f} s, compact {t_compact:.1f} s, FTS index {t_fts:.1f} s")
    print(f"  hybrid, exact vector scan:   {percentiles(flat)}")
    t0 = time.perf_counter()
    dim = DIM
    store_mod.ensure_indexes(tbl, vector_min_rows=0, vector_config=_index_config(index_type, rows, dim))
    t_vec = time.perf_counter() - t0
    time_queries(store, embedder, queries[:5], rng)
    indexed = time_queries(store, embedder, queries, rng)
    print(f"  build: vector index {t_vec:.1f} s")
    print(f"  hybrid, vector index:        {percentiles(indexed)}   (ratio indexed/flat p50 "
          f"{statistics.median(indexed) / statistics.median(flat):.2f})")
    print(f"    of which: FTS leg {percentiles(time_queries(store, None, queries, rng, 'fts'))}")
    if embedder is not None:
        print(f"    of which: query embedding {percentiles(time_embedding(embedder, queries))}")
    routed_latency(store, embedder, queries, rows, rng)
    for nprobes in sorted({20, search_mod._NPROBES}):
        rec, t_i, t_f = vector_recall(tbl, rng, nprobes)
        print(f"  vector leg alone, nprobes {nprobes}: recall@10 vs exact {rec:.2f}, "
              f"p50 indexed {t_i:.1f} ms vs exact {t_f:.1f} ms")
    if embedder is None:
        print("  query embedding: not included (no index.embed yet)")
    # Freshness after a nightly run that added one 200-chunk document.
    tbl.add(batch_table(rows, 200, vocab, rng, schema))
    t0 = time.perf_counter()
    store.optimize()
    t_inc = time.perf_counter() - t0
    from lancedb.index import FTS

    t0 = time.perf_counter()
    tbl.create_index("text", config=FTS(), replace=True)
    t_rebuild = time.perf_counter() - t0
    print(f"  refresh after +200 rows: Store.optimize() (incremental) {t_inc:.1f} s, "
          f"FTS full rebuild {t_rebuild:.1f} s")


def routed_latency(store: Store, embedder, queries: list[str], rows: int,  # type: ignore[no-untyped-def]
                   rng: np.random.Generator) -> None:
    """Queries that name one document (routing on: two more legs within it) against the same
    queries with routing off; routing itself (the profile match) timed apart."""
    from index.profile import DocProfile
    from index.routing import Router

    n_docs = max(1, rows // 200)
    router = Router([DocProfile(source=f"doc{d:06d}.pdf", names=(f"Issuer{d:06d} Holdings",), form="10-K",
                                years=(2022,)) for d in range(n_docs)])
    named = [f"{q} issuer{int(rng.integers(0, n_docs)):06d} 2022" for q in queries]
    t_route, routes = [], []
    for q in named:
        t = time.perf_counter()
        routes.append(router.route(q))
        t_route.append((time.perf_counter() - t) * 1000)
    assert all(len(r) == 1 for r in routes), "every query names exactly one document"
    plain, routed = [], []
    for q, r in zip(named, routes):
        qv = None if embedder is not None else _unit(rng)
        for out, rr in ((plain, []), (routed, r)):
            t = time.perf_counter()
            search(store, embedder, q, k=5, query_vector=qv, routes=rr)
            out.append((time.perf_counter() - t) * 1000)
    print(f"  hybrid, routing off:         {percentiles(plain)}")
    print(f"  hybrid, routed to 1 of {n_docs} documents: {percentiles(routed)}   (ratio routed/off p50 "
          f"{statistics.median(routed) / statistics.median(plain):.2f}); profile match alone {percentiles(t_route)}")


def _index_config(index_type: str, rows: int, dim: int):  # type: ignore[no-untyped-def]
    """IVF_SQ: the store's default; the others for comparison."""
    from lancedb.index import IvfHnswSq, IvfPq

    if index_type == "IVF_SQ":
        return store_mod.vector_index_config(rows, dim)
    if index_type == "IVF_HNSW_SQ":
        return IvfHnswSq(distance_type=store_mod.DISTANCE, num_partitions=max(1, int(rows**0.5) // 4))
    if index_type == "IVF_PQ":
        return IvfPq(distance_type=store_mod.DISTANCE, num_partitions=max(1, int(rows**0.5)),
                     num_sub_vectors=dim // 8)
    raise SystemExit(f"unknown index type {index_type}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--index-types", nargs="+", default=["IVF_SQ"], help="IVF_SQ | IVF_HNSW_SQ | IVF_PQ")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp dir, removed)")
    args = ap.parse_args()
    embedder = load_real_embedder()
    root = Path(tempfile.mkdtemp(prefix="folio-bench-", dir=args.dir))
    try:
        for rows in args.sizes:
            for it in args.index_types:
                run_size(rows, root / it, embedder, args.queries, it)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
