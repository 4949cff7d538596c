"""Enrichment cache: captions and summaries keyed by (content hash, model id, prompt version).

One SQLite file per machine (``~/.cache/folio/enrich``; ``enrich.cache_dir`` or
$FOLIO_ENRICH_CACHE elsewhere), shared by every index on it: a second index of the same
files, or a copy of a folder under another pipeline, finds every caption and summary
already made. An index on an object store keeps its own file in its local folder instead:
that file is uploaded beside the index (pipeline/cache_sync.py), and a machine-wide one
would carry other indexes' captions into it. A re-run with nothing new finds every answer here
and calls no model; a new model or prompt version is a different key, so exactly what
it affects is enriched again. A value also records the generation settings it was made
with (token limits): changing them re-enriches too. Each put commits at once (WAL), so a run killed midway
keeps everything it paid for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from folio.config import Pipeline

log = logging.getLogger(__name__)

CACHE_FILE = "enrich_cache.sqlite"
ENV_DIR = "FOLIO_ENRICH_CACHE"


def machine_cache_dir(configured: Path | None = None) -> Path:
    """Where this machine's enrichment cache lives: the pipeline's ``enrich.cache_dir``,
    else $FOLIO_ENRICH_CACHE, else $XDG_CACHE_HOME/folio/enrich (~/.cache/folio/enrich)."""
    if configured is not None:
        return Path(configured).expanduser()
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "folio" / "enrich"

# put()'s arguments, the value with its params: (kind, content_hash, model_id, prompt_version, value)
Entry = tuple[str, str, str, str, dict[str, Any]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrich (
    kind TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    model_id TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (kind, content_hash, model_id, prompt_version)
)
"""


def content_hash(*parts: str | bytes) -> str:
    """sha256 over the parts, separated so that ("ab", "c") != ("a", "bc")."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


class EnrichCache:
    def __init__(self, path: Path | None = None) -> None:
        """``path`` None keeps the cache in memory (tests, one-off runs)."""
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        self.hits = 0
        self.misses = 0
        # When a list, every hit ("get") and write ("put") is appended as (op, entry): the
        # Ray engine seeds an actor's cache with the driver's hits and brings its writes back.
        self.journal: list[tuple[str, Entry]] | None = None

    @classmethod
    def in_index(cls, index_dir: Path) -> EnrichCache:
        return cls(Path(index_dir) / CACHE_FILE)

    @classmethod
    def for_pipeline(cls, pipe: Pipeline) -> EnrichCache:
        """The cache a pipeline's runs use: the machine's, or a remote index's own."""
        if pipe.remote is not None:
            return cls.in_index(Path(pipe.index))
        cache = cls(machine_cache_dir(pipe.enrich.cache_dir) / CACHE_FILE)
        cache.adopt(Path(pipe.index) / CACHE_FILE)
        return cache

    def adopt(self, old: Path) -> None:
        """Merge an index's own cache file (what earlier versions kept) into this one and
        remove it: what was paid for stays, in one place."""
        if not old.exists() or old.resolve() == (self.path.resolve() if self.path else None):
            return
        former = EnrichCache(old)
        try:
            added, held = self.merge(former.dump())
        finally:
            former.close()
        for f in (old, old.with_name(old.name + "-wal"), old.with_name(old.name + "-shm")):
            f.unlink(missing_ok=True)
        log.info("enrichment cache: %d of %d entries from %s moved to %s", added, held, old, self.path)

    def dump(self) -> bytes:
        """The whole cache as bytes (for Ray workers, and the copy kept beside a remote index)."""
        with self._lock:
            data = self._db.serialize()
        # Bytes 18-19 of the header say WAL (the file's journal mode); an image opened in
        # memory cannot use WAL and fails to open, so mark it rollback-journal (1, 1).
        return data[:18] + b"\x01\x01" + data[20:] if len(data) >= 20 else data

    @classmethod
    def loads(cls, data: bytes) -> EnrichCache:
        """An in-memory cache holding what ``dump`` returned."""
        cache = cls(None)
        with cache._lock:
            cache._db.deserialize(data)
        return cache

    def get(
        self, kind: str, chash: str, model_id: str, prompt_version: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The stored value, or None. ``params`` are the generation settings the value
        must have been made with (token limits): an entry made with others is a miss.
        Entries stored before params were recorded carry none and are accepted."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM enrich WHERE kind=? AND content_hash=? AND model_id=? AND prompt_version=?",
                (kind, chash, model_id, prompt_version),
            ).fetchone()
        value: dict[str, Any] | None = json.loads(row[0]) if row is not None else None
        if value is not None and params is not None and value.get("params", params) != params:
            value = None
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        if self.journal is not None:
            self.journal.append(("get", (kind, chash, model_id, prompt_version, value)))
        return value

    def put(
        self, kind: str, chash: str, model_id: str, prompt_version: str, value: dict[str, Any],
        params: dict[str, Any] | None = None,
    ) -> None:
        if params is not None:
            value = {**value, "params": params}
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO enrich VALUES (?, ?, ?, ?, ?, ?)",
                (kind, chash, model_id, prompt_version, json.dumps(value, ensure_ascii=False), time.time()),
            )
            self._db.commit()
        if self.journal is not None:
            self.journal.append(("put", (kind, chash, model_id, prompt_version, value)))

    def merge(self, data: bytes) -> tuple[int, int]:
        """Add the entries of another cache (``dump`` bytes) this one lacks; an entry both
        hold keeps the newer value. Returns (entries added or updated, entries the other
        cache holds)."""
        other = sqlite3.connect(":memory:")
        try:
            other.deserialize(data)
            rows = other.execute(
                "SELECT kind, content_hash, model_id, prompt_version, value, created FROM enrich").fetchall()
            with self._lock:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT INTO enrich VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (kind, content_hash, model_id, prompt_version) DO UPDATE SET "
                    "value = excluded.value, created = excluded.created WHERE excluded.created > enrich.created",
                    rows,
                )
                self._db.commit()
                return self._db.total_changes - before, len(rows)
        finally:
            other.close()

    @property
    def writes(self) -> int:
        """Rows written through this connection since it was opened (puts and merges)."""
        with self._lock:
            return int(self._db.total_changes)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM enrich").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
