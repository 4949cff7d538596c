"""Phase 1 on Ray, the driver's side (mixed into pipeline/runner.Runner).

Workers partition, apply the enrichment cache and overlays, embed and write each
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
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from index.pages import save_assets, upload_assets
from pipeline.plan import Task

if TYPE_CHECKING:
    from folio.config import Pipeline
    from folio.storage import Blobs
    from index.store import DocRecord, Store
    from pipeline.engines.ray.workers import Prepared
    from pipeline.enrichment import Enrichment
    from pipeline.options import RunOptions
    from pipeline.report import DocResult, RunReport
    from pipeline.signals import StopFlag
    from review.step import ReviewStep

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


class RayDriver:
    pipe: Pipeline
    opts: RunOptions
    report: RunReport
    enrichment: Enrichment
    review: ReviewStep
    blobs: Blobs
    stop: StopFlag
    _unoptimized: int
    commits: list[tuple[float, int, int]]  # (seconds, documents, rows) per batch commit
    stage_seconds: dict[str, float]  # workers' seconds by stage (partition, index), summed

    if TYPE_CHECKING:  # provided by the Runner and TwoPhases (defined there only: the MRO)
        def store(self, writable: bool = False) -> Store: ...

        def _one(self, task: Task) -> DocResult: ...

        def _new_record(self, task: Task, sha: str, t0: float) -> tuple[DocRecord, DocResult]: ...

        def _ready(self, rec: DocRecord, result: DocResult, pages: int, elements: int, chunks: int,
                   complete: bool, stats: Any, t0: float) -> None: ...

        def _committed(self, rec: DocRecord, result: DocResult) -> None: ...

        def _fail(self, rec: DocRecord, result: DocResult, reason: str, t0: float, write: bool = True) -> DocResult: ...

        def review_committed(self, source: str, found: dict[str, str]) -> None: ...

        def _indexed(self, task: Task, result: DocResult, pending: list[Task]) -> None: ...

        def _stop_reason(self, deadline: float | None) -> str | None: ...

        def _stopping(self, key: str, left: int, what: str) -> None: ...

        def _skip(self, tasks: list[Task], key: str) -> None: ...

    def _ray_ready(self, tasks: list[Task]) -> bool:
        """The Ray engine, before the run writes anything: connect to the cluster (or start
        a local one) and see a worker run Folio's code. False when a signal stopped the wait
        (every document is left for the next run); RayUnavailable (exit code 4) when Ray
        refused or no worker ran within ``run.ray_deadline_s``: the index is untouched."""
        if self.pipe.run.engine != "ray" or not any(t.reason != "enrich" and not t.reuse_elements for t in tasks):
            return True
        from pipeline.engines.ray import workers as ray_engine
        from pipeline.engines.ray.watch import first_task

        ray_engine.init_ray(self.pipe.run.ray_address, self.pipe.run.workers)
        if first_task(self.pipe.run.ray_deadline_s, ray_engine.PARTITION_CPUS, lambda: bool(self.stop)):
            return True
        self._skip(tasks, "skipped_by_signal")
        self._stopping("skipped_by_signal", len(tasks), "documents")
        return False

    def _phase_index_ray(self, tasks: list[Task], deadline: float | None, pending: list[Task]) -> None:
        """Workers partition, embed and write fragments; the driver commits in batches."""
        if not tasks:
            return
        from index.fragments import targets
        from pipeline.engines.ray import workers as ray_engine
        from pipeline.engines.ray.watch import RayUnavailable, watched

        store = self.store(writable=True)  # loads the driver's embedder: a short write is redone here
        ray_engine.init_ray(self.pipe.run.ray_address, self.pipe.run.workers)
        overlays = [self.review.overlays_for(t.entry.source) for t in tasks]
        rows = ray_engine.prepare(tasks, self.pipe, self.opts.embedder_factory, overlays,
                                  self.enrichment.worker_spec(), targets(store), store.storage_options,
                                  self.pipe.run.embed_actors,
                                  own_credentials=self.pipe.run.worker_credentials == "environment")
        # A document takes at most run.timeout_s to partition, plus its embedding: a cluster
        # that returns none for that long plus the deadline is stuck (RayUnavailable).
        stall_s = self.pipe.run.timeout_s + self.pipe.run.ray_deadline_s
        # None every ray_watch.POLL_S while no document comes: a SIGTERM, the time budget and
        # the batch timer are looked at while the workers are busy, not only when one returns.
        stream = watched(rows, stall_s, lambda: bool(self.stop))
        done: set[int] = set()
        batch: list[Arrived] = []
        last_commit = time.time()
        try:
            for item in stream:
                key = self._stop_reason(deadline)
                if key is not None:
                    self._commit_batch(batch, pending)  # what the workers finished is kept
                    rest = [t for j, t in enumerate(tasks) if j not in done]
                    self._skip(rest, key)
                    self._stopping(key, len(rest), "documents")
                    return
                if item is not None:
                    i, prepared = item
                    done.add(i)
                    arrived = self._arrived(tasks[i], prepared, pending)
                    if arrived is not None:
                        batch.append(arrived)
                if batch and (len(batch) >= self.pipe.run.commit_docs or time.time() - last_commit >= COMMIT_SECONDS):
                    self._commit_batch(batch, pending)
                    batch, last_commit = [], time.time()
            self._commit_batch(batch, pending)
        except RayUnavailable:
            self._commit_batch(batch, pending)  # what the workers finished before the cluster stalled is kept
            raise
        finally:
            stream.close()

    def _arrived(self, task: Task, prepared: Prepared, pending: list[Task]) -> Arrived | None:
        """A worker's result: ready for the batch, or (a short write) indexed again here."""
        t0 = time.time() - prepared.seconds
        for stage, seconds in prepared.stages.items():
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds
        rec, result = self._new_record(task, prepared.sha256 or task.sha256 or "", t0)
        if prepared.error is not None:
            self._fail(rec, result, prepared.error, t0, write=False)  # written with the batch
            return Arrived(task, rec, result, prepared)
        short = prepared.written.short() if prepared.written is not None else ["all"]
        if short:
            log.warning("%s: the fragments of %s hold fewer rows than written; indexing it again here",
                        task.entry.source, ", ".join(short))
            self.report.notes.append(f"{task.entry.source}: a short fragment write ({', '.join(short)}), redone")
            self._indexed(task, self._one(task), pending)
            return None
        save_assets(self.pipe, prepared.assets)
        upload_assets(self.pipe, self.blobs, rec.doc_id)  # before the commit: a committed row's pictures exist
        self._ready(rec, result, prepared.pages, prepared.n_elements, prepared.n_chunks, prepared.complete,
                    prepared.stats, t0)
        return Arrived(task, rec, result, prepared)

    def _commit_batch(self, batch: list[Arrived], pending: list[Task]) -> None:
        """Fragments (one commit per table), documents rows (the commit point), deletions."""
        if not batch:
            return
        from index.fragments import append

        t = time.perf_counter()
        store = self.store(writable=True)
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
        self.commits.append((time.perf_counter() - t, len(batch), rows))
        self._unoptimized += 1
        for a in batch:
            if a.prepared.error is None:
                self._committed(a.rec, a.result)
                self.review_committed(a.rec.source, a.prepared.hashes)
            self._indexed(a.task, a.result, pending)
