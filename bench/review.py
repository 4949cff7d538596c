"""How long until a review edit is visible in search: edit -> hybrid search finds it.

For each of ``--edits`` elements (tables and pictures, spread over the documents, small and
large), the table summary or the picture caption is replaced by a text with a word found
nowhere else; the clock runs from the edit call until a hybrid search for that word
returns the element. The edit call saves the overlay and its audit row, re-chunks the
document and re-embeds the chunks whose text changed (index/reindex.py). Runs on a copy
of the index (the given one is never changed), with the pipeline's real embedder.

    python bench/review.py --db .folio/corpus [--pipeline corpus] [--edits 10]

Prints each edit (document, its element count, chunks re-embedded, seconds) and p50 / p95.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from folio.offline import enforce_offline

    enforce_offline()
    from folio.config import load_config
    from index.embed import load_embedder
    from index.search import search
    from index.store import Store
    from review.reviewer import Reviewer

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--db", type=Path, required=True, help="an index folder (copied, never changed)")
    p.add_argument("--pipeline", default="corpus", help="pipeline whose embedder and chunk settings apply")
    p.add_argument("--config", default=str(REPO / "pipelines.toml"))
    p.add_argument("--edits", type=int, default=10)
    p.add_argument("--timeout", type=float, default=30.0, help="give up on one edit after this many seconds")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="folio-bench-review-") as tmp:
        index = Path(tmp) / "index"
        t0 = time.perf_counter()
        shutil.copytree(args.db, index, ignore=shutil.ignore_patterns("assets", "tmp", "run.lock"))
        print(f"copied {args.db} in {time.perf_counter() - t0:.1f} s")
        pipe = load_config(Path(args.config)).pipeline(args.pipeline).model_copy(update={"index": index})
        store = Store(index)
        embedder = load_embedder(pipe.embed)
        review = Reviewer(pipe, store, embedder)
        docs = sorted(store.documents().values(), key=lambda d: d.elements)
        targets = _targets(store, [d.source for d in docs if d.status != "error"], args.edits)
        sizes = {d.source: d.elements for d in docs}
        times: list[float] = []
        for el in targets:
            word = "zq" + uuid.uuid4().hex[:8]
            field = "summary" if el.kind == "table" else "caption"
            value = f"Reviewed {field}: {word} describes this {el.kind} correctly."
            t = time.perf_counter()
            out = review.edit(el.id, field, value, "bench")
            seen = False
            while time.perf_counter() - t < args.timeout:
                hits = search(store, embedder, word, 5, rrf_k=pipe.search.rrf_k)
                if any(el.id in h.element_ids for h in hits):
                    seen = True
                    break
            dt = time.perf_counter() - t
            r = out["refresh"]
            times.append(dt if seen else float("inf"))
            print(f"{el.source[:48]:48s} {sizes.get(el.source, 0):6d} elements  {el.kind:5s} "
                  f"re-embedded {r['chunks_embedded']:3d}/{r['chunks']:5d} chunks  edit {r['seconds']:.2f} s  "
                  f"visible in search after {dt:.2f} s{'' if seen else ' (NOT FOUND)'}")
        finite = sorted(times)
        p50 = statistics.median(finite)
        p95 = finite[min(len(finite) - 1, round(0.95 * (len(finite) - 1)))]
        print(f"\nedit -> visible in search over {len(times)} edits: p50 {p50:.2f} s, p95 {p95:.2f} s, "
              f"max {finite[-1]:.2f} s (target p50 < 2 s)")
    return 0


def _targets(store: object, sources: list[str], n: int) -> list:
    """Up to ``n`` tables and pictures, one per document in turn, small documents to large."""
    picked = []
    for source in sources:
        els = [e for e in store.elements(source) if e.kind in ("table", "image")]  # type: ignore[attr-defined]
        if els:
            picked.append(els[len(els) // 2])
    if len(picked) > n:
        step = len(picked) / n
        picked = [picked[int(i * step)] for i in range(n)]
    return picked


if __name__ == "__main__":
    sys.exit(main())
