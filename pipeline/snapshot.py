"""A copy of the documents table's planning columns, so a nothing-changed night needs no LanceDB.

Importing LanceDB alone costs 1.5-5 s on the target machine, which is most of a no-op
run. At the end of each run that opened the store, the runner writes
``documents.snapshot.json`` beside the tables (folio/storage.py: a file, or an object)
with the rows and a stamp of the documents table's committed versions (the names of
Lance's manifest files). A later run trusts the copy only if the stamp still matches
and the previous run ended cleanly; otherwise, or as soon as anything needs doing, it
reads the real table. So the copy can only ever say
"nothing to do" — never decide a write.

Runs that finish on this path cannot add their row to the runs table without LanceDB;
their ids go to ``reports/unrecorded`` and the next run that opens the store adds them
(``status`` shows them from their report files in the meantime).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

from folio.storage import Blobs
from index.run_reports import UNRECORDED, unrecorded_reports  # noqa: F401  (the runner reads them here)

SNAPSHOT = "documents.snapshot.json"
# Lance keeps one manifest file per committed table version here (on an object store
# too: one list request).
_VERSIONS = "lancedb/documents.lance/_versions"


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


def store_stamp(blobs: Blobs) -> str | None:
    names = sorted(n.rsplit("/", 1)[-1] for n in blobs.list(_VERSIONS) if n.endswith(".manifest"))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:24] if names else None


def write_snapshot(blobs: Blobs, docs: dict[str, Any], stored_model: str | None) -> None:
    stamp = store_stamp(blobs)
    if stamp is None:
        blobs.delete(SNAPSHOT)
        return
    rows = [{k: getattr(d, k) for k in _FIELDS} for d in docs.values()]
    data = {"stamp": stamp, "stored_model": stored_model, "documents": rows}
    blobs.write(SNAPSHOT, json.dumps(data).encode())


def read_snapshot(blobs: Blobs) -> tuple[dict[str, DocState], str | None] | None:
    """(documents by source, the chunks' embed model), or None if absent or out of date."""
    try:
        raw = blobs.read(SNAPSHOT)
        if raw is None:
            return None
        data = json.loads(raw.decode("utf-8"))
        if data["stamp"] != store_stamp(blobs):
            return None
        docs = {r["source"]: DocState(**r) for r in data["documents"]}
        return docs, data.get("stored_model")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def add_unrecorded(blobs: Blobs, run_id: str) -> None:
    # read + write rather than append: an object store has no append (the run lock
    # makes this writer the only one)
    before = blobs.read(UNRECORDED) or b""
    blobs.write(UNRECORDED, before + (run_id + "\n").encode())


def clear_unrecorded(blobs: Blobs) -> None:
    blobs.delete(UNRECORDED)
