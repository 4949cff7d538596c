"""Which rows an export reads: one consistent moment of the index, and for ``--since``, what
changed between two moments.

A moment is a version of the documents table. Its row per document names the write
(``write_id``) that is committed for that document (index/store.py: rows first, the
documents row last, old rows deleted after), so a document's elements and chunks at that
moment are the rows of the elements/chunks tables that carry the committed write_id.
The export of "now" pins the current version of every table (documents, then elements
and chunks, then the documents version checked again: a commit in between starts over),
so it stays consistent while a nightly run commits beside it, and sees writes that touch
the elements or chunks tables alone. An earlier moment reads the elements and chunks
tables at their latest version no newer than that documents version.

``--since`` names an earlier moment: a documents-table version (the ``documents_version``
every export prints) or a date (the latest documents version at that date). Comparing the
two documents tables (one row per document, small) tells which documents were added,
changed (another write, status or error) or deleted; the elements and chunks tables read
as of the old moment tell which ids disappeared (tombstones). Old versions are kept as long
as ``index/store.py`` keeps them (``KEEP_VERSIONS``, 7 days); an older base is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from folio.errors import FolioError
from index import schema as S

BATCH_ROWS = 1024  # rows per read: memory stays flat whatever the table size
_PIN_TRIES = 20
_DOC_KEY = ("write_id", "status", "error", "sha256")  # what makes a document "changed"


class ExportError(FolioError):
    """An export cannot start: bad option, unwritable output, missing index version."""


def utc(ts: datetime) -> datetime:
    """LanceDB version timestamps are naive local times; a naive date given by a user is UTC."""
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def _lance_utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC)  # naive -> taken as local time, which is what LanceDB reports


def parse_since(value: str) -> int | datetime:
    """``--since``: an integer (documents-table version) or an ISO date / date-time."""
    v = value.strip()
    if re.fullmatch(r"\d+", v):
        return int(v)
    try:
        return utc(datetime.fromisoformat(v.replace("Z", "+00:00")))
    except ValueError:
        raise ExportError(
            f"--since {value!r}: expected a documents-table version (an integer, printed as "
            "documents_version by every export) or an ISO date such as 2026-12-01 or 2026-12-01T02:30:00Z"
        ) from None


def versions(tbl: Any) -> list[tuple[int, datetime]]:
    return sorted((int(v["version"]), _lance_utc(v["timestamp"])) for v in tbl.list_versions())


def version_at(tbl: Any, at: datetime) -> int | None:
    """The table's latest version no newer than ``at``; None if it had none yet."""
    found = None
    for v, ts in versions(tbl):
        if ts <= at:
            found = v
    return found


def open_at(db: Any, name: str, version: int | None) -> Any:
    """A handle on table ``name`` checked out at ``version`` (None: the table is missing or
    did not exist yet at that moment)."""
    if version is None or name not in set(db.list_tables().tables):
        return None
    tbl = db.open_table(name)
    try:
        tbl.checkout(version)  # pinned: a later commit is not seen mid-export
    except (ValueError, OSError, RuntimeError) as e:  # a version cleaned up by optimize()
        raise ExportError(f"version {version} of the {name} table is no longer kept ({e}): "
                          "export everything instead, or give a later --since") from None
    return tbl


def scan(tbl: Any, columns: list[str] | None = None) -> Iterator[list[dict[str, Any]]]:
    """The rows of a pinned (checked-out) table in pages of dicts, never the whole table.

    Pages by offset rather than ``to_batches``: LanceDB's batch reader runs ahead of a
    slower consumer and buffered most of an 84 MB table here (peak RSS grew with the
    table), while a page read costs ~2 ms and the order of a pinned version is stable."""
    if tbl is None:
        return
    total = int(tbl.count_rows())
    for start in range(0, total, BATCH_ROWS):
        q = tbl.search().offset(start).limit(BATCH_ROWS)
        if columns:
            q = q.select(columns)
        yield q.to_arrow().to_pylist()


@dataclass
class Moment:
    """The index as of one documents-table version."""

    docs_version: int
    at: datetime
    docs: dict[str, dict[str, Any]]  # source -> documents row
    elements: Any  # table handles checked out as of ``at`` (None if missing)
    chunks: Any

    @property
    def committed(self) -> dict[str, str]:
        """write_id -> source of every indexed document."""
        return {r["write_id"]: s for s, r in self.docs.items() if r["write_id"] and r["status"] != "error"}


