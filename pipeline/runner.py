"""One incremental run of a pipeline: walk -> plan -> partition -> chunk -> embed -> store,
then enrich -> store again (the two phases: pipeline/phases.py).

Crash safety comes from the store's commit protocol (rows first, documents row last) and
``Store.repair()`` after an unclean end, which a marker file (``run.dirty``) records: it
is created before the first write and removed when a run ends normally, so the common
nothing-changed night skips the repair scan. Heavy modules (LanceDB, onnxruntime, the
partitioners) are imported only on the paths that use them; a night with nothing to do
is decided from a snapshot of the documents table without LanceDB (pipeline/snapshot.py).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from folio.config import Pipeline
from folio.errors import ConfigError, DocumentError
from folio.storage import blobs_for
from index.pages import upload_assets
from pipeline.enrichment import Enrichment
from pipeline.lock import ObjectLock, RunLock
from pipeline.options import RunOptions
from pipeline.phases import TwoPhases
from pipeline.plan import Plan, Task, changed_parts, for_document, make_plan, narrow, settings_fingerprint
from pipeline.ray_driver import RayDriver
from pipeline.report import DocResult, RunReport, iso, new_run_id, render_note
from pipeline.reuse import stored_elements
from pipeline.signals import StopFlag
from pipeline.snapshot import (
    SNAPSHOT,
    add_unrecorded,
    clear_unrecorded,
    read_snapshot,
    unrecorded_reports,
    write_snapshot,
)
from pipeline.stages import (
    TextEmbedder,
    file_sha256,
    open_store,
)
from pipeline.walk import FileEntry, fetch, walk_sources
from review.step import ReviewStep, content_hashes

if TYPE_CHECKING:
    import numpy as np

    from enrich.stage import EnrichStats
    from folio.element import Element
    from index.store import DocRecord, Store
    from pipeline.cache_sync import SharedCache

log = logging.getLogger(__name__)

DIRTY = "run.dirty"  # beside the tables: written before the first write, removed at a clean end

class Runner(TwoPhases, RayDriver):
    def __init__(self, pipe: Pipeline, options: RunOptions | None = None) -> None:
        self.pipe = pipe
        self.opts = options or RunOptions()
        self.index = Path(pipe.index)  # this machine's folder (the index itself, or its cache)
        # Where the shared files live (lock, reports, snapshot): the index folder or its URI.
        self.blobs = blobs_for(pipe.location, pipe.store_options())
        # Resolves (verifies, does not load) the enrichment models: their ids are settings.
        self.enrichment = Enrichment(pipe, self.opts.ocr)
        self.fingerprint = settings_fingerprint(pipe, self.enrichment.fingerprint())
        self.report = RunReport(new_run_id(), pipe.name, str(pipe.location))
        self.review = ReviewStep(pipe, self.report.run_id)
        self.stop = StopFlag()
        self._embedder: TextEmbedder | None = None
        self._store: Store | None = None
        self._store_dim: int | None = None
        self.report_path: str | None = None
        self._fast = False  # finished from the snapshot, without opening the store
        # Per document of this run: its DocResult and its latest enrichment stats.
        self._results: dict[str, DocResult] = {}
        self._enrich_stats: dict[str, EnrichStats] = {}
        self._unoptimized = 0  # commits and deletes not yet covered by Store.optimize()
        self._shared_cache: SharedCache | None = None
        # Ray engine: (seconds, documents, rows) per batch commit; workers' seconds by stage
        self.commits: list[tuple[float, int, int]] = []
        self.stage_seconds: dict[str, float] = {}

    # -- lazily opened resources ------------------------------------------------------
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:
            t0 = time.time()
            self._embedder = self.opts.embedder_factory(self.pipe)
            log.info("embedder %s loaded in %.1f s", self._embedder.model_id, time.time() - t0)
        return self._embedder

    def store(self, writable: bool = False) -> Store:
        """The store; ``writable`` opens it with the embedder's width (loads the embedder)."""
        if writable and self._store_dim is None:
            # Opening with the embedder's width and id drops vectors of another embedder.
            emb = self.embedder()
            self._store = open_store(self.pipe, emb.dim, emb.model_id)
            self._store_dim = emb.dim
        elif self._store is None:
            self._store = open_store(self.pipe, None)
        return self._store

    def _mark_dirty(self) -> None:
        self.blobs.write(DIRTY, b"")

    # -- the run --------------------------------------------------------------------
    def run(self) -> RunReport:
        if not self.pipe.sources:
            raise ConfigError(f"pipelines.{self.pipe.name}.sources: no source folder given")
        for src in self.pipe.sources:
            if src.remote is None and not Path(src.path).is_dir():
                raise ConfigError(f"pipelines.{self.pipe.name}.sources: {src.path} is not a folder")
        lock: RunLock | ObjectLock = (
            ObjectLock(self.blobs, self.pipe.run.lock_stale_s) if self.pipe.remote else RunLock(self.index / "run.lock")
        )
        lock.acquire()  # raises LockedError -> exit 3
        try:
            with self.stop:
                try:
                    self._run(stale_lock=lock.took_over is not None)
                except Exception as e:
                    log.exception("run failed")
                    self.report.stopped = f"{type(e).__name__}: {e}"
                self._finish()
        finally:
            lock.release()
        return self.report

    def _run(self, stale_lock: bool) -> None:
        self.index.mkdir(parents=True, exist_ok=True)
        files = walk_sources(self.pipe.sources, self.pipe.storage_options)
        unclean = self.blobs.exists(DIRTY) or stale_lock
        if not unclean and self.opts.only is None and self._nothing_to_do(files):
            return
        store = self.store()
        if unclean:
            self.report.repaired_rows = store.repair()
            if self.report.repaired_rows:
                log.warning("repair: removed %d rows of an interrupted run", self.report.repaired_rows)
        docs = store.documents()
        if docs and not files:
            # An unmounted share looks like an empty folder: never empty the index for it.
            raise RuntimeError(
                f"the sources hold no files but the index has {len(docs)} documents; "
                "refusing to delete them all (check the source folders, or remove the index)"
            )
        stored_model = store.embed_model if docs else None
        plan = make_plan(files, docs, self.fingerprint, self._hasher(files), stored_model)
        if self.opts.only is not None:
            for name in narrow(plan, self.opts.only, self.opts.reindex, files, docs):
                self.report.notes.append(f"{name}: no such file or document")
        self._count_plan(plan, docs)
        if not plan.needs_writes:
            return
        if not self._ray_ready(plan.tasks):  # the Ray engine: a worker runs before the first write
            return
        self._mark_dirty()
        self._apply_metadata(plan)
        if plan.tasks:
            self._check_model(plan, files, docs)
            self._pull_cache()
            self._process(plan.tasks)
        self._optimize()

    def _optimize(self) -> None:
        """FTS/vector indexes over the rows committed since the last call, fragments compacted."""
        if self._unoptimized:
            self.store().optimize()
            self.review.optimize()
            self._unoptimized = 0

    def _nothing_to_do(self, files: dict[str, Any]) -> bool:
        """The LanceDB-free check against the documents snapshot (pipeline/snapshot.py)."""
        snap = read_snapshot(self.blobs)
        if snap is None:
            return False
        docs, stored_model = snap
        plan = make_plan(files, docs, self.fingerprint, self._hasher(files), stored_model)
        if plan.needs_writes:
            return False
        self._count_plan(plan, docs)  # type: ignore[arg-type]
        self._fast = True
        return True

    def _hasher(self, files: dict[str, FileEntry]) -> Callable[[Path], str]:
        """file_sha256 that first fetches a source object (pipeline/walk.py) it has to read."""
        by_path = {e.path: e for e in files.values() if e.remote is not None}
        if not by_path:
            return file_sha256

        def sha(path: Path) -> str:
            entry = by_path.get(path)
            return file_sha256(fetch(entry, self.pipe.storage_options) if entry is not None else path)

        return sha

    def _count_plan(self, plan: Plan, docs: dict[str, DocRecord]) -> None:
        c = self.report.counts
        c["seen"] = plan.seen
        c["unchanged"] = len(plan.unchanged)
        c["failed_known"] = len(plan.failed_known)
        for source in plan.failed_known:
            self.report.add(DocResult(source, "failed_known", error=docs[source].error))
        for t in plan.tasks:
            c["new" if t.reason == "new" else "changed"] += 1
        resumed = sum(1 for t in plan.tasks if t.reason == "enrich")
        if resumed:
            self.report.notes.append(f"finishing the enrichment of {resumed} documents indexed before")
        if any(t.reason == "fingerprint" for t in plan.tasks):
            t = next(t for t in plan.tasks if t.reason == "fingerprint")
            old = docs[t.entry.source].fingerprint
            self.report.notes.append(
                "settings changed (" + ", ".join(changed_parts(old, for_document(self.fingerprint, t.entry.source)))
                + "): reprocessing"
            )

    def _apply_metadata(self, plan: Plan) -> None:
        """Deletions and touched files: no partitioning, no embedder."""
        store = self.store()
        for source in plan.deleted:
            store.delete_document(source)
            self.review.gone(source, "document deleted from the sources")
            self._unoptimized += 1
            self.report.counts["deleted"] += 1
            self.report.add(DocResult(source, "deleted"))
            log.info("deleted %s", source)
        if plan.touched:
            store.touch_documents(plan.touched)

    def _check_model(self, plan: Plan, files: dict[str, Any], docs: dict[str, DocRecord]) -> None:
        """Documents embedded by another model than the loaded one are re-embedded."""
        emb = self.embedder()
        self.store(writable=True)
        stale = [s for s in plan.unchanged if docs[s].embed_model != emb.model_id]
        if not stale:
            return
        models = sorted({str(docs[s].embed_model) for s in stale})
        self.report.notes.append(
            f"embedder changed ({', '.join(models)} -> {emb.model_id}): re-embedding {len(stale)} documents"
        )
        for source in stale:
            plan.tasks.append(Task(files[source], "model", docs[source].sha256, "ok", reuse_elements=True))
        plan.unchanged = [s for s in plan.unchanged if s not in set(stale)]
        self.report.counts["changed"] += len(stale)
        self.report.counts["unchanged"] = len(plan.unchanged)

    def _one(self, task: Task) -> DocResult:
        """Phase 1 for one document on this machine: partition (or reuse the stored
        elements), apply what the enrichment cache holds (no model runs), chunk, embed,
        commit. (The Ray engine does the same on workers: pipeline/ray_driver.py.)"""
        from pipeline.document import make_ready

        entry = task.entry
        t0 = time.time()
        fetch(entry, self.pipe.storage_options)  # a source object: this machine's copy
        sha = task.sha256 or file_sha256(entry.path)
        emb = self.embedder()
        rec, result = self._new_record(task, sha, t0)
        try:
            elements = stored_elements(self.store(), entry.source, sha) if task.reuse_elements else []
            if not elements:
                elements = self.opts.partition(task, sha, self.pipe)
            elements = self.review.stamp(elements)  # content hashes, before enrichment adds anything
            known = self.store().chunk_vectors(entry.source) if task.keep_vectors else None
            ready = make_ready(elements, self.enrichment, self.review.overlays_for(entry.source), emb,
                               self.pipe.chunk.max_tokens or emb.max_tokens, known)
        except DocumentError as e:
            return self._fail(rec, result, e.reason, t0)
        except Exception as e:  # a bug or library failure on this document: record it, go on
            log.debug("indexing %s failed", entry.source, exc_info=True)
            return self._fail(rec, result, f"indexing failed: {type(e).__name__}: {e}", t0)
        pages = len({e.page for e in ready.elements if e.page is not None})
        render_note(ready.elements, result, self.report)
        self._ready(rec, result, pages, len(ready.elements), len(ready.chunks), ready.complete, ready.stats, t0)
        upload_assets(self.pipe, self.blobs, rec.doc_id)  # before the commit: a committed row's pictures exist
        self.commit(rec, ready.elements, ready.chunks, ready.vectors)
        self._committed(rec, result)
        return result

    def _new_record(self, task: Task, sha: str, t0: float) -> tuple[DocRecord, DocResult]:
        """The documents row and the report line of a document phase 1 starts on."""
        from index.store import DocRecord

        entry = task.entry
        rec = DocRecord(
            source=entry.source, path=str(entry.path), doc_id=sha[:16], sha256=sha, size=entry.size,
            mtime=entry.mtime, status="ok", error=None, pages=0, elements=0, chunks=0,
            fingerprint=for_document(self.fingerprint, entry.source), embed_model=self.embedder().model_id,
            started_at=iso(t0),
            finished_at=None, seconds=0.0,
        )
        return rec, DocResult(entry.source, "ok", reason=task.reason)

    def _ready(self, rec: DocRecord, result: DocResult, pages: int, elements: int, chunks: int,
               complete: bool, stats: EnrichStats, t0: float) -> None:
        """Fill in the row of a document whose rows are made (not yet committed)."""
        self._enrich_stats[rec.source] = stats
        if self.pipe.enrich.enabled:
            rec.enrich_left = stats.left
        if not complete:
            # Searchable by its text now; phase 2 (or, failing that, a later run) enriches it.
            rec.status = result.status = "partial"
        rec.pages, rec.elements, rec.chunks = pages, elements, chunks
        rec.seconds = round(time.time() - t0, 3)
        rec.finished_at = iso(time.time())

    def _committed(self, rec: DocRecord, result: DocResult) -> None:
        self.report.counts["ok"] += 1
        result.pages, result.elements, result.chunks, result.seconds = (
            rec.pages, rec.elements, rec.chunks, rec.seconds,
        )
        log.info("committed %s: %d pages, %d elements, %d chunks in %.1f s",
                 rec.source, rec.pages, rec.elements, rec.chunks, rec.seconds)

    def commit(self, rec: DocRecord, elements: list[Element], chunks: list[Any], vectors: np.ndarray) -> None:
        """One document's rows, its profile (routing, index/profile.py), then its overlays'
        state (active / orphaned); phase 1 and the backfill of phase 2 both commit here."""
        from index.profile import build_profile

        profile = build_profile(elements)
        store = self.store(writable=True)
        store.replace_document(rec, elements, chunks, vectors, profile=profile.to_dict() if profile else None)
        self._unoptimized += 1
        self.review_committed(rec.source, content_hashes(elements))

    def review_committed(self, source: str, found: dict[str, str]) -> None:
        emb = self.embedder()
        max_tokens = self.pipe.chunk.max_tokens or emb.max_tokens
        self.review.committed(source, found, self.store(writable=True), emb, max_tokens)

    def _fail(self, rec: DocRecord, result: DocResult, reason: str, t0: float, write: bool = True) -> DocResult:
        """Record a document that failed (``write`` False: the caller writes the row)."""
        rec.status, rec.error = "error", reason
        rec.seconds = round(time.time() - t0, 3)
        rec.finished_at = iso(time.time())
        if write:
            self.store(writable=True).record_failure(rec)
        self.report.counts["failed"] += 1
        result.status, result.error, result.seconds = "error", reason, rec.seconds
        log.info("failed %s: %s", rec.source, reason)  # the summary lists it on stdout
        return result

    def _pull_cache(self) -> None:
        """A remote index's shared enrichment cache, merged into this machine's (pipeline/cache_sync.py)."""
        if self.pipe.remote is None or not self.pipe.enrich.enabled:
            return
        from pipeline.cache_sync import SharedCache

        self._shared_cache = SharedCache(self.blobs, self.enrichment.cache())
        added = self._shared_cache.pull()
        if added:
            self.report.notes.append(f"{added} captions and summaries from the index's shared enrichment cache")

    def _finish(self) -> None:
        if self._shared_cache is not None:
            try:
                self._shared_cache.push()
            except Exception:  # the index is consistent; the next run on this machine pushes it
                log.exception("could not upload the enrichment cache")
        self.enrichment.close()
        self.report.review = self.review.summary()
        if self.pipe.run.engine == "ray" and "ray" in sys.modules:
            from pipeline.ray_engine import shutdown

            shutdown()
        self.report.finish()
        self.report_path = self.report.write(self.blobs)
        fatal = self.report.status == "failed" and bool(self.report.stopped)
        if self._fast:
            add_unrecorded(self.blobs, self.report.run_id)
        else:
            self._record(fatal)
        if not fatal:
            self.blobs.delete(DIRTY)

    def _record(self, fatal: bool) -> None:
        """Runs table (this run and earlier snapshot-only runs), then a fresh snapshot."""
        try:
            store = self.store()
            for earlier in unrecorded_reports(self.blobs):
                store.add_run(run_row(earlier))
            store.add_run(run_row(self.report.to_dict()))
            clear_unrecorded(self.blobs)
            if fatal:
                self.blobs.delete(SNAPSHOT)
            else:
                write_snapshot(self.blobs, store.documents(), store.embed_model)
        except Exception:
            log.exception("could not record the run in the runs table")
            self.blobs.delete(SNAPSHOT)


def run_row(report: dict[str, Any]) -> dict[str, Any]:
    """A runs-table row (Store.add_run) for a report dict."""
    return {**report, "report": report}
