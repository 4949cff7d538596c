"""Phase 1 for one partitioned document, up to the rows it commits (either engine).

The runner calls this on its own machine; with the Ray engine an actor calls it on a
worker (pipeline/engines/ray/workers.py) with a copy of the driver's enrichment cache and the
document's review overlays, so both engines commit identical rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from enrich.stage import EnrichStats
    from folio.element import Element
    from folio.review import Overlay
    from index.chunk import Chunk
    from pipeline.enrichment import Enrichment
    from pipeline.stages import TextEmbedder


@dataclass
class Ready:
    elements: list[Element]
    chunks: list[Chunk]
    vectors: np.ndarray
    complete: bool  # every caption and summary present (else phase 2 has work)
    stats: EnrichStats


def make_ready(
    elements: list[Element], enrichment: Enrichment, overlays: dict[str, Overlay], emb: TextEmbedder,
    max_tokens: int, known: dict[str, Any] | None = None,
) -> Ready:
    """Stamped ``elements`` (content hashes: folio/review.py) -> what the enrichment cache
    holds applied (no model runs), the reviewer's overlays applied, chunks (hidden elements
    left out) and their vectors; ``known``: vectors by chunk text made elsewhere."""
    from folio.review import apply_overlays
    from index.reindex import build_chunks

    elements, complete, stats = enrichment.run(elements, None, cached_only=True)
    elements = apply_overlays(elements, overlays)[0]
    chunks = build_chunks(elements, emb.count_tokens, max_tokens)
    return Ready(elements, chunks, embed_texts(emb.embed, [c.text for c in chunks], known), complete, stats)


def embed_texts(embed: Callable[[list[str]], np.ndarray], texts: list[str],
                known: dict[str, Any] | None = None) -> np.ndarray:
    """Vectors for ``texts``, embedding only those ``known`` lacks (once per distinct text)."""
    if not known:
        return embed(texts)
    import numpy as np

    missing = [t for t in dict.fromkeys(texts) if t not in known]
    have = {**known, **dict(zip(missing, embed(missing), strict=True))} if missing else known
    return np.stack([np.asarray(have[t], dtype=np.float32) for t in texts]) if texts else embed([])
