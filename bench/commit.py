#!/usr/bin/env python3
"""The driver's commit cost, alone: how many documents per second one driver can commit,
by batch size, on a local disk and on the local S3 server (moto), side by side.

    nice python bench/commit.py [--docs 64] [--elements 600] [--chunks 250]

Synthetic documents shaped like the shared corpus's average (856 rows per document:
elements, chunks with 384-d vectors, a profile). For each location:
- "rows": the rows pass through the driver, one replace_document per document (what the
  local engine does);
- "batch N": workers' fragments (written beforehand, timed apart as worker time) committed
  N documents at a time (index/fragments.append + Store.commit_documents: pipeline/engines/ray/engine.py).
Each configuration starts from a fresh index holding the same documents (so every commit
replaces a previous version, as on a night with changes). Ratios are what to compare.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from _scratch import bench_dir
from engine import moto

from folio.element import Element, element_id
from folio.offline import enforce_offline
from index.chunk import Chunk
from index.fragments import append, targets, write_document
from index.rows import document_tables
from index.store import DocRecord, Store

DIM = 384
MODEL = "bench-384"


def document(n: int, elements: int, chunks: int, rng: np.random.Generator) -> tuple[DocRecord, list[Element],
                                                                                    list[Chunk], np.ndarray]:
    source = f"doc{n:05d}.pdf"
    sha = uuid.uuid4().hex * 2
    words = ["revenue", "operating", "income", "segment", "fiscal", "quarter", "net", "cash", "total", "assets"]
    els = [Element(id=element_id(sha, 1 + i // 20, i, "text", f"{source} {i}"), doc_id=sha[:16], source=source,
                   doc_sha256=sha, kind="text", text=" ".join(rng.choice(words, 40)), page=1 + i // 20,
                   bbox=(0.0, 0.0, 100.0, 20.0), section=("S",), order=i) for i in range(elements)]
    per = max(1, elements // chunks)
    chs = [Chunk(id=f"{sha[:16]}-{j}", doc_id=sha[:16], source=source, doc_sha256=sha, kind="text",
                 text=" ".join(e.text for e in els[j * per:(j + 1) * per]), section=("S",),
                 element_ids=tuple(e.id for e in els[j * per:(j + 1) * per]), pages=(1 + j * per // 20,),
                 boxes=((0.0, 0.0, 100.0, 20.0),), order=j) for j in range(chunks)]
    vecs = rng.standard_normal((chunks, DIM)).astype(np.float32)
    rec = DocRecord(source=source, sha256=sha, doc_id=sha[:16], elements=elements, chunks=chunks, embed_model=MODEL)
    return rec, els, chs, vecs


def fresh(location: str, docs: list[Any], options: dict[str, str] | None) -> Store:
    if "://" not in location:
        shutil.rmtree(location, ignore_errors=True)
    store = Store(location, dim=DIM, embed_model=MODEL, storage_options=options)
    for rec, els, chs, vecs in docs:  # the previous version every commit replaces
        store.replace_document(rec, els, chs, vecs)
    return store


def measure(location: str, docs: list[Any], batch: int | None, options: dict[str, str] | None) -> dict[str, Any]:
    store = fresh(location, docs, options)
    rows = sum(len(d[1]) + len(d[2]) + 2 for d in docs)
    if batch is None:
        t0 = time.perf_counter()
        for rec, els, chs, vecs in docs:
            store.replace_document(rec, els, chs, vecs, profile={"source": rec.source})
        return {"mode": "rows", "driver_s": time.perf_counter() - t0, "commits": len(docs), "rows": rows}
    where = targets(store)
    t0 = time.perf_counter()
    written = []
    for rec, els, chs, vecs in docs:  # the workers' part
        wid = uuid.uuid4().hex
        tables = document_tables(rec.source, rec.doc_id, wid, els, chs, vecs, {"source": rec.source},
                                 store.doc_schemas(), MODEL)
        written.append((rec, wid, write_document(tables, where, store.storage_options)))
    worker_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    commits = 0
    for i in range(0, len(written), batch):
        part = written[i:i + batch]
        frags: dict[str, list[Any]] = {}
        for _, _, w in part:
            assert not w.short()
            for name, f in w.fragments.items():
                frags.setdefault(name, []).extend(f)
        append(store, frags)
        store.commit_documents([(rec, wid) for rec, wid, _ in part])
        commits += 1
    return {"mode": f"batch {batch}", "driver_s": time.perf_counter() - t0, "worker_s": worker_s,
            "commits": commits, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=64)
    ap.add_argument("--elements", type=int, default=600)
    ap.add_argument("--chunks", type=int, default=250)
    ap.add_argument("--batches", default="1,8,32")
    args = ap.parse_args()
    enforce_offline()
    rng = np.random.default_rng(0)
    docs = [document(i, args.elements, args.chunks, rng) for i in range(args.docs)]
    proc, uri = moto()
    try:
        for label, location, options in (("local", str(bench_dir() / "commit-local"), None),
                                         ("s3", uri + "/commit", {"allow_http": "true"})):
            options = None if options is None else {**options, **_env_options()}
            for batch in [None, *[int(b) for b in args.batches.split(",")]]:
                r = measure(location if batch is None or label == "local" else f"{location}-{batch}",
                            docs, batch, options)
                r = {"where": label, **r, "docs_per_s": round(len(docs) / r["driver_s"], 1),
                     "commits_per_s": round(r["commits"] / r["driver_s"], 1),
                     "rows_per_commit": r["rows"] // r["commits"]}
                print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}), flush=True)
    finally:
        proc.terminate()


def _env_options() -> dict[str, str]:
    from folio.storage import resolve_options

    return resolve_options()


if __name__ == "__main__":
    main()
