"""The review tables in the index's own LanceDB store: overlays, audit log, reader flags.

They sit beside chunks, elements and documents (``<index>/lancedb``, a folder or an
``s3://`` prefix), so the team's corrections travel with the index: the nightly run on
any machine reads every reviewer's overlays, and every app server over the index sees
the others' edits. Reads check the table's latest version first (a manifest look-up,
``read_consistency_interval=0``): a second app server sees an edit on its next request,
without a restart. Writes are single-table LanceDB commits (a merge on the key, retried by
Lance on a concurrent commit): an overlay and its audit row are two commits, written in
that order, so the worst a crash between them leaves is a change without its audit row.

Before this, the review state lived in SQLite beside the sessions (``folio.sqlite`` in
the index folder, or in this machine's cache folder of a remote index). That file's rows
are merged in once, on first open (``_migrate``); a marker table in it records the move,
and the old rows stay there untouched.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from folio.db import DB_NAME

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

OVERLAYS, AUDIT, FLAGS = "review_overlays", "review_audit", "review_flags"
MOVED = "review_moved"  # the marker table in a migrated SQLite file


def _schemas() -> dict[str, pa.Schema]:
    import pyarrow as pa

    s, f, i, b = pa.string(), pa.float64(), pa.int64(), pa.bool_()
    return {
        OVERLAYS: pa.schema([
            ("content_hash", s), ("source", s), ("element_id", s), ("kind", s), ("page", i), ("preview", s),
            ("vals", s), ("hidden", b), ("approved", b), ("approved_by", s), ("approved_at", f), ("status", s),
            ("orphan_reason", s), ("created_at", f), ("updated_at", f), ("updated_by", s),
        ]),
        AUDIT: pa.schema([
            ("id", i), ("at", f), ("user", s), ("action", s), ("source", s), ("content_hash", s),
            ("element_id", s), ("field", s), ("previous", s), ("new", s),
        ]),
        FLAGS: pa.schema([
            ("id", i), ("at", f), ("user", s), ("source", s), ("content_hash", s), ("element_id", s),
            ("note", s), ("open", b),
        ]),
    }


KEYS = {OVERLAYS: "content_hash", AUDIT: "id", FLAGS: "id"}
# Finding a table's latest version lists its versions: on an object store every read costs
# more with each version kept (moto, 200 edits: 330 ms a read; 48 ms once pruned). The
# review tables need no time travel (the audit log is their history), so versions are kept
# only as long as a write or read of these few rows could take, and pruned every
# MAINTAIN_EVERY writes of a process as well as at the end of each nightly run.
KEEP = timedelta(minutes=2)
MAINTAIN_EVERY = 20
_ids = threading.Lock()
_last_id = 0


def new_ids(n: int = 1) -> list[int]:
    """Row ids of audit and flag rows: nanoseconds since the epoch, so sorting by id is
    sorting by time across app servers, and unique within this process."""
    global _last_id
    with _ids:
        start = max(time.time_ns(), _last_id + 1)
        _last_id = start + n - 1
    return list(range(start, start + n))


def _legacy_id(at: float, rowid: int) -> int:
    """The id a migrated SQLite row gets: from its time (so it sorts among new rows) and
    its old id (so a second migration of the same file merges instead of duplicating)."""
    return int(at * 1_000_000) * 1000 + rowid % 1000


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class ReviewTables:
    """The three review tables of one index; each created, empty, on the first write."""

    def __init__(self, location: str | Path, storage_options: dict[str, str] | None = None,
                 legacy_dir: Path | None = None, read_only: bool = False) -> None:
        from folio.storage import is_uri, resolve_options

        self.read_only = read_only
        self.remote = is_uri(location)
        self.path = str(location).rstrip("/") + "/lancedb" if self.remote else str(Path(location) / "lancedb")
        self.options = storage_options if storage_options is not None or not self.remote else resolve_options()
        self.legacy = Path(legacy_dir) / DB_NAME if legacy_dir is not None else (
            None if self.remote else Path(location) / DB_NAME)
        self._db: Any = None
        self._tables: dict[str, Any] = {}
        self._lock = threading.RLock()  # the first table() migrates, which opens tables
        self._migrated = False
        self._writes: dict[str, int] = {}

    def _conn(self) -> Any:
        if self._db is None:
            import lancedb

            if not self.remote and not self.read_only:
                Path(self.path).mkdir(parents=True, exist_ok=True)
            self._db = lancedb.connect(self.path, read_consistency_interval=timedelta(0),
                                       storage_options=self.options or None)
        return self._db

    def _legacy_rows(self) -> dict[str, list[dict[str, Any]]] | None:
        """The review rows of the SQLite file not yet moved, or None."""
        if self.legacy is None or not self.legacy.is_file():
            return None
        conn = sqlite3.connect(self.legacy, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if OVERLAYS not in names or MOVED in names:
                return None
            return {t: [dict(r) for r in conn.execute(f"SELECT * FROM {t}")] if t in names else []
                    for t in (OVERLAYS, AUDIT, FLAGS)}
        finally:
            conn.close()

    def _migrate(self) -> None:
        """Merge the old SQLite review rows in (once; idempotent if interrupted)."""
        if self._migrated or self.read_only:
            return
        self._migrated = True
        rows = self._legacy_rows()
        if rows is None or self.legacy is None:
            return
        for r in rows[OVERLAYS]:
            r["hidden"], r["approved"] = bool(r["hidden"]), bool(r["approved"])
        for r in rows[AUDIT]:
            r["id"] = _legacy_id(r["at"], r["id"])
        for r in rows[FLAGS]:
            r["id"], r["open"] = _legacy_id(r["at"], r["id"]), bool(r["open"])
        for name in (AUDIT, FLAGS, OVERLAYS):
            if rows[name]:
                newer = "target.updated_at < source.updated_at" if name == OVERLAYS else None
                self.upsert(name, rows[name], update_where=newer, only_new=name != OVERLAYS)
        conn = sqlite3.connect(self.legacy, timeout=30)
        try:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {MOVED} (at REAL NOT NULL, target TEXT NOT NULL)")
            conn.execute(f"INSERT INTO {MOVED} VALUES (?, ?)", (time.time(), self.path))
            conn.commit()
        finally:
            conn.close()
        log.info("review: %d overlays, %d audit rows and %d flags moved from %s to %s", len(rows[OVERLAYS]),
                 len(rows[AUDIT]), len(rows[FLAGS]), self.legacy, self.path)

    def table(self, name: str, create: bool = False) -> Any:
        """The table (None when it does not exist yet and ``create`` is false)."""
        with self._lock:
            self._migrate()
            tbl = self._tables.get(name)
            if tbl is not None:
                return tbl
            db = self._conn()
            if name in set(db.list_tables().tables):
                tbl = db.open_table(name)
            elif create and not self.read_only:
                tbl = db.create_table(name, schema=_schemas()[name], exist_ok=True)
            else:
                return None
            self._tables[name] = tbl
            return tbl

    def reviewed(self) -> bool:
        """Whether this index has any review state (a table, or old rows to move)."""
        return self.table(OVERLAYS) is not None or self.table(FLAGS) is not None

    def rows(self, name: str, where: str | None = None) -> list[dict[str, Any]]:
        tbl = self.table(name)
        if tbl is None:
            return []
        q = tbl.search()
        if where:
            q = q.where(where)
        return list(q.limit(None).to_arrow().to_pylist())

    def upsert(self, name: str, rows: list[dict[str, Any]], update_where: str | None = None,
               only_new: bool = False, delete_where: str | None = None) -> None:
        """Insert ``rows``, replacing those with the same key (unless ``only_new``), and
        delete the rows matching ``delete_where`` that are not among them: one commit."""
        import pyarrow as pa

        tbl = self.table(name, create=True)
        m = tbl.merge_insert(KEYS[name])
        if not only_new:
            m = m.when_matched_update_all(where=update_where)
        m = m.when_not_matched_insert_all()
        if delete_where:
            m = m.when_not_matched_by_source_delete(delete_where)
        m.execute(pa.Table.from_pylist(rows, schema=_schemas()[name]))
        self._wrote(name)

    def append(self, name: str, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        self.table(name, create=True).add(pa.Table.from_pylist(rows, schema=_schemas()[name]))
        self._wrote(name)

    def update(self, name: str, where: str, values: dict[str, Any]) -> None:
        tbl = self.table(name)
        if tbl is not None:
            tbl.update(where=where, values=values)
            self._wrote(name)

    def _wrote(self, name: str) -> None:
        """Every MAINTAIN_EVERY writes of this process to a table: its maintenance (``optimize``)."""
        self._writes[name] = self._writes.get(name, 0) + 1
        if self._writes[name] % MAINTAIN_EVERY == 0:
            self.optimize((name,))

    def optimize(self, names: tuple[str, ...] = (OVERLAYS, AUDIT, FLAGS)) -> None:
        """Compact the small commits of per-click edits and drop the table versions older
        than KEEP (a nightly run calls this too). Never raises: another server committing
        at the same moment makes it wait for the next time."""
        for name in names:
            tbl = self.table(name)
            if tbl is None:
                continue
            try:
                tbl.optimize(cleanup_older_than=KEEP)
            except Exception as e:
                log.warning("review table %s not optimized: %s: %s", name, type(e).__name__, e)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
