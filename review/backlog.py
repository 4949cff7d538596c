"""What is left to do on an index and what the last nights did: the enrichment backlog
(captions and table summaries the next run makes), the review queue, failed documents,
and the last runs. One computation, shown by ``ingest.py status`` (commands/status.py)
and by the app's Corpus tab (ui/corpus_tab.py). Read-only: it writes nothing, not even
the review tables of an index that has none yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from index.records import INDEXED
from index.run_reports import last_runs

if TYPE_CHECKING:
    from folio.config import Pipeline
    from index.records import DocRecord
    from index.store import Store
    from review.overlays import OverlayStore


def enrichment_backlog(docs: dict[str, DocRecord]) -> dict[str, Any]:
    """Documents indexed with their text whose captions or summaries are still to make
    ("partial": a budget, a signal or an upload cut enrichment short; the next run finishes it)."""
    pending = sorted(d.source for d in docs.values() if d.status == "partial")
    # documents rows of older indexes do not count their items: 0
    items = sum(d.enrich_left or 0 for d in docs.values() if d.status == "partial")
    return {"documents": pending, "items": items}


def review_overlays(pipe: Pipeline) -> OverlayStore:
    """The index's review tables, opened read-only: nothing is created or moved in (an
    older index's SQLite review rows move into the tables when the app or a run opens
    them; until then this count leaves their approvals out)."""
    from review.overlays import OverlayStore

    return OverlayStore(pipe.location, pipe.store_options(), legacy_dir=pipe.index, read_only=True)


def review_queue_size(store: Store, overlays: OverlayStore | None) -> int:
    from review.queue import needs_review, queue_of

    if overlays is None:
        return len(needs_review(store, {}, {}, [], limit=None))
    return len(queue_of(store, overlays, limit=None))


def corpus_status(pipe: Pipeline, store: Store | None, overlays: OverlayStore | None = None,
                  runs: int = 5, review: bool = True, docs: dict[str, DocRecord] | None = None) -> dict[str, Any]:
    """Documents, backlog and last runs of a pipeline's index as JSON-ready values
    (``store`` None: no index yet; ``docs``: its documents rows when the caller has read them).
    ``review`` False leaves the review queue out (``None``): it reads every table and picture."""
    from folio.storage import blobs_for

    if docs is None:
        docs = store.documents() if store is not None else {}
    backlog = enrichment_backlog(docs)
    return {
        "pipeline": pipe.name, "index": str(pipe.location),
        "documents": len(docs),
        "documents_ok": sum(1 for d in docs.values() if d.status in INDEXED),
        "chunks": store.count_chunks() if store is not None else 0,
        "enrich_pending": backlog["documents"], "enrich_items_left": backlog["items"],
        "review_queue": review_queue_size(store, overlays) if review and store is not None else None,
        "failed": [{"source": d.source, "error": d.error, "at": d.finished_at}
                   for d in sorted(docs.values(), key=lambda d: d.source) if d.status not in INDEXED],
        "runs": last_runs(store, blobs_for(pipe.location, pipe.store_options()), runs),
    }
