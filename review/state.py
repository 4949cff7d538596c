"""Review state of elements for the export: the overlays the Review tab writes, read-only.

The overlay store (review/overlays.py) lives in the index's own store (review/tables.py),
one overlay per element *content hash* (stamped into
the element's ``meta`` after partitioning, folio/review.py), so an overlay follows its
element across re-ingests while element ids change with the file. The element rows
already carry the corrected values; this adds who, when, approved and hidden.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from folio.config import Pipeline

log = logging.getLogger(__name__)


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
    """Review state by element content hash; human edits, so few enough to hold."""

    def __init__(self, states: dict[str, ReviewState] | None = None) -> None:
        self._states = states or {}

    def get(self, key: str | None) -> dict[str, Any] | None:
        st = self._states.get(key) if key else None
        return None if st is None else st.to_dict()

    def changed_since(self, at: datetime) -> set[str]:
        """Content hashes of elements reviewed at or after ``at`` (a ``--since`` export includes them)."""
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S")
        return {i for i, st in self._states.items() if st.when and st.when >= stamp}

    def __len__(self) -> int:
        return len(self._states)


def element_key(row: dict[str, Any]) -> str | None:
    """The content hash an element row's review state is keyed by (None without one)."""
    meta = row.get("meta")
    if not meta:
        return None
    try:
        value = json.loads(meta).get("content_hash") if isinstance(meta, str) else meta.get("content_hash")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


def load_review_states(pipe: Pipeline) -> ReviewStates:
    """The review state of the pipeline's index, by content hash; empty when nothing was
    reviewed. Dismissed overlays no longer apply to any element and are left out."""
    from review.overlays import overlays_for

    states = {}
    for key, ov in overlays_for(pipe).items():
        if ov.status == "dismissed":
            continue
        at = max((t for t in (ov.updated_at, ov.approved_at) if t), default=None)
        when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else None
        who = ov.updated_by if (ov.updated_at or 0) >= (ov.approved_at or 0) else ov.approved_by
        states[key] = ReviewState(dict(ov.values), who, when, ov.approved, ov.hidden)
    return ReviewStates(states)
