"""``ingest.py status``: recent runs, index size, failed documents with their reasons."""

from __future__ import annotations

import json
import sys
from typing import Any

from folio.config import Pipeline
from folio.exitcodes import EXIT_OK
from pipeline.plan import INDEXED
from pipeline.snapshot import unrecorded_reports


def gather_status(pipe: Pipeline, runs: int = 5) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pipeline": pipe.name, "index": str(pipe.location), "documents": 0, "documents_ok": 0,
        "chunks": 0, "enrich_pending": [], "enrich_items_left": 0, "failed": [], "runs": [],
    }
    if pipe.remote is None and not (pipe.index / "lancedb").is_dir():
        return out
    from folio.storage import blobs_for
    from index.store import open_index

    store = open_index(pipe)
    docs = store.documents()
    out["documents"] = len(docs)
    # "partial": indexed and searchable, its enrichment cut short by a budget (next run finishes it)
    out["documents_ok"] = sum(1 for d in docs.values() if d.status in INDEXED)
    out["enrich_pending"] = sorted(d.source for d in docs.values() if d.status == "partial")
    # captions and summaries still to make (documents rows of older indexes do not say: 0)
    out["enrich_items_left"] = sum(d.enrich_left or 0 for d in docs.values() if d.status == "partial")
    out["chunks"] = store.count_chunks()
    out["failed"] = [
        {"source": d.source, "error": d.error, "at": d.finished_at}
        for d in sorted(docs.values(), key=lambda d: d.source)
        if d.status not in INDEXED
    ]
    # Nothing-changed runs recorded only as report files until the next run that opens the
    # store (pipeline/snapshot.py): show them too.
    pending = [{**r, "report": r} for r in unrecorded_reports(blobs_for(pipe.location, pipe.store_options()))]
    rows = sorted([*store.runs(runs), *pending], key=lambda r: r.get("started_at") or "", reverse=True)
    for r in rows[:runs]:
        report = r.get("report") or {}
        out["runs"].append({
            "run_id": r["run_id"], "started_at": r["started_at"], "finished_at": r["finished_at"],
            "status": r["status"], "seconds": report.get("seconds"), "stopped": report.get("stopped"),
            "counts": report.get("counts", {}),
        })
    return out


def format_status(st: dict[str, Any]) -> list[str]:
    lines = [
        f"pipeline {st['pipeline']} (index {st['index']}): {st['documents_ok']} documents indexed, "
        f"{st['chunks']} chunks, {len(st['failed'])} failed"
    ]
    if st["enrich_pending"]:
        items = f", {st['enrich_items_left']} items" if st.get("enrich_items_left") else ""
        lines.append(
            f"enrichment unfinished (the next run completes it): {len(st['enrich_pending'])} documents{items}"
        )
    if not st["runs"]:
        lines.append("no runs yet")
    else:
        lines.append("recent runs:")
    for r in st["runs"]:
        c = r["counts"]
        counts = ", ".join(
            f"{c.get(key, 0)} {label}"
            for key, label in (("ok", "ok"), ("failed", "failed"), ("unchanged", "unchanged"),
                               ("deleted", "deleted"))
        )
        secs = f" in {r['seconds']:.1f} s" if r.get("seconds") is not None else ""
        stopped = f" (stopped: {r['stopped']})" if r.get("stopped") else ""
        lines.append(f"  {r['started_at']}  {r['status'] or '?':7}  {counts}{secs}{stopped}")
    if st["failed"]:
        lines.append("failed documents:")
        lines.extend(f"  {f['source']}: {f['error']}" for f in st["failed"])
    return lines


def print_status(pipe: Pipeline, runs: int, as_json: bool) -> int:
    st = gather_status(pipe, runs)
    if as_json:
        sys.stdout.write(json.dumps(st, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("\n".join(format_status(st)) + "\n")
    return EXIT_OK
