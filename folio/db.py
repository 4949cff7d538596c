"""The small transactional database of the app: chat sessions (answer/sessions.py).

One app server: SQLite in WAL mode beside the index (``<index>/folio.sqlite``; the local
cache folder of a remote index). Several app servers behind a load balancer: a PostgreSQL
database named by a URL (the ``FOLIO_DATABASE_URL`` environment variable), so a
conversation started on one server goes on on another. Why not LanceDB here: these are
small rows written per question, read back by key, under concurrent requests; every
LanceDB write makes a table version (fine for nightly batches and human-rate review
edits, wasteful per chat turn).

Both speak the same SQL (``?`` placeholders, types both know: TEXT, INTEGER, DOUBLE
PRECISION) through ``execute`` and ``transaction``; rows read by column name.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from folio.errors import ConfigError

DB_NAME = "folio.sqlite"
URL_ENV = "FOLIO_DATABASE_URL"


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class SqlDatabase(Protocol):
    where: str  # for messages: the file, or the URL without its password

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Cursor: ...
    def transaction(self, key: str) -> Any: ...


class Database:
    """SQLite: one connection per thread (sqlite3 connections are not shared across threads)."""

    def __init__(self, index_dir: Path, schema: str, read_only: bool = False) -> None:
        """``read_only``: an existing database, opened so that no write can happen (the
        read-only commands: ``ingest.py status``); the schema is neither created nor changed."""
        self.path = Path(index_dir) / DB_NAME
        self.where = str(self.path)
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

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Cursor:
        return self.conn().execute(sql, args)

    @contextmanager
    def transaction(self, key: str) -> Iterator[Database]:
        """A write transaction (SQLite has one writer at a time: ``key`` is not needed)."""
        c = self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield self
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


class PostgresDatabase:
    """PostgreSQL through psycopg 3: one connection per thread, reconnected when broken
    (a server restart costs the requests in flight, not the app)."""

    def __init__(self, url: str, schema: str) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(f"{URL_ENV}: a PostgreSQL URL needs psycopg: pip install 'psycopg[binary]'") from None
        self.url, self.where = url, redact(url)
        self._local = threading.local()
        # Two servers starting at once would race on CREATE TABLE IF NOT EXISTS (a unique
        # violation in the catalog): the lock makes the schema one writer at a time.
        with self.transaction("folio schema"):
            for stmt in filter(None, (s.strip() for s in schema.split(";"))):
                self.conn().execute(stmt)

    def conn(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            try:
                conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=10)
            except psycopg.OperationalError as e:
                raise ConfigError(f"{URL_ENV}: cannot connect to {self.where}: {str(e).strip()}") from None
            self._local.conn = conn
        return conn

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Cursor:
        cur: Cursor = self.conn().execute(sql.replace("?", "%s"), args)
        return cur

    @contextmanager
    def transaction(self, key: str) -> Iterator[PostgresDatabase]:
        """A transaction holding an advisory lock on ``key`` (what SQLite's single writer
        gives for free: two servers appending to one session take turns)."""
        with self.conn().transaction():
            self.conn().execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            yield self


def database_url() -> str | None:
    """The sessions database URL, from the environment only (a URL often carries a
    password, which pipelines.toml never holds); None is SQLite beside the index."""
    url = os.environ.get(URL_ENV) or None
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{URL_ENV}: {redact(url)!r} is not a PostgreSQL URL (postgresql://user@host:port/db)")
    return url


def open_database(index_dir: Path, schema: str, url: str | None = None) -> SqlDatabase:
    """PostgreSQL when ``url`` names one, else SQLite beside the index."""
    return PostgresDatabase(url, schema) if url else Database(index_dir, schema)
