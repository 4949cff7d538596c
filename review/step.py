"""Review overlays in the nightly run: stamped, re-applied, orphans reported.

Right after partitioning, every element gets its content hash (folio/review.py). After
enrichment, the overlays of the document are applied before chunking, so the committed
version already carries the reviewer's corrections (one write, nothing embedded twice).
After the commit, each overlay is marked active on the element that has its content
hash, or orphaned when the document no longer has such an element (the run report lists
it; the review tab offers re-attach or dismiss). An overlay edited in the app while this
document was being processed is applied once more after the commit.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from folio.review import apply_overlays, content_hash_of, stamp_content_hashes

if TYPE_CHECKING:
    from folio.config import Pipeline
    from folio.element import Element
    from folio.review import Overlay
    from index.reindex import TextEmbedder
    from index.store import Store
    from review.overlays import OverlayStore

log = logging.getLogger(__name__)

RECHECK_S = 30.0


def content_hashes(elements: list[Element]) -> dict[str, str]:
    """content hash -> element id of stamped elements (what ReviewStep.committed matches)."""
    return {content_hash_of(e): e.id for e in elements}


class ReviewStep:
    def __init__(self, pipe: Pipeline, run_id: str) -> None:
        self.pipe, self.assets_dir, self.run_id = pipe, pipe.assets_dir, run_id
        self._store: OverlayStore | None = None
        self._checked_at = float("-inf")
        self._read_at: dict[str, float] = {}
        self.reapplied = 0
        self.orphaned: list[dict[str, Any]] = []
        self.errors: list[str] = []

    def _overlays(self) -> OverlayStore | None:
        """The overlay store (the index's, wherever this run is), or None when nothing was
        ever reviewed (no review table yet)."""
        # A first edit may come while the run goes on: look again, at most every RECHECK_S
        # (a table listing, a request when the index is on an object store).
        if self._store is None and time.monotonic() - self._checked_at > RECHECK_S:
            self._checked_at = time.monotonic()
            from review.overlays import open_overlays

            store = open_overlays(self.pipe)
            self._store = store if store.tables.reviewed() else None
        return self._store

    def stamp(self, elements: list[Element]) -> list[Element]:
        return stamp_content_hashes(elements, self.assets_dir)

    def overlays_for(self, source: str) -> dict[str, Overlay]:
        """The document's overlays by content hash, read now (an overlay edited after this
        is applied once more after the commit: ``committed``)."""
        self._read_at[source] = time.time()
        store = self._overlays()
        return {} if store is None else store.for_source(source)

    def apply(self, source: str, elements: list[Element]) -> list[Element]:
        return apply_overlays(elements, self.overlays_for(source))[0]

    def committed(self, source: str, found: dict[str, str], store: Store, embedder: TextEmbedder,
                  max_tokens: int) -> None:
        """After the commit of ``source`` whose elements have ``found`` (content hash ->
        element id: ``content_hashes``)."""
        overlays = self._overlays()
        if overlays is None:
            return
        try:
            self._committed(overlays, source, found, store, embedder, max_tokens)
        except Exception as e:  # the document is committed; its overlays wait for the next run
            log.exception("review overlays of %s", source)
            self.errors.append(f"{source}: {type(e).__name__}: {e}")

    def _committed(self, overlays: OverlayStore, source: str, found: dict[str, str], store: Store,
                   embedder: TextEmbedder, max_tokens: int) -> None:
        reason = f"no element with this content since run {self.run_id}"
        self._orphaned(overlays.mark(source, found, reason), reason)
        self.reapplied += sum(1 for h in overlays.for_source(source, ("active",)) if h in found)
        if source in overlays.sources_changed_since(self._read_at.get(source, 0.0)):
            from index.reindex import refresh_document

            refresh_document(store, embedder, max_tokens, source,
                             lambda els: apply_overlays(self.stamp(els), overlays.for_source(source))[0])

    def gone(self, source: str, reason: str) -> None:
        """The document was deleted or failed: its overlays wait as orphans (restored if it
        comes back with the same content)."""
        overlays = self._overlays()
        if overlays is not None:
            self._orphaned(overlays.mark(source, {}, reason), reason)

    def _orphaned(self, newly: list[Any], reason: str) -> None:
        for ov in newly:
            self.orphaned.append({"content_hash": ov.content_hash, "source": ov.source, "element_id": ov.element_id,
                                  "kind": ov.kind, "page": ov.page, "preview": ov.preview, "reason": reason})

    def optimize(self) -> None:
        """Compact the review tables' per-edit commits (end of a run; never fails the run)."""
        if self._store is not None:
            self._store.tables.optimize()

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reapplied": self.reapplied, "orphaned": list(self.orphaned)}
        if self.errors:
            out["errors"] = list(self.errors)
        return out
