"""The documents row (one per source file) and SQL quoting for LanceDB filters."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass
class DocRecord:
    source: str
    path: str = ""
    doc_id: str = ""
    sha256: str = ""
    size: int = 0
    mtime: float = 0.0
    status: str = "ok"  # ok | error | partial
    error: str | None = None
    pages: int = 0
    elements: int = 0
    chunks: int = 0
    fingerprint: str = ""
    embed_model: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float = 0.0
    # enrichment items still to make (0: complete); None: enrichment off, or an older index
    enrich_left: int | None = None


DOC_FIELDS = [f.name for f in fields(DocRecord)]
# Documents rows whose elements and chunks are committed: "partial" is indexed with its
# text, but its enrichment was cut short by a budget and is finished by a later run.
INDEXED = ("ok", "partial")


def sql_str(value: str) -> str:
    """A SQL string literal for a LanceDB filter."""
    return "'" + value.replace("'", "''") + "'"


def sources_in(tbl: Any, sources: list[str]) -> set[str]:
    """Which of ``sources`` have a row in ``tbl`` (the documents table: one per source)."""
    if tbl is None or not sources:
        return set()
    where = "source IN (" + ", ".join(sql_str(s) for s in sources) + ")"
    return set(tbl.search().where(where).select(["source"]).limit(None).to_arrow()["source"].to_pylist())
