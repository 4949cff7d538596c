"""``run.engine = "ray"``: the engine (pipeline/engines/) on a Ray cluster, the driver's side.

Phase 2 runs on a pool of actors (pipeline/engines/ray/enrich_pool.py). Phase 1: workers
partition, apply the enrichment cache and overlays, embed and write each
document's rows as Lance fragments (pipeline/engines/ray/workers.py). The driver alone commits,
in batches: every document that came back since the last commit, up to
``run.commit_docs``, goes into one commit per table (index/fragments.py: ``append``),
then one merge of their documents rows (the commit point: Store.commit_documents, which
also records the documents that failed), then one deletion of the rows they replace.
A batch is committed when it is full or ``COMMIT_SECONDS`` after the previous commit, so
a document is searchable seconds after its worker finished, and the commit cost is
shared when documents arrive faster than that.

Before committing, the driver checks each document's fragments hold the rows its
worker wrote (a retried write can come back short); a document that fails the check is
indexed again here, by the local engine's path, rather than committed incomplete.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from index.pages import save_assets, upload_assets
from pipeline.commit import committed, fail, made, new_record, review_committed
from pipeline.context import BY_BUDGET, BY_SIGNAL
from pipeline.engines.local import LocalEngine, index_one
from pipeline.plan import Task

if TYPE_CHECKING:
    from index.store import DocRecord
    from pipeline.backfill import EnrichFn
    from pipeline.context import RunContext
    from pipeline.engines.ray.workers import Prepared
    from pipeline.report import DocResult

log = logging.getLogger(__name__)

# A batch waits at most this long after the previous commit (when documents keep coming).
COMMIT_SECONDS = 5.0


@dataclass
class Arrived:
    """A document back from the workers, waiting for the batch commit."""

    task: Task
    rec: DocRecord
    result: DocResult
    prepared: Prepared


class RayEngine:
    def __init__(self) -> None:
        # Re-chunking stored elements needs no partitioner: it stays on the driver.
        self.local = LocalEngine()

    def ready(self, tasks: list[Task], ctx: RunContext) -> bool:
        """Before the run writes anything: connect to the cluster (or start a local one)
        and see a worker run Folio's code. False when a signal stopped the wait (every
        document is left for the next run); RayUnavailable (exit code 4) when Ray refused
        or no worker ran within ``run.ray_deadline_s``: the index is untouched."""
        if not any(t.reason != "enrich" and not t.reuse_elements for t in tasks):
            return True
        from pipeline.engines.ray import workers
        from pipeline.engines.ray.watch import first_task

        workers.init_ray(ctx.pipe.run.ray_address, ctx.pipe.run.workers)
        if first_task(ctx.pipe.run.ray_deadline_s, workers.PARTITION_CPUS, lambda: bool(ctx.stop)):
            return True
        ctx.stop_index(tasks, BY_SIGNAL)
        return False

    def index(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, DocResult], None, None]:
        """Documents to partition go to the cluster; re-chunking stored elements stays here."""
        here = [t for t in tasks if t.reuse_elements]
        there = [t for t in tasks if not t.reuse_elements]
        yield from self.local.index(here, ctx)
        if ctx.report.stopped:
            ctx.skip(there, BY_SIGNAL if ctx.stop else BY_BUDGET)
        else:
            yield from _on_cluster(there, ctx)

    def enrich(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, EnrichFn | None], None, None]:
        """The models run on an actor pool (pipeline/engines/ray/enrich_pool.py)."""
        from pipeline.engines.ray.enrich_pool import backfill

        return backfill(ctx, tasks)

    def close(self) -> None:
        if "ray" in sys.modules:
            from pipeline.engines.ray.workers import shutdown

            shutdown()


def _on_cluster(tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, DocResult], None, None]:
    """Workers partition, embed and write fragments; the driver commits in batches."""
    if not tasks:
        return
    from index.fragments import targets
    from pipeline.engines.ray import workers
    from pipeline.engines.ray.watch import RayUnavailable, watched

    pipe = ctx.pipe
    store = ctx.store(writable=True)  # loads the driver's embedder: a short write is redone here
    workers.init_ray(pipe.run.ray_address, pipe.run.workers)
    overlays = [ctx.review.overlays_for(t.entry.source) for t in tasks]
    rows = workers.prepare(tasks, pipe, ctx.opts.embedder_factory, overlays,
                           ctx.enrichment.worker_spec(), targets(store), store.storage_options,
                           pipe.run.embed_actors,
                           own_credentials=pipe.run.worker_credentials == "environment")
    # A document takes at most run.timeout_s to partition, plus its embedding: a cluster
    # that returns none for that long plus the deadline is stuck (RayUnavailable).
    stall_s = pipe.run.timeout_s + pipe.run.ray_deadline_s
    # None every watch.POLL_S while no document comes: a SIGTERM, the time budget and
    # the batch timer are looked at while the workers are busy, not only when one returns.
    stream = watched(rows, stall_s, lambda: bool(ctx.stop))
    done: set[int] = set()
    batch: list[Arrived] = []
    last_commit = time.time()
    try:
        for item in stream:
            key = ctx.stop_reason()
            if key is not None:
                yield from _commit_batch(batch, ctx)  # what the workers finished is kept
                ctx.stop_index([t for j, t in enumerate(tasks) if j not in done], key)
                return
            if item is not None:
                i, prepared = item
                done.add(i)
                arrived = _arrived(tasks[i], prepared, ctx)
                if isinstance(arrived, Arrived):
                    batch.append(arrived)
                else:
                    yield tasks[i], arrived
            if batch and (len(batch) >= pipe.run.commit_docs or time.time() - last_commit >= COMMIT_SECONDS):
                yield from _commit_batch(batch, ctx)
                batch, last_commit = [], time.time()
        yield from _commit_batch(batch, ctx)
    except RayUnavailable:
        yield from _commit_batch(batch, ctx)  # what the workers finished before the cluster stalled is kept
        raise
    finally:
        stream.close()


def _arrived(task: Task, prepared: Prepared, ctx: RunContext) -> Arrived | DocResult:
    """A worker's result: ready for the batch, or (a short write) indexed again here."""
    t0 = time.time() - prepared.seconds
    for stage, seconds in prepared.stages.items():
        ctx.stage_seconds[stage] = ctx.stage_seconds.get(stage, 0.0) + seconds
    rec, result = new_record(ctx, task, prepared.sha256 or task.sha256 or "", t0)
    if prepared.error is not None:
        fail(ctx, rec, result, prepared.error, t0, write=False)  # written with the batch
        return Arrived(task, rec, result, prepared)
    short = prepared.written.short() if prepared.written is not None else ["all"]
    if short:
        log.warning("%s: the fragments of %s hold fewer rows than written; indexing it again here",
                    task.entry.source, ", ".join(short))
        ctx.report.notes.append(f"{task.entry.source}: a short fragment write ({', '.join(short)}), redone")
        return index_one(task, ctx)
    save_assets(ctx.pipe, prepared.assets)
    upload_assets(ctx.pipe, ctx.blobs, rec.doc_id)  # before the commit: a committed row's pictures exist
    assert prepared.stats is not None  # set with ``written`` by the index stage
    made(ctx, rec, result, prepared.pages, prepared.n_elements, prepared.n_chunks, prepared.complete,
         prepared.stats, t0)
    return Arrived(task, rec, result, prepared)


def _commit_batch(batch: list[Arrived], ctx: RunContext) -> Generator[tuple[Task, DocResult], None, None]:
    """Fragments (one commit per table), documents rows (the commit point), deletions."""
    if not batch:
        return
    from index.fragments import append

    t = time.perf_counter()
    store = ctx.store(writable=True)
    ok = [a for a in batch if a.prepared.error is None]
    fragments: dict[str, list[Any]] = {}
    rows = 0
    for a in ok:
        assert a.prepared.written is not None
        for name, frags in a.prepared.written.fragments.items():
            fragments.setdefault(name, []).extend(frags)
        rows += sum(a.prepared.written.rows.values()) + 1
    append(store, fragments)
    store.commit_documents([(a.rec, a.prepared.write_id) for a in ok],
                           [a.rec for a in batch if a.prepared.error is not None])
    ctx.commits.append((time.perf_counter() - t, len(batch), rows))
    ctx.unoptimized += 1
    for a in batch:
        if a.prepared.error is None:
            committed(ctx, a.rec, a.result)
            review_committed(ctx, a.rec.source, a.prepared.hashes)
        yield a.task, a.result
