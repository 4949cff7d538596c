"""Elements of an indexed document, read back from the store for re-chunking.

When only the chunk settings, the enrichment settings or the embedder changed, a
document's elements are still what partitioning would produce again (same bytes, same
partition settings), and partitioning is by far the slowest stage. What enrichment
added is taken off again (``strip_enrichment``): the enrichment stage then redoes it
under the current settings, for free from its cache where nothing changed, so stale
captions of another model or of a now disabled stage never survive.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from folio.element import Element
from folio.review import strip_review

if TYPE_CHECKING:
    from index.store import Store

log = logging.getLogger(__name__)

# meta keys written by enrich/captions.py and enrich/tables.py (apply_caption, apply_summary)
ENRICH_META_KEYS = (
    "caption_path", "ocr_text", "caption_rejected", "caption_note", "summary_sampled", "summary_rejected",
    "summary_fallback",
)


def stored_elements(store: Store, source: str, sha256: str) -> list[Element]:
    """The committed elements of ``source`` at ``sha256`` in reading order, as partitioning
    left them (enrichment taken off); [] if none or if they no longer fit Element."""
    try:
        elements = store.elements(source, sha256)
    except TypeError:  # the elements schema moved on: partition again instead
        log.debug("cannot rebuild elements of %s", source, exc_info=True)
        return []
    # Review overlays come off too: the run applies the current ones after enrichment, and
    # enrichment must see (and find in its cache) what the document says, not an edit.
    return [strip_enrichment(strip_review(e)) for e in elements]


def strip_enrichment(el: Element) -> Element:
    """``el`` without captions, summaries and their notes. Sanitized table HTML and an
    image's OCR text copied into ``text`` stay: both are what the next pass makes again."""
    if el.caption is None and el.summary is None and not any(k in el.meta for k in ENRICH_META_KEYS):
        return el
    meta = {k: v for k, v in el.meta.items() if k not in ENRICH_META_KEYS}
    return dataclasses.replace(el, caption=None, caption_model=None, summary=None, summary_model=None, meta=meta)