def moment(db: Any, docs_version: int | None = None) -> Moment:
    """The index now (the latest documents version) or as of ``docs_version``."""
    if docs_version is None:
        return _now(db)
    docs_tbl = db.open_table(S.DOCUMENTS)
    kept = versions(docs_tbl)
    by_version = dict(kept)
    if docs_version not in by_version:
        span = f"{kept[0][0]}..{kept[-1][0]}" if kept else "none"
        raise ExportError(
            f"--since {docs_version}: the documents table has no such version (kept: {span}; the index keeps "
            "old versions for 7 days): export everything instead, or give a later version"
        )
    at = by_version[docs_version]
    docs_tbl.checkout(docs_version)
    docs = {r["source"]: r for rows in scan(docs_tbl) for r in rows}
    return Moment(docs_version, at, docs,
                  open_at(db, S.ELEMENTS, _version_at_or_none(db, S.ELEMENTS, at)),
                  open_at(db, S.CHUNKS, _version_at_or_none(db, S.CHUNKS, at)))


def _now(db: Any) -> Moment:
    for _ in range(_PIN_TRIES):
        docs_tbl = db.open_table(S.DOCUMENTS)
        pinned = {name: _latest(db, name) for name in (S.ELEMENTS, S.CHUNKS)}
        if db.open_table(S.DOCUMENTS).version == docs_tbl.version:
            break
    else:
        raise ExportError("the index kept changing while the export started: try again after the run")
    docs_tbl.checkout(docs_tbl.version)  # pinned: later commits are not seen
    at = dict(versions(docs_tbl))[docs_tbl.version]
    docs = {r["source"]: r for rows in scan(docs_tbl) for r in rows}
    return Moment(docs_tbl.version, at, docs, *(open_at(db, n, pinned[n]) for n in (S.ELEMENTS, S.CHUNKS)))


def _latest(db: Any, name: str) -> int | None:
    return int(db.open_table(name).version) if name in set(db.list_tables().tables) else None


def _version_at_or_none(db: Any, name: str, at: datetime) -> int | None:
    if name not in set(db.list_tables().tables):
        return None
    return version_at(db.open_table(name), at)


def empty_moment() -> Moment:
    return Moment(0, datetime.min.replace(tzinfo=UTC), {}, None, None)


def base_moment(db: Any, since: int | datetime) -> Moment:
    """The moment ``--since`` names. A date before the index existed is the empty index."""
    if isinstance(since, int):
        return moment(db, since)
    docs_tbl = db.open_table(S.DOCUMENTS)
    kept = versions(docs_tbl)
    v = version_at(docs_tbl, since)
    if v is None:
        if kept and kept[0][0] > 1:  # older versions were pruned: what was there is unknown
            raise ExportError(
                f"--since {since.isoformat()}: older than the oldest kept index version "
                f"({kept[0][1].isoformat()}; the index keeps 7 days): export everything instead"
            )
        return empty_moment()
    return moment(db, v)


@dataclass
class Diff:
    """What changed from ``base`` to ``now``, by document source."""

    base: Moment
    added: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)

    def change_of(self, source: str) -> str | None:
        return "added" if source in self.added else "changed" if source in self.changed else None

    @property
    def old_writes(self) -> dict[str, str]:
        """write_id -> source of the base's rows of documents changed or deleted since."""
        gone = self.changed | self.deleted
        return {w: s for w, s in self.base.committed.items() if s in gone}


def diff(base: Moment, now: Moment) -> Diff:
    d = Diff(base)
    for source, row in now.docs.items():
        old = base.docs.get(source)
        if old is None:
            d.added.add(source)
        elif any(old[k] != row[k] for k in _DOC_KEY):
            d.changed.add(source)
    d.deleted = set(base.docs) - set(now.docs)
    return d


def ids_of_writes(tbl: Any, writes: dict[str, str]) -> dict[str, set[str]]:
    """source -> ids of the rows written by ``writes`` (write_id -> source). Only the ids of
    the documents that changed are held, never a whole table."""
    out: dict[str, set[str]] = {}
    if not writes:
        return out
    for rows in scan(tbl, ["id", "write_id"]):
        for r in rows:
            source = writes.get(r["write_id"])
            if source is not None:
                out.setdefault(source, set()).add(r["id"])
    return out
