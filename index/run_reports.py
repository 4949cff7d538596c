"""Reading what the nightly runs did: the runs table, plus the reports of runs that
finished without opening LanceDB (nothing changed; pipeline/snapshot.py) and wait in
``reports/unrecorded`` for the next run to record them. Read-only: used by
``ingest.py status`` and the app's Corpus tab (review/backlog.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from folio.storage import Blobs
    from index.store import Store

UNRECORDED = "reports/unrecorded"


def unrecorded_reports(blobs: Blobs) -> list[dict[str, Any]]:
    """Reports of runs not yet in the runs table, oldest first."""
    raw = blobs.read(UNRECORDED)
    if raw is None:
        return []
    out = []
    for run_id in raw.decode("utf-8", "replace").split():
        try:
            data = blobs.read(f"reports/{run_id}.json")
            if data is not None:
                out.append(json.loads(data.decode("utf-8")))
        except ValueError:
            continue  # a damaged report file: nothing to record
    return out


def _number(value: Any) -> float | None:
    # reports are files on disk: a hand-edited or damaged one must not break the page
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(counts: dict[str, Any], key: str) -> int:
    v = counts.get(key)
    return int(v) if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def run_summary(row: dict[str, Any]) -> dict[str, Any]:
    """One run as the status command and the Corpus tab show it: numbers and short words only."""
    report = _dict(row.get("report"))
    raw = _dict(report.get("counts"))
    counts = {k: _count(raw, k) for k in raw if isinstance(k, str)}
    return {
        "run_id": str(row.get("run_id") or ""), "started_at": str(row.get("started_at") or ""),
        "finished_at": row.get("finished_at"), "status": row.get("status"),
        "seconds": _number(report.get("seconds")), "stopped": report.get("stopped"),
        # what the night had to do: documents new, changed or deleted since the run before
        "changed": sum(_count(counts, k) for k in ("new", "changed", "deleted")),
        "failed": _count(counts, "failed"),
        "counts": counts,
    }


def last_runs(store: Store | None, blobs: Blobs, n: int = 5) -> list[dict[str, Any]]:
    """The last ``n`` runs, newest first (runs table and unrecorded reports together)."""
    rows = store.runs(n) if store is not None else []
    pending = [{**r, "report": r} for r in unrecorded_reports(blobs)]
    rows = sorted([*rows, *pending], key=lambda r: str(r.get("started_at") or ""), reverse=True)
    return [run_summary(r) for r in rows[:n]]
