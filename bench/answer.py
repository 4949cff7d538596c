#!/usr/bin/env python3
"""Answer quality and speed, side by side in one run: Folio with its answer paths (table
lookup, computed, extract-then-phrase text) vs Folio with one plain generation (how it
answered before) vs a naive recipe, over several question sets, the same model and index.

    nice python bench/answer.py --db .folio/corpus --sets dev,own,analyst
    nice python bench/answer.py --db .folio/corpus --sets analyst --limit 10 --no-naive
    nice python bench/answer.py --rescore out.json          # score saved answers again

Sets: ``dev`` (../shared/eval-dev/questions.jsonl), ``own`` (bench/data/answers-own.jsonl),
``analyst`` (bench/data/answers-analyst.jsonl: computations, large-table lookups, lists,
figures; written from the documents by someone who did not run Folio), or a JSONL path.
The naive recipe: the 3 most similar 1000-character chunks (page text cut blindly, MiniLM
cosine; bench/retrieval.py) pasted into a plain prompt, asked to cite [n].
Per question the recipes run one after the other, so load noise hits all.

Reported per set and recipe: accuracy (the answer holds the gold's key figure or phrase;
numbers compared numerically), accuracy by evidence type, citation hit (a citation on the
evidence page), in context (the evidence page among the model's blocks) and accuracy when
it was, abstentions, how often each path was taken and was right, how often a second model
call was made, TTFT and total p50/p90. Targets (issue 18): accuracy >= 0.7 on every set,
>= 0.8 when the evidence is in context, citation hit >= 0.85, TTFT p50 <= 5 s, total p50 <= 12 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _scratch import REPO

# The repo first: this script's own folder (bench/, first on sys.path) would otherwise
# shadow the answer package with this file.
sys.path.insert(0, str(REPO))

from folio.offline import enforce_offline

_PERIOD_RE = re.compile(r"(?:\b(?:FY|Q[1-4]|fiscal|year)\s*'?\d{2,4}\b|\b(?:19|20)\d{2}\b)", re.IGNORECASE)


_DATE_RE = re.compile(r"\b\d{1,2}[-/]\d{1,2}[-/]\d{2,4}\b|\b(?:January|February|March|April|May|June|July|"
                      r"August|September|October|November|December) \d{1,2}, \d{4}\b")


DATE_GOLD_WORDS = 8


def key_figure(gold: str) -> str | None:
    """The gold answer's key figure: its first number that is not a year or period
    ("Q2 FY2024", "2023") - "a decline of 1.32% from 982 stores in Q2 FY 2023" -> 1.32%."""
    from answer.text import figures

    found = figures(_PERIOD_RE.sub(" ", gold))
    return found[0] if found else None


def correct(answer: str, gold: str) -> bool:
    """The answer holds the gold's key figure (compared as a number), or its phrase: whole,
    or most of its content words for a long explanatory answer."""
    from answer.text import content_words, figure_values, has_figure

    # "01-17-2023 (January 17, 2023)": either form, as written. Only for a gold that is a
    # date: a sentence that mentions one ("... from August 30, 2023 onward") is judged below
    # (it was required whole, word for word, and right answers scored wrong).
    if _DATE_RE.search(gold) and len(gold.split()) <= DATE_GOLD_WORDS:
        alts = [p.strip(" ().") for p in gold.split("(")]
        return any(alt and alt.lower() in answer.lower() for alt in alts)
    key = key_figure(gold)
    if key is not None:
        return has_figure(figure_values(answer.replace("$", " ")), key)
    g, a = gold.lower().strip(" ."), answer.lower()
    if g in a:
        return True
    words = content_words(gold)
    need = 0.6 if len(words) > 6 else 0.8
    return bool(words) and len(words & content_words(answer)) / len(words) >= need


def cited_evidence(cites: list[dict[str, Any]], q: dict[str, Any]) -> bool:
    from commands.eval import same_document

    pages = q.get("evidence_pages") or q["evidence_page"]
    pages = pages if isinstance(pages, list) else [pages]
    return any(same_document(c["source"], q["doc"]) and (c.get("page") in pages or not any(pages))
               for c in cites)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p * (len(s) - 1)))]


class Naive:
    def __init__(self, store: Any, embedder: Any, backend: Any) -> None:
        from retrieval import naive_baseline

        self.matrix, self.chunks = naive_baseline(store, embedder)
        self.embedder, self.backend = embedder, backend

    def run(self, question: str) -> dict[str, Any]:
        from retrieval import naive_hits

        self.backend.llm._llama.reset()  # no cache from the previous recipe's prompt
        t0 = time.perf_counter()
        hits = naive_hits(self.matrix, self.chunks, self.embedder.embed_query(question), 3)
        t_sources = (time.perf_counter() - t0) * 1000
        ctx = "\n\n".join(f"[{i}] {h.text}" for i, h in enumerate(hits, 1))
        user = f"Answer the question using the context. Cite sources as [n].\n\nContext:\n{ctx}\n\nQuestion: {question}"
        prompt = self.backend.prompt([{"role": "user", "content": user}])
        text, ttft = "", None
        for piece in self.backend.stream(prompt, 200):
            ttft = ttft if ttft is not None else (time.perf_counter() - t0) * 1000
            text += piece
        used = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
        cites = [{"source": h.source, "page": h.pages[0] if h.pages else None}
                 for i, h in enumerate(hits, 1) if i in used]
        return {"answer": text, "citations": cites, "abstained": False, "prompt_tokens": prompt.tokens,
                "timings": {"retrieve_ms": t_sources, "ttft_ms": ttft or 0.0,
                            "total_ms": (time.perf_counter() - t0) * 1000}}


SETS = {
    "dev": REPO.parent / "shared" / "eval-dev" / "questions.jsonl",
    "own": REPO / "bench" / "data" / "answers-own.jsonl",
    "analyst": REPO / "bench" / "data" / "answers-analyst.jsonl",
}


def set_path(name: str) -> Path:
    return SETS[name] if name in SETS else Path(name)


def summarise(rs: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(1, len(rs))
    inctx = [r for r in rs if r.get("in_context")]
    s: dict[str, Any] = {
        "n": len(rs),
        "accuracy": sum(r["correct"] for r in rs) / n, "cite": sum(r["cited"] for r in rs) / n,
        "in_context": len(inctx) / n,
        "acc_in_context": sum(r["correct"] for r in inctx) / len(inctx) if inctx else float("nan"),
        "abstain": sum(r["abstained"] for r in rs) / n,
        "second_call": sum(1 for r in rs if r.get("model_calls", 1) > 1) / n,
        "ttft50": pct([r["ttft_ms"] for r in rs], 0.5) / 1000, "ttft90": pct([r["ttft_ms"] for r in rs], 0.9) / 1000,
        "tot50": pct([r["total_ms"] for r in rs], 0.5) / 1000, "tot90": pct([r["total_ms"] for r in rs], 0.9) / 1000,
        "tokens": statistics.median(r["prompt_tokens"] for r in rs) if rs else 0,
    }
    for t in ("table", "text", "figure"):
        sub = [r for r in rs if r.get("type") == t]
        s[f"acc_{t}"] = sum(r["correct"] for r in sub) / len(sub) if sub else float("nan")
    paths: dict[str, list[int]] = {}
    for r in rs:
        taken = paths.setdefault(str(r.get("path") or "-"), [0, 0])
        taken[0] += 1
        taken[1] += int(r["correct"])
    s["paths"] = {k: f"{v[1]}/{v[0]}" for k, v in sorted(paths.items())}
    return s


def report(rows: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    """Print the side-by-side table, one line per set and recipe; returns it."""
    head = (f"{'set':8} {'recipe':11} {'n':>3} {'acc':>5} {'table':>5} {'text':>5} {'figure':>6} {'cite':>5} "
            f"{'inctx':>5} {'acc|in':>6} {'abst':>5} {'2nd':>5} {'TTFT50':>6} {'TTFT90':>6} {'tot50':>6} "
            f"{'tot90':>6}  paths (right/taken)")
    print(head)
    summary: dict[str, dict[str, Any]] = {}
    for qset in dict.fromkeys(r["set"] for r in rows):
        for name in names:
            rs = [r for r in rows if r["recipe"] == name and r["set"] == qset]
            if not rs:
                continue
            s = summarise(rs)
            summary[f"{qset}/{name}"] = s
            print(f"{qset:8} {name:11} {s['n']:3d} {s['accuracy']:5.2f} {s['acc_table']:5.2f} {s['acc_text']:5.2f} "
                  f"{s['acc_figure']:6.2f} {s['cite']:5.2f} {s['in_context']:5.2f} {s['acc_in_context']:6.2f} "
                  f"{s['abstain']:5.2f} {s['second_call']:5.2f} {s['ttft50']:5.1f}s {s['ttft90']:5.1f}s "
                  f"{s['tot50']:5.1f}s {s['tot90']:5.1f}s  {s['paths']}")
    return summary


def rescore(path: Path) -> int:
    """Score saved answers again (after a change to the scoring), without the model."""
    data = json.loads(path.read_text())
    rows = data["rows"]
    gold: dict[tuple[str, str], dict[str, Any]] = {}
    for qset in dict.fromkeys(r["set"] for r in rows):
        for q in load(set_path(qset), None):
            gold[(qset, q["id"])] = q
    for r in rows:
        r["correct"] = correct(r["answer"], str(gold[(r["set"], r["id"])]["answer"]))
    report(rows, list(dict.fromkeys(r["recipe"] for r in rows)))
    return 0


def in_context(sources: list[dict[str, Any]], q: dict[str, Any]) -> bool:
    return cited_evidence(sources, q)


def main() -> int:
    enforce_offline()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=REPO / ".folio" / "corpus", help="an index of ../shared/corpus")
    ap.add_argument("--sets", default="dev,own,analyst", help="question sets: dev, own, analyst or JSONL paths")
    ap.add_argument("--recipes", default="folio,plain,naive",
                    help="folio (every answer path), plain (one generation over the sources, as before), naive")
    ap.add_argument("--naive-sets", default="dev", help="sets the naive recipe runs on (it is slow)")
    ap.add_argument("--budget", type=int, default=None, help="context tokens (default: the pipeline's)")
    ap.add_argument("--llm", default="qwen2.5-coder-1.5b-q4_k_m")
    ap.add_argument("--limit", type=int, default=None, help="first N questions of each set only")
    ap.add_argument("--json", type=Path, help="also write per-question rows here")
    ap.add_argument("--rescore", type=Path, help="score a --json file of an earlier run again (no model)")
    ap.add_argument("--grid-only", action="store_true",
                    help="no generation: the computed questions answered from the table grid (answer/gridfill.py)")
    ap.add_argument("--sources-only", action="store_true",
                    help="no generation: how often the evidence page is among the sources the model would get")
    args = ap.parse_args()
    if args.rescore:
        return rescore(args.rescore)

    from answer.backends import load_backend
    from answer.engine import Engine
    from answer.requests import Ask
    from folio.config import Pipeline, Source
    from index.reader import open_index

    base = Pipeline(name="bench", sources=[Source(path=args.db)], index=args.db.resolve())
    base = base.model_copy(update={"models": base.models.model_copy(update={"llm": args.llm})})
    if args.budget:
        base = base.model_copy(update={"answer": base.answer.model_copy(update={"context_tokens": args.budget})})
    store, embedder = open_index(base, "hybrid")
    backend = load_backend(base.models, base.answer)
    wanted = args.recipes.split(",")

    def steady(eng: Any) -> None:
        # The state a server is in between questions: the KV cache holds the system message
        # (and nothing of another recipe's prompt for the same question).
        backend.llm._llama.reset()
        "".join(backend.stream(backend.prompt([{"role": "system", "content": eng.system},
                                               {"role": "user", "content": "Hello"}]), 1))

    def ask(eng: Any, question: str) -> dict[str, Any]:
        steady(eng)
        result: dict[str, Any] = {}
        sources: list[dict[str, Any]] = []
        for ev in eng.ask(Ask(question)):
            if ev.kind == "sources":
                sources = ev.data["sources"]
            elif ev.kind == "done":
                result = ev.data
        return {**result, "sources": sources}

    engines: dict[str, Any] = {}
    for name, paths in (("folio", None), ("plain", [])):
        if name in wanted:
            pipe = base
            if paths is not None:
                pipe = base.model_copy(update={"answer": base.answer.model_copy(update={"paths": paths})})
            engines[name] = Engine(pipe, store, embedder, backend)  # type: ignore[arg-type]
    if args.sources_only:
        return sources_only(engines, [set_path(x) for x in args.sets.split(",")], args.limit)
    if args.grid_only:
        return grid_only(engines, [set_path(x) for x in args.sets.split(",")], args.limit)
    naive = Naive(store, embedder, backend) if "naive" in wanted else None
    naive_sets = set(args.naive_sets.split(","))
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for qset in args.sets.split(","):
        questions = load(set_path(qset), args.limit)
        for i, q in enumerate(questions, 1):
            runs: dict[str, Any] = {n: (lambda qq, e=e: ask(e, qq)) for n, e in engines.items()}
            if naive is not None and qset in naive_sets:
                runs["naive"] = naive.run
            for name, run in runs.items():
                r = run(q["question"])
                rows.append({"set": qset, "recipe": name, "id": q["id"], "type": q.get("evidence_type"),
                             "kind": q.get("kind"), "correct": correct(r["answer"], str(q["answer"])),
                             "cited": cited_evidence(r["citations"], q),
                             "in_context": in_context(r.get("sources") or r["citations"], q),
                             "abstained": bool(r.get("abstained")), "path": r.get("path", "-"),
                             "model_calls": r.get("model_calls", 1),
                             "prompt_tokens": r["prompt_tokens"], **r["timings"], "answer": r["answer"]})
                print(f"[{qset} {i}/{len(questions)}] {name:9} {rows[-1]['path']:8} ok={rows[-1]['correct']!s:5} "
                      f"cite={rows[-1]['cited']!s:5} ttft={r['timings']['ttft_ms'] / 1000:5.1f}s  "
                      f"{q['id']}: {r['answer'][:90]!r}", flush=True)
            if args.json:  # partial results survive an interrupted run
                args.json.write_text(json.dumps({"rows": rows}, indent=1))
    print(f"\n{len(rows)} answers, {time.perf_counter() - t_start:.0f} s, model {backend.model_id}\n")
    summary = report(rows, list(dict.fromkeys(r["recipe"] for r in rows)))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    return 0


def load(path: Path, limit: int | None) -> list[dict[str, Any]]:
    questions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return questions[:limit] if limit else questions


def sources_only(engines: dict[str, Any], paths: list[Path], limit: int | None) -> int:
    """The share of questions whose evidence page is among the blocks the engine would give
    the model: the ceiling retrieval puts on the citation hit rate."""
    from commands.eval import Question, is_hit

    eng = next(iter(engines.values()))
    for path in paths:
        questions = load(path, limit)
        hit = 0
        for q in questions:
            pages = q.get("evidence_pages") or q["evidence_page"]
            pages = pages if isinstance(pages, list) else [pages]
            qq = Question(q["id"], q["doc"], q["question"], tuple(p for p in pages if p), q["evidence_type"])
            blocks = eng.retrieve(q["question"], eng.settings.k)
            hit += any(is_hit(b.hit, qq) for b in blocks)
        print(f"evidence page among the sources for {hit}/{len(questions)} = "
              f"{hit / max(1, len(questions)):.2f} of {path.name}")
    return 0



def grid_only(engines: dict[str, Any], paths: list[Path], limit: int | None) -> int:
    """How many questions of a catalogue (or self-defined) measure the grid fill computes
    with no model call, and how many of those are right."""
    from answer.compute import from_output
    from answer.focus import focus
    from answer.gridfill import from_grid
    from answer.measures import catalogue_for, find_measure, needs_arithmetic

    eng = next(iter(engines.values()))
    cat = catalogue_for(eng.settings)
    for path in paths:
        asked = filled = right = 0
        for q in load(path, limit):
            m = find_measure(q["question"], cat) if needs_arithmetic(q["question"], cat) else None
            if m is None or not m.formula or m.generic:
                continue
            asked += 1
            blocks = focus(eng.retrieve(q["question"], eng.settings.k), q["question"], m)
            c = from_grid(blocks, q["question"], m, from_output)
            if c is not None:
                filled += 1
                ok = correct(c.text, str(q["answer"]))
                right += ok
                print(f"  {q['id']}: {'ok ' if ok else 'BAD'} {c.text[:160]}")
        print(f"grid fill on {path.name}: {asked} questions of a fixed measure, {filled} computed from the grid "
              f"without the model, {right} of those right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
