#!/usr/bin/env python3
"""Retrieval quality on the dev set and our own set, side by side, by evidence type.

    nice python bench/retrieval.py --db .folio/corpus --baseline-db .folio/corpus-v4
    nice python bench/retrieval.py                     # builds an index in a temp folder
    nice python bench/retrieval.py --db .folio/corpus --questions my.jsonl --misses

Columns, in one run over the same questions:
- naive: each page's text cut into 1000-character chunks, MiniLM, cosine (reference);
- today: hybrid as it was before this work: an index built by chunker 4 (``--baseline-db``),
  no routing, no statement hints (reference);
- +context: the current index (table chunks carry statement, units, periods; tables joined
  over page breaks), hybrid without routing or statement hints;
- +routing: plus document routing (index/routing.py);
- folio: plus statement hints from the question (what ``ingest.py search`` does);
- vector, fts: the two legs alone on the current index.

The own set (bench/data/retrieval-own.jsonl) was written from the documents before any
tuning, in the dev set's format. Targets: recall@5 >= 0.90 overall and >= 0.85 on table
questions, on both sets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _scratch import REPO, bench_dir  # bench/ is on sys.path when run as a script

sys.path.insert(0, str(REPO))

from commands.eval import DEPTH, Question, format_result, load_questions, run_eval, same_document
from folio.config import EmbedSettings, load_config
from folio.offline import enforce_offline
from index.reader import citation, snippet
from index.search import Hit, search

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


SETS = {
    "dev": QUESTIONS,
    "own": REPO / "bench" / "data" / "retrieval-own.jsonl",  # 75 questions written from the documents
}


def columns(store: Any, baseline: Any) -> dict[str, Callable[[Question, Any], list[Hit]]]:
    """name -> retrieve(question, query vector). ``baseline``: an index built before table
    context (chunker 4), searched with routing and statement hints off = today's hybrid."""
    import index.query_hints as hints

    def hybrid(st: Any, routing: bool, statements: bool) -> Callable[[Question, Any], list[Hit]]:
        def retrieve(q: Question, qv: Any) -> list[Hit]:
            saved = hints.STATEMENT_BONUS
            hints.STATEMENT_BONUS = saved if statements else 0.0
            try:
                return search(st, None, q.question, DEPTH, query_vector=qv, routes=None if routing else [])
            finally:
                hints.STATEMENT_BONUS = saved
        return retrieve

    cols: dict[str, Callable[[Question, Any], list[Hit]]] = {}
    if baseline is not None:
        cols["today"] = hybrid(baseline, routing=False, statements=False)
    cols["+context"] = hybrid(store, routing=False, statements=False)
    cols["+routing"] = hybrid(store, routing=True, statements=False)
    cols["folio"] = hybrid(store, routing=True, statements=True)
    cols["vector"] = lambda q, qv: search(store, None, q.question, DEPTH, mode="vector", query_vector=qv)
    cols["fts"] = lambda q, qv: search(store, None, q.question, DEPTH, mode="fts")
    return cols


def main() -> int:
    ap = argparse.ArgumentParser(description="retrieval eval, dev and own sets side by side")
    ap.add_argument("--db", type=Path, help="corpus index folder (default: build one in a temp folder)")
    ap.add_argument("--baseline-db", type=Path,
                    help="an index built by the previous chunker (today's hybrid reference column)")
    ap.add_argument("--questions", type=Path, nargs="*", help="question files (default: the dev and own sets)")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--no-naive", action="store_true", help="skip the naive text-only baseline")
    ap.add_argument("--misses", action="store_true", help="list what ranked instead of each miss")
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
    baseline = Store(args.baseline_db) if args.baseline_db else None
    embedder = load_embedder(embed_settings)
    sets = {p.stem: p for p in args.questions} if args.questions else SETS
    cols = columns(store, baseline)
    naive = None if args.no_naive else naive_baseline(baseline or store, embedder)
    print(f"index {index} ({store.count_chunks()} chunks, {embedder.model_id})"
          + (f"; today's index {args.baseline_db} ({baseline.count_chunks()} chunks)" if baseline else ""))
    everything: dict[str, Any] = {}
    for set_name, path in sets.items():
        questions = load_questions(path)
        qvecs = {q.id: embedder.embed_query(q.question) for q in questions}
        results, timings = eval_set(questions, qvecs, cols, naive, args.k)
        print(f"\n##### {set_name}: {len(questions)} questions ({path})")
        print("ms/query (query vector precomputed): " + ", ".join(f"{m} {t:.0f}" for m, t in timings.items()))
        print("\n".join(side_by_side(results, args.k)))
        print("\nfirst hit from the right document (doc@1): "
              + ", ".join(f"{n} {r['doc@1']:.3f}" for n, r in results.items()))
        print("\n".join(format_result(results["folio"], f"\nfolio on {set_name}, per type (misses listed)")))
        if args.misses:
            print_misses(questions, results["folio"], cols["folio"], qvecs, args.k)
        everything[set_name] = results
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    return 0


def eval_set(questions: list[Question], qvecs: dict[str, Any], cols: dict[str, Any], naive: Any,
             k: int) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    results: dict[str, dict[str, Any]] = {}
    if naive is not None:
        matrix, chunks = naive
        cols = {"naive": lambda q, qv: naive_hits(matrix, chunks, qv, DEPTH), **cols}
    timings: dict[str, float] = {}
    for name, retrieve in cols.items():
        first_doc: dict[str, bool] = {}

        def run(q: Question, r: Any = retrieve, seen: dict[str, bool] = first_doc) -> list[Hit]:
            hits = r(q, qvecs[q.id])
            seen[q.id] = bool(hits) and same_document(hits[0].source, q.doc)
            return hits

        t0 = time.perf_counter()
        results[name] = run_eval(questions, run, k)
        timings[name] = (time.perf_counter() - t0) / max(1, len(questions)) * 1000
        # How often the first hit is from the right document at all: what routing is for.
        results[name]["doc@1"] = round(sum(first_doc.values()) / max(1, len(questions)), 4)
    return results, timings


def print_misses(questions: list[Question], result: dict[str, Any], retrieve: Any, qvecs: dict[str, Any],
                 k: int) -> None:
    # What ranked first instead: the gold page is one page, and a miss may be another page
    # that states the same answer (judge by eye; not scored).
    by_id = {q.id: q for q in questions}
    for row in result["questions"]:
        if row["rank"] is None or row["rank"] > k:
            q = by_id[row["id"]]
            print(f"\nmissed {q.id} (gold {q.doc} p.{','.join(map(str, q.pages))}; rank {row['rank']}): {q.question}")
            for h in retrieve(q, qvecs[q.id])[:2]:
                print(f"    ranked instead: {citation(h)} [{h.kind}] {snippet(h.text, 160)}")


if __name__ == "__main__":
    sys.exit(main())
