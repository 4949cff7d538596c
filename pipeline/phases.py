"""The two phases of a run, driven through the run's engine (pipeline/engines/).

Phase 1 partitions (or reuses the stored elements of), chunks, embeds and commits every
new or changed document with what the enrichment cache already holds, running no model:
every document is searchable within about the time of a run without enrichment. Phase 2
makes the missing captions and summaries and commits each document again as it is
finished (pipeline/backfill.py), within what is left of the time budget. A document's
row says how far it got (``status`` "partial" and ``enrich_left`` > 0 while items are
missing); a run that stops in phase 2 leaves it searchable, and the next run's plan
picks it up for phase 2 alone (reason "enrich"), without partitioning it again.
"""

from __future__ import annotations

import functools
import logging
import time
from contextlib import closing
from typing import TYPE_CHECKING

from pipeline.backfill import backfill_document
from pipeline.commit import commit
from pipeline.context import BY_BUDGET, BY_SIGNAL
from pipeline.report import DocResult

if TYPE_CHECKING:
    from enrich.stage import EnrichStats
    from folio.element import Element
    from pipeline.backfill import EnrichFn
    from pipeline.context import RunContext
    from pipeline.engines import Engine
    from pipeline.plan import Task

log = logging.getLogger(__name__)


def run_phases(tasks: list[Task], ctx: RunContext, engine: Engine) -> None:
    """Phase 1 indexes every new or changed document with what the enrichment cache
    already holds (no model runs), so all of them are searchable early; phase 2 then
    makes the missing captions and summaries and re-commits each document as it is
    finished (``enrich_one``), within what is left of the budget."""
    fresh = [t for t in tasks if t.reason != "enrich"]
    # Indexed by an earlier run whose enrichment was cut short: phase 2 only.
    backlog = [t for t in tasks if t.reason == "enrich"]
    t0 = time.time()
    pending = index_phase(fresh, ctx, engine)
    if pending or backlog:
        ctx.optimize()  # searchable (FTS included) before the long backfill starts
    ctx.report.phases["index"] = round(time.time() - t0, 3)
    t1 = time.time()
    try:
        if ctx.opts.skip_enrich:
            if pending or backlog:
                ctx.note(f"enrichment of {len(pending) + len(backlog)} documents left to the next run")
        elif not ctx.report.stopped:
            enrich_phase(pending + backlog, ctx, engine)
        else:
            ctx.skip(backlog, BY_BUDGET if ctx.report.stopped == "budget" else BY_SIGNAL)
    finally:
        ctx.report.phases["enrich"] = round(time.time() - t1, 3)
        for stats in ctx.enrich_stats.values():
            ctx.report.add_enrichment(stats)
        ctx.report.counts["enrich_pending"] = sum(1 for s in ctx.enrich_stats.values() if s.left)


def index_phase(tasks: list[Task], ctx: RunContext, engine: Engine) -> list[Task]:
    """Phase 1; returns the tasks whose documents were committed with enrichment left."""
    pending: list[Task] = []
    with closing(engine.index(tasks, ctx)) as done:
        for task, result in done:
            ctx.indexed(task, result)
            if result.status == "partial":
                pending.append(task)
    return pending


def enrich_phase(tasks: list[Task], ctx: RunContext, engine: Engine) -> None:
    """Phase 2: this run's documents first, then the backlog of earlier runs."""
    with closing(engine.enrich(tasks, ctx)) as todo:
        for task, made in todo:
            result = enrich_one(task, ctx, made)
            if result is not None and ctx.opts.on_document is not None:
                ctx.opts.on_document(result)


def enrich_one(task: Task, ctx: RunContext, made: EnrichFn | None = None) -> DocResult | None:
    """Phase 2 for one document (pipeline/backfill.py); its result if it was committed again.
    ``made``: what the engine made of it (Ray actors) instead of the models here."""
    from index.reindex import build_chunks

    source = task.entry.source
    known = ctx.enrich_stats.get(source)
    emb = ctx.embedder()
    max_tokens = ctx.max_tokens()

    def enrich(els: list[Element]) -> tuple[list[Element], bool, EnrichStats]:
        # a reviewer's caption or summary wins over the one the model just wrote
        out, complete, stats = (
            made(els) if made is not None else ctx.enrichment.run(els, ctx.deadline, stop=lambda: bool(ctx.stop))
        )
        return ctx.review.apply(source, out), complete, stats

    try:
        rec, stats = backfill_document(
            ctx.store(writable=True), source, known.left if known is not None else None, enrich,
            lambda els: build_chunks(els, emb.count_tokens, max_tokens), emb.embed, functools.partial(commit, ctx),
        )
    except Exception as e:
        # The text is indexed already; the enrichment is retried by a later run.
        log.warning("enriching %s failed", source, exc_info=True)
        ctx.note(f"enrichment of {source} failed ({type(e).__name__}: {e}); a later run retries it")
        return None
    if stats is not None and (rec is not None or known is None):
        ctx.enrich_stats[source] = stats
    if rec is None:
        return None
    result = ctx.results.get(source)
    if result is None:  # from the backlog of an earlier run
        result = DocResult(source, rec.status, reason=task.reason, pages=rec.pages, elements=rec.elements)
        ctx.report.add(result)
        ctx.results[source] = result
        ctx.report.counts["ok"] += 1
    result.status, result.chunks, result.seconds = rec.status, rec.chunks, rec.seconds
    return result
