"""``ingest.py status``: documents, the enrichment backlog and review queue, the last runs
and failed documents with their reasons. Read-only; the numbers come from review/backlog.py,
the same the app's Corpus tab shows."""

from __future__ import annotations

import json
import sys
from typing import Any

from folio.config import Pipeline
from folio.exitcodes import EXIT_OK


def gather_status(pipe: Pipeline, runs: int = 5, review: bool = True) -> dict[str, Any]:
    from review.backlog import corpus_status, review_overlays

    store = None
    if pipe.remote is not None or (pipe.index / "lancedb").is_dir():
        from index.store import open_index

        store = open_index(pipe)
    return corpus_status(pipe, store, review_overlays(pipe) if review else None, runs, review)


def format_status(st: dict[str, Any]) -> list[str]:
    lines = [
        f"pipeline {st['pipeline']} (index {st['index']}): {st['documents_ok']} documents indexed, "
        f"{st['chunks']} chunks, {len(st['failed'])} failed"
    ]
    pending = st["enrich_pending"]
    items = f", {st['enrich_items_left']} captions and summaries" if st.get("enrich_items_left") else ""
    lines.append("enrichment backlog: " + (
        f"{len(pending)} documents unfinished{items} (the next run completes it)" if pending else "none"))
    if st.get("review_queue") is not None:
        lines.append(f"review queue: {st['review_queue']} elements to look at (the app's Review tab)")
    lines.append("last runs:" if st["runs"] else "no runs yet")
    for r in st["runs"]:
        c = r["counts"]
        secs = f"{r['seconds']:8.1f} s" if r.get("seconds") is not None else "       ? s"
        stopped = f" (stopped: {r['stopped']})" if r.get("stopped") else ""
        lines.append(
            f"  {r['started_at'][:16].replace('T', ' ')}  {r['status'] or '?':7}  {secs}  "
            f"{r['changed']:4} changed  {r['failed']:3} failed  "
            f"({c.get('ok', 0)} ok, {c.get('unchanged', 0)} unchanged, {c.get('deleted', 0)} deleted){stopped}"
        )
    if st["failed"]:
        lines.append("failed documents:")
        lines.extend(f"  {f['source']}: {f['error']}" for f in st["failed"])
    return lines


def print_status(pipe: Pipeline, runs: int, as_json: bool, review: bool = True) -> int:
    st = gather_status(pipe, runs, review)
    if as_json:
        sys.stdout.write(json.dumps(st, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(format_status(st)) + "\n")
    return EXIT_OK
