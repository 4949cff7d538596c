#!/usr/bin/env python3
"""A batch commit's cost as the index grows: the driver's commit of ~20 replaced documents
(index/fragments.append + Store.commit_documents, pipeline/engines/ray/engine.py) on tables of
100k, 1M and 2M chunk rows, with and without the BTree index on ``source`` that
Store.optimize keeps on the document tables (index/vector_index.ensure_source_index).

    nice python3 bench/commit_scale.py [--sizes 100000,1000000,2000000] [--docs 20] [--repeat 3] [--run 40]

The base tables are written column-wise (not through Element/Chunk objects: 2M rows that
way would take most of the budget): chunks and elements get N rows each, 250 per
document (N/250 documents), profiles and documents one row per document, each document
committed under its own write_id. Only the columns a commit reads are realistic (source,
write_id, id); vectors are 16-d (the schema takes any width; the commit never reads them).
The replacing documents are real (bench/commit.py's synthetic documents, written as
fragments as a worker does) and spread over the table. Each size is measured without the
source indexes first, then the indexes are built and the same number of fresh batches is
committed; the median per batch is reported. Then, as in one long run that replaces
documents (a settings change re-embeds everything), ``--run`` more batches follow without
an optimize in between: each adds small fragments the index does not cover, and the store
updates the index every SOURCE_INDEX_EVERY commits (index/store.py); their mean and
worst batch are reported. The scratch index is deleted after each size.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from _scratch import bench_dir
from commit import document

from folio.offline import enforce_offline
from index import schema as S
from index.fragments import append, targets, write_document
from index.rows import document_tables
from index.store import DocRecord, Store
from index.vector_index import ensure_source_index

DIM = 16
MODEL = "bench-16"
PER_DOC = 250  # chunk rows and element rows per base document
ADD_ROWS = 250_000  # rows per add() while building: one data file each


def _column_table(schema: Any, cols: dict[str, Any], n: int) -> Any:
    """A table of ``schema`` with ``cols`` filled and every other (nullable) column null."""
    import pyarrow as pa

    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def build(store: Store, rows: int) -> list[str]:
    """Base tables of ``rows`` chunk rows and as many element rows; returns the sources."""
    import pyarrow as pa

    n_docs = rows // PER_DOC
    sources = [f"doc{i:05d}.pdf" for i in range(n_docs)]
    writes = [uuid.uuid4().hex for _ in range(n_docs)]
    schemas = store.doc_schemas()
    rng = np.random.default_rng(1)
    for start in range(0, rows, ADD_ROWS):
        n = min(ADD_ROWS, rows - start)
        doc = np.arange(start, start + n) // PER_DOC
        src = pa.array([sources[d] for d in doc])
        wid = pa.array([writes[d] for d in doc])
        ids = pa.array([f"{sources[d][:8]}-{i}" for d, i in zip(doc, range(start, start + n), strict=True)])
        text = pa.array([f"revenue segment {i} operating income fiscal quarter net cash" for i in range(n)])
        vec = pa.FixedSizeListArray.from_arrays(pa.array(rng.standard_normal(n * DIM).astype(np.float32)), DIM)
        common = {"id": ids, "source": src, "write_id": wid, "text": text,
                  "order": pa.array(np.arange(n, dtype=np.int32) % PER_DOC)}
        store._writable(S.CHUNKS).add(_column_table(schemas[S.CHUNKS], {**common, "vector": vec,
                                                                        "embed_model": pa.array([MODEL] * n)}, n))
        store._writable(S.ELEMENTS).add(_column_table(schemas[S.ELEMENTS], common, n))
    store._writable(S.PROFILES).add(_column_table(schemas[S.PROFILES], {
        "source": pa.array(sources), "write_id": pa.array(writes), "profile": pa.array(["{}"] * n_docs)}, n_docs))
    docs = [{"source": s, "doc_id": s[:8], "sha256": w * 2, "status": "ok", "chunks": PER_DOC,
             "elements": PER_DOC, "embed_model": MODEL, "write_id": w} for s, w in zip(sources, writes, strict=True)]
    store._writable(S.DOCUMENTS).add(pa.Table.from_pylist(docs, schema=store._writable(S.DOCUMENTS).schema))
    return sources


def one_batch(store: Store, picks: list[int], rng: np.random.Generator) -> dict[str, float]:
    """Workers write the documents' fragments (not timed); the driver's commit, timed by part."""
    where = targets(store)
    written = []
    for n in picks:
        rec, els, chs, vecs = document(n, PER_DOC, PER_DOC, rng)
        rec = DocRecord(**{**rec.__dict__, "embed_model": MODEL})
        wid = uuid.uuid4().hex
        tables = document_tables(rec.source, rec.doc_id, wid, els, chs, np.ascontiguousarray(vecs[:, :DIM]),
                                 {"source": rec.source}, store.doc_schemas(), MODEL)
        written.append((rec, wid, write_document(tables, where, store.storage_options)))
    parts = {"append": 0.0, "documents": 0.0, "delete": 0.0}
    upsert, delete = store._upsert_documents, store._delete_rows

    def timed(name: str, fn: Any) -> Any:
        def run(*a: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a)
            finally:
                parts[name] += time.perf_counter() - t
        return run

    store._upsert_documents, store._delete_rows = timed("documents", upsert), timed("delete", delete)  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        frags: dict[str, list[Any]] = {}
        for _, _, w in written:
            for name, f in w.fragments.items():
                frags.setdefault(name, []).extend(f)
        append(store, frags)
        parts["append"] = time.perf_counter() - t0
        store.commit_documents([(rec, wid) for rec, wid, _ in written])
        parts["total"] = time.perf_counter() - t0
    finally:
        del store._upsert_documents, store._delete_rows
    return parts


def check(store: Store, picks: list[int]) -> None:
    """The batch replaced its documents: one write per source, PER_DOC rows each."""
    tbl = store._writable(S.CHUNKS)
    for n in picks[:3]:
        got = tbl.search().where(f"source = 'doc{n:05d}.pdf'").select(["write_id"]).limit(None).to_arrow()
        assert got.num_rows == PER_DOC and len(set(got["write_id"].to_pylist())) == 1, (n, got.num_rows)


def measure(rows: int, docs: int, repeat: int, run: int) -> list[dict[str, Any]]:
    where = bench_dir() / f"commit-scale-{rows}"
    shutil.rmtree(where, ignore_errors=True)
    try:
        store = Store(where, dim=DIM, embed_model=MODEL)
        t0 = time.perf_counter()
        n_docs = len(build(store, rows))
        built = time.perf_counter() - t0
        disk = sum(f.stat().st_size for f in where.rglob("*") if f.is_file())
        rng = np.random.default_rng(2)
        out = []
        stride = n_docs // (docs * repeat * 2)  # distinct documents spread over the table
        batches = [[(k * docs + j) * stride for j in range(docs)] for k in range(repeat * 2)]
        for indexed in (False, True):
            index_s = 0.0
            if indexed:
                t = time.perf_counter()
                for name in (S.CHUNKS, S.ELEMENTS, S.PROFILES):
                    ensure_source_index(store._writable(name))
                index_s = time.perf_counter() - t
            runs = []
            for picks in batches[repeat * indexed: repeat * (indexed + 1)]:
                runs.append(one_batch(store, picks, rng))
                check(store, picks)
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            out.append({"rows": rows, "index": indexed, **med, "build_s": built, "index_s": index_s,
                        "disk_mb": disk / 1e6})
            print(f"  {rows:>9,} rows  source index {'yes' if indexed else 'no ':3}  commit {med['total']:.3f} s "
                  f"(append {med['append']:.3f}, documents {med['documents']:.3f}, delete {med['delete']:.3f})",
                  flush=True)
        in_run = [one_batch(store, [(k * docs + j) * 7 % n_docs for j in range(docs)], rng)["total"]
                  for k in range(run)]
        out[-1].update(run_mean=statistics.mean(in_run), run_max=max(in_run))
        print(f"  {run} batches in one run: mean {out[-1]['run_mean']:.3f} s, worst {out[-1]['run_max']:.3f} s",
              flush=True)
        return out
    finally:
        shutil.rmtree(where, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000,2000000")
    ap.add_argument("--docs", type=int, default=20, help="documents replaced per batch commit")
    ap.add_argument("--repeat", type=int, default=3, help="batches per configuration (median reported)")
    ap.add_argument("--run", type=int, default=40, help="batches of one long run, with the index (mean reported)")
    args = ap.parse_args()
    enforce_offline()
    t0 = time.perf_counter()
    results = []
    for rows in (int(s) for s in args.sizes.split(",")):
        results += measure(rows, args.docs, args.repeat, max(1, args.run))
    print(f"\nbatch commit of {args.docs} replaced documents ({PER_DOC} chunk + {PER_DOC} element rows each), "
          f"median of {args.repeat}; seconds")
    print(f"{'chunk rows':>10} | {'no index':>8} | {'delete':>6} | {'BTree(source)':>13} | {'delete':>6} | "
          f"{'index build':>11} | {'table MB':>8} | {f'{args.run} in a run: mean':>19} | {'worst':>5}")
    base: dict[bool, float] = {}
    for r0, r1 in zip(results[::2], results[1::2], strict=True):
        base = base or {False: r0["total"], True: r1["total"]}
        print(f"{r0['rows']:>10,} | {r0['total']:>8.3f} | {r0['delete']:>6.3f} | {r1['total']:>13.3f} | "
              f"{r1['delete']:>6.3f} | {r1['index_s']:>11.1f} | {r0['disk_mb']:>8.0f} | {r1['run_mean']:>19.3f} | "
              f"{r1['run_max']:>5.2f}")
    last = results[-2:]
    print(f"growth from the smallest to the largest: no index {last[0]['total'] / base[False]:.1f}x, "
          f"BTree {last[1]['total'] / base[True]:.1f}x; whole run {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
