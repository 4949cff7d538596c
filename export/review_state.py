"""Review state of elements for the export: the overlays the Review tab writes, read-only.

The overlay store (issue 11's review half) lives in the index's SQLite file beside the chat
sessions (``<index>/folio.sqlite``). This module is the one place the export reads it, so
wiring the export to that store means changing only ``load_review_states``. Until the
overlay table exists, every element has no review state (``review: null`` in the export).

Expected layout (one row per element, keyed by its content-hash id):
``overlays(element_id TEXT, value TEXT -- JSON object field -> corrected value,
who TEXT, at TEXT -- ISO 8601 UTC, approved INTEGER, hidden INTEGER)``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DB_FILE = "folio.sqlite"
OVERLAY_TABLE = "overlays"
_COLUMNS = ("element_id", "value", "who", "at", "approved", "hidden")


@dataclass(frozen=True)
class ReviewState:
    overlay: dict[str, Any]  # field -> the reviewer's value (caption, summary, html, ...)
    who: str | None
    when: str | None  # ISO 8601 UTC
    approved: bool
    hidden: bool

    def to_dict(self) -> dict[str, Any]:
        return {"overlay": self.overlay, "who": self.who, "when": self.when,
                "approved": self.approved, "hidden": self.hidden}


class ReviewStates:
    """Review state by element id; human edits, so few enough to hold."""

    def __init__(self, states: dict[str, ReviewState] | None = None) -> None:
        self._states = states or {}

    def get(self, element_id: str) -> dict[str, Any] | None:
        st = self._states.get(element_id)
        return None if st is None else st.to_dict()

    def changed_since(self, at: datetime) -> set[str]:
        """Ids of elements reviewed at or after ``at`` (a ``--since`` export includes them)."""
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S")
        return {i for i, st in self._states.items() if st.when and st.when >= stamp}

    def __len__(self) -> int:
        return len(self._states)


def load_review_states(index_dir: Path) -> ReviewStates:
    """The review state of the index at ``index_dir``; empty when there is no overlay store."""
    path = Path(index_dir) / DB_FILE
    if not path.is_file():
        return ReviewStates()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (OVERLAY_TABLE,)).fetchone()
        if not found:
            return ReviewStates()
        cols = {r[1] for r in con.execute(f"PRAGMA table_info({OVERLAY_TABLE})")}
        if missing := [c for c in _COLUMNS if c not in cols]:
            log.warning("%s: table %s lacks %s: exporting without review state", path, OVERLAY_TABLE, missing)
            return ReviewStates()
        states = {}
        for eid, value, who, at, approved, hidden in con.execute(f"SELECT {', '.join(_COLUMNS)} FROM {OVERLAY_TABLE}"):
            states[eid] = ReviewState(json.loads(value) if value else {}, who, at, bool(approved), bool(hidden))
        return ReviewStates(states)
    finally:
        con.close()
