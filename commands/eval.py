"""``ingest.py eval``: retrieval recall@k and MRR on a questions file, split by evidence type.

A retrieved chunk answers a question when it comes from the question's document and its
pages include one of the evidence pages; a question without pages, or a chunk without
pages (DOCX has no physical pages), only needs the right document. Retrieval runs over
the whole index, as a user's question would.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from folio.config import Pipeline
from folio.errors import ConfigError
from folio.exitcodes import EXIT_OK

if TYPE_CHECKING:
    from index.search import Hit

class HitLike(Protocol):
    """What scoring looks at in a retrieved chunk (index.search.Hit has more)."""

    source: str
    pages: tuple[int, ...]


KS = (1, 3, 5, 10)
DEPTH = max(KS)


@dataclass(frozen=True)
class Question:
    id: str
    doc: str
    question: str
    pages: tuple[int, ...]  # empty: any chunk of the document counts
    evidence_type: str


def _pages(value: Any) -> tuple[int, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple):
        return tuple(int(v) for v in value if v is not None)
    return (int(value),)


def load_questions(path: Path) -> list[Question]:
    if not path.is_file():
        raise ConfigError(f"--questions: {path} not found")
    out: list[Question] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Question(
                id=str(d.get("id") or n), doc=d["doc"], question=d["question"],
                pages=_pages(d.get("evidence_page")), evidence_type=d.get("evidence_type") or "unknown",
            ))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{path}:{n}: not a question record ({type(e).__name__}: {e})") from None
    return out


def same_document(source: str, doc: str) -> bool:
    """Questions name a file; sources are paths relative to the pipeline root."""
    return source == doc or source.endswith("/" + doc)


def is_hit(hit: HitLike, q: Question) -> bool:
    if not same_document(hit.source, q.doc):
        return False
    return not q.pages or not hit.pages or bool(set(hit.pages) & set(q.pages))


def first_rank(hits: Iterable[HitLike], q: Question) -> int | None:
    for rank, h in enumerate(hits, 1):
        if is_hit(h, q):
            return rank
    return None


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    m = {f"recall@{k}": round(sum(1 for r in ranks if r is not None and r <= k) / n, 4) for k in KS}
    m["mrr"] = round(sum(1.0 / r for r in ranks if r is not None) / n, 4)
    return m


def score(questions: list[Question], ranks: list[int | None], k: int = 5) -> dict[str, Any]:
    """The eval result: overall metrics, ``by_type``, per-question ranks."""
    result: dict[str, Any] = {"n": len(questions), "k": k, **_metrics(ranks)}
    result[f"recall@{k}"] = round(sum(1 for r in ranks if r is not None and r <= k) / (len(ranks) or 1), 4)
    by_type: dict[str, Any] = {}
    for t in sorted({q.evidence_type for q in questions}):
        idx = [i for i, q in enumerate(questions) if q.evidence_type == t]
        by_type[t] = {"n": len(idx), **_metrics([ranks[i] for i in idx])}
    result["by_type"] = by_type
    result["questions"] = [
        {"id": q.id, "doc": q.doc, "evidence_type": q.evidence_type, "pages": list(q.pages), "rank": r}
        for q, r in zip(questions, ranks)
    ]
    return result


def run_eval(
    questions: list[Question], retrieve: Callable[[Question], Sequence[HitLike]], k: int = 5
) -> dict[str, Any]:
    ranks = [first_rank(retrieve(q), q) for q in questions]
    return score(questions, ranks, k)


def format_result(result: dict[str, Any], title: str = "") -> list[str]:
    cols = [f"recall@{k}" for k in KS] + ["mrr"]
    lines = [title] if title else []
    lines.append(f"{'type':12} {'n':>4} " + " ".join(f"{c:>9}" for c in cols))
    rows = [*result["by_type"].items(), ("all", result)]
    for name, m in rows:
        lines.append(f"{name:12} {m['n']:>4} " + " ".join(f"{m[c]:>9.3f}" for c in cols))
    missed = [q for q in result["questions"] if q["rank"] is None or q["rank"] > result["k"]]
    if missed:
        lines.append(f"not in the top {result['k']}: " + ", ".join(q["id"] for q in missed))
    return lines


def eval_command(pipe: Pipeline, questions_path: Path, k: int, mode: str, as_json: bool) -> int:
    from index.reader import open_index
    from index.search import search

    questions = load_questions(questions_path)
    store, embedder = open_index(pipe, mode)
    depth = max(DEPTH, k)

    def retrieve(q: Question) -> list[Hit]:
        return search(store, embedder, q.question, depth, mode=mode, rrf_k=pipe.search.rrf_k)

    result = run_eval(questions, retrieve, k)
    result["mode"] = mode
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(format_result(result, f"retrieval eval ({mode}, {pipe.index})")) + "\n")
    return EXIT_OK
