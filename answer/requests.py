"""What a question is, how it is refused, and what the engine streams back: the types the
engine (answer/engine.py), its turns (answer/turns.py) and every front end share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from folio.config import Pipeline
from folio.element import KINDS
from folio.errors import FolioError

__all__ = ["Ask", "AskError", "Event", "validate"]


class AskError(FolioError):
    """A question the engine refuses; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Ask:
    question: str
    session_id: str | None = None
    k: int | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    # The conversation so far as (question, answer) pairs, when the caller holds it (the
    # OpenAI endpoint); otherwise it is read from the session.
    history: list[tuple[str, str]] | None = None
    # The prompt holds the system prompt and every source: sent back only when asked.
    show_prompt: bool = False


@dataclass
class Event:
    kind: str  # queued | query | sources | token | done
    data: Any


def validate(req: Ask, pipe: Pipeline) -> None:
    """Refuse a malformed question before any work (and before a model is loaded)."""
    q = req.question.strip() if isinstance(req.question, str) else ""
    if not q:
        raise AskError("question: empty; ask something about the documents")
    limit = pipe.serve.max_question_chars
    if len(q) > limit:
        raise AskError(f"question: {len(q)} characters, the limit is {limit}", 413)
    if req.k is not None and not 1 <= req.k <= 50:
        raise AskError("k: must be between 1 and 50")
    unknown = set(req.filters) - {"source", "kind", "page"}
    if unknown:
        raise AskError(f"filters: unknown key(s) {sorted(unknown)}; allowed: source, kind, page")
    kind = req.filters.get("kind")
    if kind is not None and kind not in KINDS:
        raise AskError(f"filters.kind: {kind!r} is not one of {', '.join(KINDS)}")
    page = req.filters.get("page")
    if page is not None and (not isinstance(page, int) or isinstance(page, bool) or page < 1):
        raise AskError("filters.page: must be a page number (1 or more)")
    source = req.filters.get("source")
    if source is not None and not isinstance(source, str):
        raise AskError("filters.source: must be a document path as listed by /api/documents")
    if req.history is not None:
        # The earlier turns of an OpenAI-style chat reach the model too (the rewrite).
        size = sum(len(q) + len(a) for q, a in req.history)
        if size > limit * 10:
            raise AskError(f"messages: the conversation is {size} characters, the limit is {limit * 10}", 413)
    if req.session_id is not None and (not isinstance(req.session_id, str) or len(req.session_id) > 64):
        raise AskError("session_id: must be a session id string")
