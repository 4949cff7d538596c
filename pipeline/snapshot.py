"""A copy of the documents table's planning columns, so a nothing-changed night needs no LanceDB.

Importing LanceDB alone costs 1.5-5 s on the target machine, which is most of a no-op
run. At the end of each run that opened the store, the runner writes
``<index>/documents.snapshot.json`` with the rows and a stamp of the documents table's
committed versions (the names of Lance's manifest files). A later run trusts the copy
only if the stamp still matches and the previous run ended cleanly; otherwise, or as
soon as anything needs doing, it reads the real table. So the copy can only ever say
"nothing to do" — never decide a write.

Runs that finish on this path cannot add their row to the runs table without LanceDB;
their ids go to ``reports/unrecorded`` and the next run that opens the store adds them
(``status`` shows them from their report files in the meantime).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

SNAPSHOT = "documents.snapshot.json"
UNRECORDED = "unrecorded"
# Lance keeps one manifest file per committed table version here.
_VERSIONS = Path("lancedb") / "documents.lance" / "_versions"


@dataclass
class DocState:
    """The documents-row fields planning looks at (a subset of index.store.DocRecord)."""

    source: str
    path: str = ""
    sha256: str = ""
    size: int = 0
    mtime: float = 0.0
    status: str = "ok"
    error: str | None = None
    fingerprint: str = ""
    embed_model: str | None = None


_FIELDS = [f.name for f in fields(DocState)]


def store_stamp(index: Path) -> str | None:
    try:
        names = sorted(n for n in os.listdir(index / _VERSIONS) if n.endswith(".manifest"))
    except OSError:
        return None
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:24] if names else None


def write_snapshot(index: Path, docs: dict[str, Any], stored_model: str | None) -> None:
    stamp = store_stamp(index)
    path = index / SNAPSHOT
    if stamp is None:
        path.unlink(missing_ok=True)
        return
    rows = [{k: getattr(d, k) for k in _FIELDS} for d in docs.values()]
    data = {"stamp": stamp, "stored_model": stored_model, "documents": rows}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def read_snapshot(index: Path) -> tuple[dict[str, DocState], str | None] | None:
    """(documents by source, the chunks' embed model), or None if absent or out of date."""
    try:
        data = json.loads((index / SNAPSHOT).read_text(encoding="utf-8"))
        if data["stamp"] != store_stamp(index):
            return None
        docs = {r["source"]: DocState(**r) for r in data["documents"]}
        return docs, data.get("stored_model")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def add_unrecorded(reports_dir: Path, run_id: str) -> None:
    reports_dir.mkdir(parents=True, exist_ok=True)
    with open(reports_dir / UNRECORDED, "a", encoding="utf-8") as f:
        f.write(run_id + "\n")


def unrecorded_reports(reports_dir: Path) -> list[dict[str, Any]]:
    """Reports of runs not yet in the runs table, oldest first."""
    try:
        ids = (reports_dir / UNRECORDED).read_text(encoding="utf-8").split()
    except OSError:
        return []
    out = []
    for run_id in ids:
        try:
            out.append(json.loads((reports_dir / f"{run_id}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # report file removed by hand: nothing to record
    return out


def clear_unrecorded(reports_dir: Path) -> None:
    (reports_dir / UNRECORDED).unlink(missing_ok=True)
