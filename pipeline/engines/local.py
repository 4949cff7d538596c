"""``run.engine = "local"``: both phases in this process, one document after the other.

Phase 1 for one document (``index_one``) is also how the Ray engine indexes what it
does not send to the cluster (stored elements re-chunked) and redoes a short write.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from folio.errors import DocumentError
from index.pages import upload_assets
from pipeline.commit import commit, committed, fail, made, new_record
from pipeline.report import DocResult, render_note
from pipeline.reuse import stored_elements
from pipeline.stages import file_sha256
from pipeline.walk import fetch

if TYPE_CHECKING:
    from pipeline.backfill import EnrichFn
    from pipeline.context import RunContext
    from pipeline.plan import Task

log = logging.getLogger(__name__)


class LocalEngine:
    def ready(self, tasks: list[Task], ctx: RunContext) -> bool:
        return True

    def index(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, DocResult], None, None]:
        for task in each(tasks, ctx, "index"):
            yield task, index_one(task, ctx)

    def enrich(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, EnrichFn | None], None, None]:
        for task in each(tasks, ctx, "enrich"):
            yield task, None

    def close(self) -> None:
        pass


def each(tasks: list[Task], ctx: RunContext, phase: str) -> Iterator[Task]:
    """The tasks, one at a time, until a signal or the time budget stops the run."""
    bar = _progress_bar(ctx, len(tasks), phase)
    try:
        for i, task in enumerate(tasks):
            key = ctx.stop_reason()
            if key is not None:
                (ctx.stop_index if phase == "index" else ctx.stop_enrich)(tasks[i:], key)
                return
            if bar is not None:
                bar.set_postfix_str(task.entry.source[-40:])
            yield task
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def _progress_bar(ctx: RunContext, total: int, phase: str) -> Any:
    show = ctx.opts.progress if ctx.opts.progress is not None else sys.stderr.isatty()
    if not show or not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="doc", file=sys.stderr, desc=f"folio {ctx.pipe.name} {phase}")


def index_one(task: Task, ctx: RunContext) -> DocResult:
    """Phase 1 for one document on this machine: partition (or reuse the stored
    elements), apply what the enrichment cache holds (no model runs), chunk, embed,
    commit. (The Ray engine does the same on workers: pipeline/engines/ray/workers.py.)"""
    from pipeline.document import make_ready

    entry = task.entry
    t0 = time.time()
    fetch(entry, ctx.pipe.storage_options)  # a source object: this machine's copy
    sha = task.sha256 or file_sha256(entry.path)
    emb = ctx.embedder()
    rec, result = new_record(ctx, task, sha, t0)
    try:
        elements = stored_elements(ctx.store(), entry.source, sha) if task.reuse_elements else []
        if not elements:
            elements = ctx.opts.partition(task, sha, ctx.pipe)
        elements = ctx.review.stamp(elements)  # content hashes, before enrichment adds anything
        known = ctx.store().chunk_vectors(entry.source) if task.keep_vectors else None
        ready = make_ready(elements, ctx.enrichment, ctx.review.overlays_for(entry.source), emb,
                           ctx.pipe.chunk.max_tokens or emb.max_tokens, known)
    except DocumentError as e:
        return fail(ctx, rec, result, e.reason, t0)
    except Exception as e:  # a bug or library failure on this document: record it, go on
        log.debug("indexing %s failed", entry.source, exc_info=True)
        return fail(ctx, rec, result, f"indexing failed: {type(e).__name__}: {e}", t0)
    pages = len({e.page for e in ready.elements if e.page is not None})
    render_note(ready.elements, result, ctx.report)
    made(ctx, rec, result, pages, len(ready.elements), len(ready.chunks), ready.complete, ready.stats, t0)
    upload_assets(ctx.pipe, ctx.blobs, rec.doc_id)  # before the commit: a committed row's pictures exist
    commit(ctx, rec, ready.elements, ready.chunks, ready.vectors)
    committed(ctx, rec, result)
    return result
