"""Review overlays: a reviewer's corrections, applied on top of what the pipeline made.

An overlay is keyed by the element's **content hash**: a hash of the document's path, the
element's kind and the content the partitioner found (text, table HTML, picture bytes),
never of enrichment and never of the document's bytes or page number. Element ids hash
the document's bytes and reading position, so they change whenever the file changes;
the content hash finds a paragraph, table or picture again after a re-ingest, a new
model or an edit elsewhere in the file. Identical content repeated in one document is
told apart by its occurrence (1st, 2nd, ... in reading order).

The hash is stamped into ``meta["content_hash"]`` right after partitioning (the pipeline
calls ``stamp_content_hashes``), so later stages and edits never change it. Applying an
overlay keeps the pipeline's own values in ``meta["review_original"]``; ``strip_review``
puts them back, so a dismissed overlay leaves nothing behind at the next re-ingest.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from folio.element import Element

# Element fields an overlay may set, by element kind. A table edit sets html and the
# plain-text rendering made from it (text) together.
EDITABLE: dict[str, tuple[str, ...]] = {
    "image": ("caption", "caption_model"),
    "table": ("summary", "summary_model", "html", "text"),
    "text": (),
}
HASH_KEY = "content_hash"
ORIGINAL_KEY = "review_original"
STATE_KEY = "review"
REVIEW_MODEL = "review:"  # caption_model / summary_model of an edited value: "review:<user>"


@dataclass(frozen=True)
class Overlay:
    """What review changed on one element: field values, hidden, approved.

    ``status``: active (applied to an element of the current index), orphaned (no element
    with this content hash since the last re-ingest), dismissed (kept for the audit only).
    """

    content_hash: str
    source: str
    values: dict[str, Any] = field(default_factory=dict)
    hidden: bool = False
    approved: bool = False
    status: str = "active"
    element_id: str | None = None
    kind: str | None = None
    page: int | None = None
    preview: str = ""
    updated_by: str | None = None
    updated_at: float | None = None
    approved_by: str | None = None
    approved_at: float | None = None
    orphan_reason: str | None = None

    @property
    def empty(self) -> bool:
        return not self.values and not self.hidden and not self.approved

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Export reads review state through this name (review/overlays.py: overlays_for).
OverlayState = Overlay


def _content(e: Element, assets_dir: Path | None) -> str:
    if e.kind == "table":
        # The plain-text rendering: the same before and after enrichment sanitizes the HTML.
        return " ".join(e.text.split()) or (e.html or "")
    if e.kind == "image" and e.image:
        if assets_dir is not None:
            try:
                return "png:" + hashlib.sha256((assets_dir / e.image).read_bytes()).hexdigest()
            except OSError:
                pass
        # The crop's name without its document folder (which is the document's hash).
        return "name:" + PurePosixPath(e.image).name + "|" + " ".join(e.text.split())
    return " ".join(e.text.split())


def compute_content_hash(e: Element, occurrence: int = 0, assets_dir: Path | None = None) -> str:
    h = hashlib.sha256()
    for part in (e.source, e.kind, _content(e, assets_dir), str(occurrence)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:24]


def stamp_content_hashes(elements: list[Element], assets_dir: Path | None = None) -> list[Element]:
    """Elements with ``meta["content_hash"]`` set (elements already stamped keep theirs)."""
    seen: dict[str, int] = {}
    out = []
    for e in sorted(elements, key=lambda x: x.order):
        if HASH_KEY in e.meta:
            out.append(e)
            continue
        base = compute_content_hash(e, 0, assets_dir)
        n = seen.get(base, 0)
        seen[base] = n + 1
        h = base if n == 0 else compute_content_hash(e, n, assets_dir)
        out.append(dataclasses.replace(e, meta={**e.meta, HASH_KEY: h}))
    return out


def content_hash_of(e: Element) -> str:
    """The stamped content hash (elements indexed before stamping: computed from the row)."""
    return str(e.meta.get(HASH_KEY) or compute_content_hash(e))


def is_hidden(e: Element) -> bool:
    return bool((e.meta.get(STATE_KEY) or {}).get("hidden"))


def strip_review(e: Element) -> Element:
    """``e`` as the pipeline made it: overlay values taken off, original values back."""
    if ORIGINAL_KEY not in e.meta and STATE_KEY not in e.meta:
        return e
    original = dict(e.meta.get(ORIGINAL_KEY) or {})
    meta = {k: v for k, v in e.meta.items() if k not in (ORIGINAL_KEY, STATE_KEY)}
    return dataclasses.replace(e, meta=meta, **original)


def apply_overlay(e: Element, ov: Overlay) -> Element:
    """``e`` with the overlay's values, hidden and approved state (idempotent)."""
    e = strip_review(e)
    allowed = EDITABLE.get(e.kind, ())
    values = {k: v for k, v in ov.values.items() if k in allowed}
    original = {k: getattr(e, k) for k in values}
    state = {"hidden": ov.hidden, "approved": ov.approved, "edited": sorted(values),
             "by": ov.updated_by, "at": ov.updated_at}
    meta = {**e.meta, STATE_KEY: state}
    if original:
        meta[ORIGINAL_KEY] = original
    return dataclasses.replace(e, meta=meta, **values)


def apply_overlays(elements: Iterable[Element], overlays: dict[str, Overlay]) -> tuple[list[Element], set[str]]:
    """Elements with their overlays applied (others stripped of any old review state),
    and the content hashes that found their element."""
    out: list[Element] = []
    applied: set[str] = set()
    for e in elements:
        ov = overlays.get(content_hash_of(e))
        if ov is not None and ov.status != "dismissed" and not ov.empty:
            out.append(apply_overlay(e, ov))
            applied.add(ov.content_hash)
        else:
            out.append(strip_review(e))
    return out, applied
