#!/usr/bin/env python3
"""Retrieval quality on the dev questions: hybrid vs vector-only vs FTS-only vs a naive
text-only baseline, side by side, by evidence type.

    nice python bench/retrieval.py --db .folio/corpus            # an existing corpus index
    nice python bench/retrieval.py                               # builds one in a temp folder
    nice python bench/retrieval.py --db .folio/corpus --enriched .folio/corpus-enriched
                                     # before/after enrichment (captions, table summaries)

The naive baseline: each page's text (the index's elements, concatenated in reading
order) cut into 1000-character chunks, embedded with the same MiniLM, ranked by cosine.
Targets: recall@5 >= 0.85 overall, >= 0.8 on table questions (hybrid).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _scratch import REPO, bench_dir  # bench/ is on sys.path when run as a script

sys.path.insert(0, str(REPO))

from folio.config import EmbedSettings, load_config
from folio.offline import enforce_offline
from index.search import Hit, search
from pipeline.eval import DEPTH, Question, format_result, load_questions, run_eval
from pipeline.query import citation, snippet

QUESTIONS = REPO.parent / "shared" / "eval-dev" / "questions.jsonl"
NAIVE_CHARS = 1000


def naive_baseline(store: Any, embedder: Any) -> tuple[Any, list[dict[str, Any]]]:
    """(matrix of unit vectors, chunk rows with source/pages/text) from the elements table."""
    tbl = store.db.open_table("elements")
    rows = tbl.to_arrow().select(["source", "page", "order", "text"]).to_pylist()
    pages: dict[tuple[str, int | None], list[tuple[int, str]]] = defaultdict(list)
    for r in rows:
        if r["text"]:
            pages[(r["source"], r["page"])].append((r["order"], r["text"]))
    chunks: list[dict[str, Any]] = []
    for (source, page), parts in sorted(pages.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        text = "\n".join(t for _, t in sorted(parts))
        for start in range(0, len(text), NAIVE_CHARS):
            chunks.append({"source": source, "pages": (page,) if page else (), "text": text[start:start + NAIVE_CHARS]})
    t0 = time.perf_counter()
    matrix = embedder.embed([c["text"] for c in chunks])
    print(f"naive baseline: {len(chunks)} chunks of {NAIVE_CHARS} chars embedded in {time.perf_counter() - t0:.1f} s")
    return matrix, chunks


def naive_hits(matrix: Any, chunks: list[dict[str, Any]], qvec: Any, k: int) -> list[Hit]:
    import numpy as np

    scores = matrix @ qvec
    top = np.argsort(-scores)[:k]
    return [
        Hit(chunk_id=str(i), score=float(scores[i]), source=chunks[i]["source"], doc_id="", kind="text",
            text=chunks[i]["text"], section=(), pages=chunks[i]["pages"], boxes=(), element_ids=())
        for i in top
    ]


def build_index(index: Path) -> None:
    cmd = [sys.executable, str(REPO / "ingest.py"), "--config", str(REPO / "pipelines.toml"), "run",
           "--pipeline", "corpus", "--db", str(index)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    print(proc.stdout.splitlines()[0] if proc.stdout else proc.stderr[-2000:])
    print(f"index built in {time.perf_counter() - t0:.1f} s")


def side_by_side(results: dict[str, dict[str, Any]], k: int) -> list[str]:
    names = list(results)
    first = results[names[0]]
    types = [*first["by_type"], "all"]
    metrics = [f"recall@{x}" for x in (1, 3, 5, 10)] + ["mrr"]
    lines = []
    for metric in metrics:
        lines.append(f"\n{metric}")
        lines.append(f"  {'type':10} {'n':>3} " + " ".join(f"{n:>8}" for n in names))
        for t in types:
            n = first["n"] if t == "all" else first["by_type"][t]["n"]
            vals = [(r if t == "all" else r["by_type"][t])[metric] for r in results.values()]
            lines.append(f"  {t:10} {n:>3} " + " ".join(f"{v:>8.3f}" for v in vals))
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description="retrieval eval: hybrid vs vector vs fts vs naive")
    ap.add_argument("--db", type=Path, help="corpus index folder (default: build one in a temp folder)")
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--no-naive", action="store_true", help="skip the naive text-only baseline")
    ap.add_argument("--enriched", type=Path,
                    help="an index of the same corpus with enrichment on: adds its columns (+enr), before/after")
    ap.add_argument("--json", type=Path, help="also write all results to this file")
    args = ap.parse_args()
    enforce_offline()

    from index.embed import load_embedder
    from index.store import Store

    index = args.db or Path(tempfile.mkdtemp(prefix="retrieval-", dir=bench_dir()))
    if not (index / "lancedb").is_dir():
        build_index(index)
    try:
        embed_settings = load_config(REPO / "pipelines.toml").pipeline("corpus").embed
    except Exception:
        embed_settings = EmbedSettings()
    store = Store(index)
    embedder = load_embedder(embed_settings)
    questions = load_questions(args.questions)
    qvecs = {q.id: embedder.embed_query(q.question) for q in questions}

    results: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    stores = [("", store)] + ([("+enr", Store(args.enriched))] if args.enriched else [])
    for suffix, st in stores:
        for mode in ("hybrid", "vector", "fts"):
            def retrieve(q: Question, mode: str = mode, st: Any = st) -> list[Hit]:
                return search(st, embedder, q.question, DEPTH, mode=mode, query_vector=qvecs[q.id])

            t0 = time.perf_counter()
            results[mode + suffix] = run_eval(questions, retrieve, args.k)
            timings[mode + suffix] = (time.perf_counter() - t0) / max(1, len(questions)) * 1000
    if not args.no_naive:
        matrix, chunks = naive_baseline(store, embedder)
        results["naive"] = run_eval(questions, lambda q: naive_hits(matrix, chunks, qvecs[q.id], DEPTH), args.k)

    print(f"{len(questions)} questions, index {index} ({store.count_chunks()} chunks, {embedder.model_id})")
    print("ms/query (query vector precomputed): " + ", ".join(f"{m} {t:.0f}" for m, t in timings.items()))
    print("\n".join(side_by_side(results, args.k)))
    print()
    for name in ("hybrid", "hybrid+enr"):
        if name in results:
            print("\n".join(format_result(results[name], f"{name}, per type (misses listed)")))
    # What ranked first instead: the gold page is one page, and a miss may be another page
    # that states the same answer (judge by eye; not scored).
    last, st = stores[-1]
    by_id = {q.id: q for q in questions}
    for row in results["hybrid" + last]["questions"]:
        if row["rank"] is None or row["rank"] > args.k:
            q = by_id[row["id"]]
            print(f"\nmissed {q.id} (gold {q.doc} p.{','.join(map(str, q.pages))}; rank {row['rank']}): {q.question}")
            for h in search(st, embedder, q.question, 2, query_vector=qvecs[q.id]):
                print(f"    ranked instead: {citation(h)} [{h.kind}] {snippet(h.text, 160)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
