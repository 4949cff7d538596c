"""A document's row, from the start of phase 1 to its commit, for either engine: the
documents row and its report line, filled in when its rows are made, the commit of its
rows (phase 1 and the re-commit of phase 2), or its failure."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pipeline.plan import Task, for_document
from pipeline.report import DocResult, iso
from review.step import content_hashes

if TYPE_CHECKING:
    import numpy as np

    from enrich.stage import EnrichStats
    from folio.element import Element
    from index.store import DocRecord
    from pipeline.context import RunContext

log = logging.getLogger(__name__)


def new_record(ctx: RunContext, task: Task, sha: str, t0: float) -> tuple[DocRecord, DocResult]:
    """The documents row and the report line of a document phase 1 starts on."""
    from index.store import DocRecord

    entry = task.entry
    rec = DocRecord(
        source=entry.source, path=str(entry.path), doc_id=sha[:16], sha256=sha, size=entry.size,
        mtime=entry.mtime, status="ok", error=None, pages=0, elements=0, chunks=0,
        fingerprint=for_document(ctx.fingerprint, entry.source), embed_model=ctx.embedder().model_id,
        started_at=iso(t0),
        finished_at=None, seconds=0.0,
    )
    return rec, DocResult(entry.source, "ok", reason=task.reason)


def made(ctx: RunContext, rec: DocRecord, result: DocResult, pages: int, elements: int, chunks: int,
         complete: bool, stats: EnrichStats, t0: float) -> None:
    """Fill in the row of a document whose rows are made (not yet committed)."""
    ctx.enrich_stats[rec.source] = stats
    if ctx.pipe.enrich.enabled:
        rec.enrich_left = stats.left
    if not complete:
        # Searchable by its text now; phase 2 (or, failing that, a later run) enriches it.
        rec.status = result.status = "partial"
    rec.pages, rec.elements, rec.chunks = pages, elements, chunks
    rec.seconds = round(time.time() - t0, 3)
    rec.finished_at = iso(time.time())


def committed(ctx: RunContext, rec: DocRecord, result: DocResult) -> None:
    ctx.report.counts["ok"] += 1
    result.pages, result.elements, result.chunks, result.seconds = (
        rec.pages, rec.elements, rec.chunks, rec.seconds,
    )
    log.info("committed %s: %d pages, %d elements, %d chunks in %.1f s",
             rec.source, rec.pages, rec.elements, rec.chunks, rec.seconds)


def commit(ctx: RunContext, rec: DocRecord, elements: list[Element], chunks: list[Any], vectors: np.ndarray) -> None:
    """One document's rows, its profile (routing, index/profile.py), then its overlays'
    state (active / orphaned); phase 1 and the backfill of phase 2 both commit here."""
    from index.profile import build_profile

    profile = build_profile(elements)
    store = ctx.store(writable=True)
    store.replace_document(rec, elements, chunks, vectors, profile=profile.to_dict() if profile else None)
    ctx.unoptimized += 1
    review_committed(ctx, rec.source, content_hashes(elements))


def review_committed(ctx: RunContext, source: str, found: dict[str, str]) -> None:
    ctx.review.committed(source, found, ctx.store(writable=True), ctx.embedder(), ctx.max_tokens())


def fail(ctx: RunContext, rec: DocRecord, result: DocResult, reason: str, t0: float, write: bool = True) -> DocResult:
    """Record a document that failed (``write`` False: the caller writes the row)."""
    rec.status, rec.error = "error", reason
    rec.seconds = round(time.time() - t0, 3)
    rec.finished_at = iso(time.time())
    if write:
        ctx.store(writable=True).record_failure(rec)
    ctx.report.counts["failed"] += 1
    result.status, result.error, result.seconds = "error", reason, rec.seconds
    log.info("failed %s: %s", rec.source, reason)  # the summary lists it on stdout
    return result
