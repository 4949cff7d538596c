"""What one review click costs in the review tables (review/tables.py), on a folder or an
object store: N caption edits over 10 elements of 3 documents, each followed by the two
reads the app and the nightly run make (one overlay, a document's overlays).

    nice python3 bench/review_store.py /tmp/x --edits 200
    AWS_ENDPOINT_URL=... AWS_ALLOW_HTTP=true ... nice python3 bench/review_store.py s3://bucket/idx --edits 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from folio.review import Overlay
from review.overlays import OverlayStore


def _q(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs) * 1000:.1f} ms, p95 {sorted(xs)[int(len(xs) * 0.95)] * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("location", help="an index folder or s3://bucket/prefix (a scratch one: it is written)")
    ap.add_argument("--edits", type=int, default=200)
    args = ap.parse_args()
    store = OverlayStore(args.location if "://" in args.location else Path(args.location))
    edits, gets, docs = [], [], []
    for i in range(args.edits):
        base = Overlay(content_hash=f"h{i % 10}", source=f"doc{i % 3}.pdf", element_id=f"e{i}", kind="image")
        t = time.perf_counter()
        store.change(base, "bench", "edit", "caption", None, f"c{i}", values={"caption": f"c{i}"})
        edits.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.get(f"h{i % 10}")
        gets.append(time.perf_counter() - t)
        t = time.perf_counter()
        store.for_source("doc1.pdf")
        docs.append(time.perf_counter() - t)
    print(f"{args.edits} edits at {args.location}: edit {_q(edits)} | get {_q(gets)} | for_source {_q(docs)}")


if __name__ == "__main__":
    main()
