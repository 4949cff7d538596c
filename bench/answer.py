#!/usr/bin/env python3
"""Answer quality and speed: Folio at several context budgets vs a naive recipe, side by
side in one run over the same questions, the same model and the same index.

    nice python bench/answer.py --db .folio/corpus                    # dev questions
    nice python bench/answer.py --db .folio/corpus --budgets 384,640,1024 --limit 10

The naive recipe: the 3 most similar 1000-character chunks (page text cut blindly,
MiniLM cosine; bench/retrieval.py) pasted into a plain prompt, asked to cite [n].
Per question the recipes run one after the other (A/B/C...), so load noise hits all.

Reported per recipe: accuracy (the answer holds the ground truth's key figure or phrase;
numbers compared numerically), citation hit rate (a citation on the evidence page of the
evidence document), abstentions, time to sources (retrieval), TTFT and total p50/p90,
prompt tokens. Targets (issue): accuracy >= 0.6 and >= 1.5x naive; citation hit >= 0.85;
TTFT p50 <= 8 s and <= half the naive's; sources p50 <= 1 s.
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

QUESTIONS = REPO.parent / "shared" / "eval-dev" / "questions.jsonl"


_PERIOD_RE = re.compile(r"(?:\b(?:FY|Q[1-4]|fiscal|year)\s*'?\d{2,4}\b|\b(?:19|20)\d{2}\b)", re.IGNORECASE)


_DATE_RE = re.compile(r"\b\d{1,2}[-/]\d{1,2}[-/]\d{2,4}\b|\b(?:January|February|March|April|May|June|July|"
                      r"August|September|October|November|December) \d{1,2}, \d{4}\b")


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

    if _DATE_RE.search(gold):  # "01-17-2023 (January 17, 2023)": either form, as written
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

    pages = q["evidence_page"] if isinstance(q["evidence_page"], list) else [q["evidence_page"]]
    return any(same_document(c["source"], q["doc"]) and c.get("page") in pages for c in cites)


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


def report(rows: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, float]]:
    """Print the side-by-side table (and ratios to the naive recipe); returns it."""
    head = f"{'recipe':14} {'accuracy':>8} {'cite hit':>8} {'abstain':>7} {'sources p50':>11} " \
           f"{'TTFT p50':>8} {'TTFT p90':>8} {'total p50':>9} {'total p90':>9} {'prompt tok':>10}"
    print(head)
    summary: dict[str, dict[str, float]] = {}
    for name in names:
        rs = [r for r in rows if r["recipe"] == name]
        s = {
            "accuracy": sum(r["correct"] for r in rs) / len(rs), "cite": sum(r["cited"] for r in rs) / len(rs),
            "abstain": sum(r["abstained"] for r in rs) / len(rs),
            "src50": pct([r["retrieve_ms"] for r in rs], 0.5) / 1000,
            "ttft50": pct([r["ttft_ms"] for r in rs], 0.5) / 1000,
            "ttft90": pct([r["ttft_ms"] for r in rs], 0.9) / 1000,
            "tot50": pct([r["total_ms"] for r in rs], 0.5) / 1000,
            "tot90": pct([r["total_ms"] for r in rs], 0.9) / 1000,
            "tokens": statistics.median(r["prompt_tokens"] for r in rs),
        }
        summary[name] = s
        print(f"{name:14} {s['accuracy']:8.2f} {s['cite']:8.2f} {s['abstain']:7.2f} {s['src50']:10.2f}s "
              f"{s['ttft50']:7.1f}s {s['ttft90']:7.1f}s {s['tot50']:8.1f}s {s['tot90']:8.1f}s {s['tokens']:10.0f}")
    if "naive-3x1000" in summary:
        n = summary["naive-3x1000"]
        for name, s in summary.items():
            if name != "naive-3x1000":
                acc = s["accuracy"] / n["accuracy"] if n["accuracy"] else float("inf")
                print(f"{name}: accuracy {acc:.2f}x naive, TTFT p50 {s['ttft50'] / n['ttft50']:.2f}x naive")
    return summary


def rescore(path: Path, questions: Path) -> int:
    """Score saved answers again (after a change to the scoring), without the model."""
    data = json.loads(path.read_text())
    gold = {q["id"]: q for q in (json.loads(x) for x in questions.read_text().splitlines() if x.strip())}
    rows = data["rows"]
    for r in rows:
        r["correct"] = correct(r["answer"], str(gold[r["id"]]["answer"]))
    report(rows, list(dict.fromkeys(r["recipe"] for r in rows)))
    return 0


def main() -> int:
    enforce_offline()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=REPO / ".folio" / "corpus", help="an index of ../shared/corpus")
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--budgets", default="384,640", help="context budgets (tokens) to compare")
    ap.add_argument("--llm", default="qwen2.5-coder-1.5b-q4_k_m")
    ap.add_argument("--limit", type=int, default=None, help="first N questions only")
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--json", type=Path, help="also write per-question rows here")
    ap.add_argument("--rescore", type=Path, help="score a --json file of an earlier run again (no model)")
    ap.add_argument("--sources-only", action="store_true",
                    help="no generation: how often the evidence page is among the sources the model would get")
    args = ap.parse_args()
    if args.rescore:
        return rescore(args.rescore, args.questions)

    from answer.backends import load_backend
    from answer.engine import Ask, Engine
    from folio.config import Pipeline, Source
    from index.reader import open_index

    base = Pipeline(name="bench", sources=[Source(path=args.db)], index=args.db.resolve())
    base = base.model_copy(update={"models": base.models.model_copy(update={"llm": args.llm})})
    store, embedder = open_index(base, "hybrid")
    backend = load_backend(base.models, base.answer)
    recipes: dict[str, Any] = {}
    def steady(eng: Any) -> None:
        # The state a server is in between questions: the KV cache holds the system message
        # (and nothing of another recipe's prompt for the same question).

        backend.llm._llama.reset()
        "".join(backend.stream(backend.prompt([{"role": "system", "content": eng.system},
                                               {"role": "user", "content": "Hello"}]), 1))

    for b in (int(x) for x in args.budgets.split(",")):
        pipe = base.model_copy(update={"answer": base.answer.model_copy(update={"context_tokens": b})})
        eng = Engine(pipe, store, embedder, backend)  # type: ignore[arg-type]
        recipes[f"folio-{b}"] = lambda q, eng=eng: (steady(eng), eng.answer(Ask(q)))[1]
        recipes[f"sources-{b}"] = eng
    if args.sources_only:
        return sources_only(recipes, args.questions, args.limit)
    if not args.no_naive:
        naive = Naive(store, embedder, backend)
        recipes["naive-3x1000"] = naive.run
    recipes = {n: r for n, r in recipes.items() if not n.startswith("sources-")}
    questions = load(args.questions, args.limit)
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for i, q in enumerate(questions, 1):
        for name, run in recipes.items():
            r = run(q["question"])
            rows.append({"recipe": name, "id": q["id"], "type": q.get("evidence_type"),
                         "correct": correct(r["answer"], str(q["answer"])),
                         "cited": cited_evidence(r["citations"], q), "abstained": bool(r.get("abstained")),
                         "prompt_tokens": r["prompt_tokens"], **r["timings"], "answer": r["answer"]})
            print(f"[{i}/{len(questions)}] {name:13} ok={rows[-1]['correct']!s:5} cite={rows[-1]['cited']!s:5} "
                  f"ttft={r['timings']['ttft_ms'] / 1000:5.1f}s  {q['id']}: {r['answer'][:90]!r}", flush=True)
    print(f"\n{len(questions)} questions, {time.perf_counter() - t_start:.0f} s, model {backend.model_id}\n")
    summary = report(rows, list(recipes))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    return 0


def load(path: Path, limit: int | None) -> list[dict[str, Any]]:
    questions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return questions[:limit] if limit else questions


def sources_only(recipes: dict[str, Any], path: Path, limit: int | None) -> int:
    """The share of questions whose evidence page is among the blocks the engine would give
    the model, per budget: the ceiling retrieval puts on the citation hit rate."""
    from commands.eval import Question, is_hit

    questions = load(path, limit)
    for name, eng in recipes.items():
        if not name.startswith("sources-"):
            continue
        hit = 0
        for q in questions:
            pages = q["evidence_page"] if isinstance(q["evidence_page"], list) else [q["evidence_page"]]
            qq = Question(q["id"], q["doc"], q["question"], tuple(p for p in pages if p), q["evidence_type"])
            blocks = eng.retrieve(q["question"], eng.settings.k)
            hit += any(is_hit(b.hit, qq) for b in blocks)
        print(f"{name.replace('sources', 'folio')}: evidence page among the sources for "
              f"{hit}/{len(questions)} = {hit / max(1, len(questions)):.2f} of {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
