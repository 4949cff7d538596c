"""Phase 2 of a run for one document: enrich an indexed document and commit it again.

Phase 1 (pipeline/engines/) committed the document with what the enrichment cache held
and recorded in ``enrich_left`` how many captions and summaries were missing. Here its
stored elements are read back (never partitioned again), the stage makes what the budget
allows, and if that brought anything new the document is re-chunked, embedded and
committed through the same protocol as phase 1 (so a kill mid-commit is repaired the
same way). Chunks whose text did not change keep their stored vectors.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeline.report import iso
from pipeline.reuse import stored_elements

if TYPE_CHECKING:
    import numpy as np

    from enrich.stage import EnrichStats
    from folio.element import Element
    from index.store import DocRecord, Store

log = logging.getLogger(__name__)

EnrichFn = Callable[["list[Element]"], "tuple[list[Element], bool, EnrichStats]"]
ChunkFn = Callable[["list[Element]"], "list[Any]"]
EmbedFn = Callable[[list[str]], "np.ndarray"]
# Writes the document (rows, profile, overlay state): pipeline/commit.commit
CommitFn = Callable[["DocRecord", "list[Element]", "list[Any]", "np.ndarray"], None]


def backfill_document(
    store: Store,
    source: str,
    left_before: int | None,
    enrich: EnrichFn,
    chunk: ChunkFn,
    embed: EmbedFn,
    commit: CommitFn,
) -> tuple[DocRecord | None, EnrichStats | None]:
    """(the committed documents row, the stage's stats); the row is None when nothing was
    committed: the document is gone or no longer partial, or the budget allowed no new
    item (``stats.left`` not below ``left_before``, the items missing before)."""
    t0 = time.time()
    rec = store.documents().get(source)
    if rec is None or rec.status != "partial":
        return None, None  # deleted or redone meanwhile (cannot happen under the run lock)
    if left_before is None:
        left_before = rec.enrich_left
    elements = stored_elements(store, source, rec.sha256)
    if not elements:
        raise RuntimeError("its stored elements could not be read back")
    elements, complete, stats = enrich(elements)
    if left_before is not None and stats.left >= left_before:
        return None, stats  # nothing new: the committed rows stand
    chunks = chunk(elements)
    vectors = embed_reusing(store, source, [c.text for c in chunks], embed)
    rec = dataclasses.replace(
        rec, status="ok" if complete else "partial", enrich_left=stats.left, chunks=len(chunks),
        seconds=round(rec.seconds + time.time() - t0, 3), finished_at=iso(time.time()),
    )
    commit(rec, elements, chunks, vectors)
    log.info("enriched and committed %s again (%d items left) in %.1f s", source, stats.left, time.time() - t0)
    return rec, stats


def embed_reusing(store: Store, source: str, texts: list[str], embed: EmbedFn) -> np.ndarray:
    """Vectors for ``texts``: the stored vector of a chunk of ``source`` with the same text
    (same embedder: the plan re-embeds a document of another model first), the embedder
    for the rest. A caption changes one image chunk; a 500-page filing keeps the others."""
    from pipeline.document import embed_texts

    return embed_texts(embed, texts, store.chunk_vectors(source))
