"""The small transactional database beside the index: ``<index>/folio.sqlite`` (SQLite, WAL).

Conversations (answer/sessions.py) and review overlays with their audit log
(review/overlays.py) live here. Why SQLite and not LanceDB: these are small rows written
per click, read back by key, under concurrent requests; every LanceDB write makes a table
version (fine for nightly batches, wasteful per click). WAL gives many readers beside one
writer, atomic commits, and survives a kill, in the standard library.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

DB_NAME = "folio.sqlite"


class Database:
    """One connection per thread (sqlite3 connections are not shared across threads)."""

    def __init__(self, index_dir: Path, schema: str, read_only: bool = False) -> None:
        """``read_only``: an existing database, opened so that no write can happen (the
        read-only commands: ``ingest.py status``); the schema is neither created nor changed."""
        self.path = Path(index_dir) / DB_NAME
        self.read_only = read_only
        self._local = threading.local()
        if read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        c = self.conn()
        c.execute("PRAGMA journal_mode=WAL")
        c.executescript(schema)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            target = f"file:{self.path}?mode=ro" if self.read_only else str(self.path)
            conn = sqlite3.connect(target, timeout=30, isolation_level=None, uri=self.read_only)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn
