"""Conversations: SQLite in WAL mode beside the index (``<index>/folio.sqlite``) for one
app server, or a PostgreSQL database (``FOLIO_DATABASE_URL``) shared by several.

A turn is one small row written per question, read back by id, under concurrent requests
(why not LanceDB: folio/db.py).

Each turn keeps a frozen snapshot of its citations (text, crop path, document sha256), so
an old answer still opens after its document changed or was deleted; ``stale`` marks it.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from folio.db import DB_NAME, SqlDatabase, open_database

__all__ = ["ANONYMOUS", "DB_NAME", "SessionError", "Sessions", "stale"]

# Without login (loopback) every client is this one owner; the same checks apply.
ANONYMOUS = "(anonymous)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    owner TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    n INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    question TEXT NOT NULL,
    standalone_query TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,      -- JSON: the frozen snapshot
    unsupported TEXT NOT NULL,    -- JSON
    timings TEXT NOT NULL,        -- JSON
    prompt_tokens INTEGER,
    PRIMARY KEY (session_id, n)
);
"""


class SessionError(LookupError):
    """No such session."""


class Sessions:
    """``url``: a PostgreSQL database (folio/db.py: ``database_url``); None is SQLite in ``index_dir``."""

    def __init__(self, index_dir: Path, url: str | None = None) -> None:
        self.db: SqlDatabase = open_database(index_dir, _SCHEMA, url)
        self.where = self.db.where

    def new_id(self) -> str:
        # Only the server makes ids, random and 128 bits long: an id cannot be guessed, and
        # a client cannot pick one another user will later write under.
        return secrets.token_hex(16)

    def exists(self, session_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None

    def owned(self, session_id: str, owner: str | None) -> bool:
        """True when the session exists and belongs to ``owner`` (None: the anonymous one)."""
        row = self.db.execute("SELECT owner FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row is not None and (row["owner"] or ANONYMOUS) == (owner or ANONYMOUS)

    def history(self, session_id: str, turns: int) -> list[tuple[str, str]]:
        """(standalone query, answer) of the last ``turns`` turns, oldest first."""
        rows = self.db.execute(
            "SELECT standalone_query, answer FROM turns WHERE session_id = ? ORDER BY n DESC LIMIT ?",
            (session_id, turns),
        ).fetchall()
        return [(r["standalone_query"], r["answer"]) for r in reversed(rows)]

    def add_turn(self, session_id: str, turn: dict[str, Any], owner: str | None = None) -> int:
        now = time.time()
        with self.db.transaction("session " + session_id) as c:
            row = c.execute("SELECT owner FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                c.execute("INSERT INTO sessions (id, created_at, updated_at, owner) VALUES (?, ?, ?, ?)",
                          (session_id, now, now, owner or ANONYMOUS))
            elif (row["owner"] or ANONYMOUS) != (owner or ANONYMOUS):
                raise SessionError(f"no session {session_id!r}")  # another user's: never appended to
            else:
                c.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
            n = c.execute("SELECT COALESCE(MAX(n), 0) + 1 AS n FROM turns WHERE session_id = ?",
                          (session_id,)).fetchone()["n"]
            c.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, n, now, turn["question"], turn["standalone_query"], turn["answer"],
                 json.dumps(turn["citations"], ensure_ascii=False), json.dumps(turn["unsupported"]),
                 json.dumps(turn["timings"]), turn.get("prompt_tokens")),
            )
        return int(n)

    def get(self, session_id: str, current: dict[str, str] | None = None, owner: str | None = None) -> dict[str, Any]:
        """The session with every turn, for its owner only (another user's id reads as
        unknown); with ``current`` (source -> sha256 of the indexed documents) each
        citation says whether its document changed or was deleted."""
        c = self.db
        s = c.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if s is None or (s["owner"] or ANONYMOUS) != (owner or ANONYMOUS):
            raise SessionError(f"no session {session_id!r}")
        turns = []
        for r in c.execute("SELECT * FROM turns WHERE session_id = ? ORDER BY n", (session_id,)).fetchall():
            cites = json.loads(r["citations"])
            if current is not None:
                for cit in cites:
                    cit["stale"] = stale(cit, current)
            turns.append({
                "n": r["n"], "created_at": r["created_at"], "question": r["question"],
                "standalone_query": r["standalone_query"], "answer": r["answer"], "citations": cites,
                "unsupported": json.loads(r["unsupported"]), "timings": json.loads(r["timings"]),
                "prompt_tokens": r["prompt_tokens"],
            })
        return {"session_id": session_id, "created_at": s["created_at"], "updated_at": s["updated_at"],
                "turns": turns}


def stale(citation: dict[str, Any], current: dict[str, str]) -> str | None:
    """None while the cited document is indexed as it was; else "changed" or "deleted"."""
    sha = current.get(citation.get("source", ""))
    if sha is None:
        return "deleted"
    return None if sha == citation.get("doc_sha256") else "changed"
