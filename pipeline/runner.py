"""One incremental run of a pipeline: walk -> plan -> partition -> chunk -> embed -> store,
then enrich -> store again (the two phases: pipeline/phases.py, through the engine that
``run.engine`` names: pipeline/engines/). What the parts share is one RunContext
(pipeline/context.py), passed to each explicitly.

Crash safety comes from the store's commit protocol (rows first, documents row last) and
``Store.repair()`` after an unclean end, which a marker file (``run.dirty``) records: it
is created before the first write and removed when a run ends normally, so the common
nothing-changed night skips the repair scan. Heavy modules (LanceDB, onnxruntime, the
partitioners) are imported only on the paths that use them; a night with nothing to do
is decided from a snapshot of the documents table without LanceDB (pipeline/snapshot.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from folio.config import Pipeline
from folio.errors import ConfigError
from folio.storage import blobs_for
from pipeline.context import RunContext
from pipeline.engines import engine_for
from pipeline.enrichment import Enrichment
from pipeline.lock import ObjectLock, RunLock
from pipeline.options import RunOptions
from pipeline.phases import run_phases
from pipeline.plan import Plan, Task, changed_parts, for_document, make_plan, narrow, settings_fingerprint
from pipeline.report import DocResult, RunReport, new_run_id
from pipeline.snapshot import (
    SNAPSHOT,
    add_unrecorded,
    clear_unrecorded,
    read_snapshot,
    unrecorded_reports,
    write_snapshot,
)
from pipeline.stages import file_sha256
from pipeline.walk import FileEntry, fetch, walk_sources
from review.step import ReviewStep

if TYPE_CHECKING:
    from index.store import DocRecord
    from pipeline.cache_sync import SharedCache

log = logging.getLogger(__name__)

DIRTY = "run.dirty"  # beside the tables: written before the first write, removed at a clean end

__all__ = ["RunOptions", "Runner", "run_row"]  # RunOptions: callers import it from here


class Runner:
    def __init__(self, pipe: Pipeline, options: RunOptions | None = None) -> None:
        self.pipe = pipe
        self.opts = options or RunOptions()
        self.index = Path(pipe.index)  # this machine's folder (the index itself, or its cache)
        # Where the shared files live (lock, reports, snapshot): the index folder or its URI.
        blobs = blobs_for(pipe.location, pipe.store_options())
        # Resolves (verifies, does not load) the enrichment models: their ids are settings.
        enrichment = Enrichment(pipe, self.opts.ocr)
        fingerprint = settings_fingerprint(pipe, enrichment.fingerprint())
        report = RunReport(new_run_id(), pipe.name, str(pipe.location))
        review = ReviewStep(pipe, report.run_id)
        self.ctx = RunContext(pipe, self.opts, report, enrichment, review, blobs, fingerprint)
        self.engine = engine_for(pipe)
        self.report_path: str | None = None
        self._fast = False  # finished from the snapshot, without opening the store
        self._shared_cache: SharedCache | None = None

    @property
    def report(self) -> RunReport:
        return self.ctx.report

    def _mark_dirty(self) -> None:
        self.ctx.blobs.write(DIRTY, b"")

    # -- the run --------------------------------------------------------------------
    def run(self) -> RunReport:
        if not self.pipe.sources:
            raise ConfigError(f"pipelines.{self.pipe.name}.sources: no source folder given")
        for src in self.pipe.sources:
            if src.remote is None and not Path(src.path).is_dir():
                raise ConfigError(f"pipelines.{self.pipe.name}.sources: {src.path} is not a folder")
        lock: RunLock | ObjectLock = (
            ObjectLock(self.ctx.blobs, self.pipe.run.lock_stale_s) if self.pipe.remote
            else RunLock(self.index / "run.lock")
        )
        lock.acquire()  # raises LockedError -> exit 3
        try:
            with self.ctx.stop:
                try:
                    self._run(stale_lock=lock.took_over is not None)
                except Exception as e:
                    log.exception("run failed")
                    self.ctx.report.stopped = f"{type(e).__name__}: {e}"
                self._finish()
        finally:
            lock.release()
        return self.ctx.report

    def _run(self, stale_lock: bool) -> None:
        self.index.mkdir(parents=True, exist_ok=True)
        files = walk_sources(self.pipe.sources, self.pipe.storage_options)
        unclean = self.ctx.blobs.exists(DIRTY) or stale_lock
        if not unclean and self.opts.only is None and self._nothing_to_do(files):
            return
        store = self.ctx.store()
        if unclean:
            self.ctx.report.repaired_rows = store.repair()
            if self.ctx.report.repaired_rows:
                log.warning("repair: removed %d rows of an interrupted run", self.ctx.report.repaired_rows)
        docs = store.documents()
        if docs and not files:
            # An unmounted share looks like an empty folder: never empty the index for it.
            raise RuntimeError(
                f"the sources hold no files but the index has {len(docs)} documents; "
                "refusing to delete them all (check the source folders, or remove the index)"
            )
        stored_model = store.embed_model if docs else None
        plan = make_plan(files, docs, self.ctx.fingerprint, self._hasher(files), stored_model)
        if self.opts.only is not None:
            for name in narrow(plan, self.opts.only, self.opts.reindex, files, docs):
                self.ctx.report.notes.append(f"{name}: no such file or document")
        self._count_plan(plan, docs)
        if not plan.needs_writes:
            return
        if not self.engine.ready(plan.tasks, self.ctx):  # the Ray engine: a worker runs before the first write
            return
        self._mark_dirty()
        self._apply_metadata(plan)
        if plan.tasks:
            self._check_model(plan, files, docs)
            self._pull_cache()
            run_phases(plan.tasks, self.ctx, self.engine)
        self.ctx.optimize()

    def _nothing_to_do(self, files: dict[str, Any]) -> bool:
        """The LanceDB-free check against the documents snapshot (pipeline/snapshot.py)."""
        snap = read_snapshot(self.ctx.blobs)
        if snap is None:
            return False
        docs, stored_model = snap
        plan = make_plan(files, docs, self.ctx.fingerprint, self._hasher(files), stored_model)
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
        report = self.ctx.report
        c = report.counts
        c["seen"] = plan.seen
        c["unchanged"] = len(plan.unchanged)
        c["failed_known"] = len(plan.failed_known)
        for source in plan.failed_known:
            report.add(DocResult(source, "failed_known", error=docs[source].error))
        for t in plan.tasks:
            c["new" if t.reason == "new" else "changed"] += 1
        resumed = sum(1 for t in plan.tasks if t.reason == "enrich")
        if resumed:
            report.notes.append(f"finishing the enrichment of {resumed} documents indexed before")
        if any(t.reason == "fingerprint" for t in plan.tasks):
            t = next(t for t in plan.tasks if t.reason == "fingerprint")
            old = docs[t.entry.source].fingerprint
            report.notes.append(
                "settings changed (" + ", ".join(changed_parts(old, for_document(self.ctx.fingerprint, t.entry.source)))
                + "): reprocessing"
            )

    def _apply_metadata(self, plan: Plan) -> None:
        """Deletions and touched files: no partitioning, no embedder."""
        store = self.ctx.store()
        for source in plan.deleted:
            store.delete_document(source)
            self.ctx.review.gone(source, "document deleted from the sources")
            self.ctx.unoptimized += 1
            self.ctx.report.counts["deleted"] += 1
            self.ctx.report.add(DocResult(source, "deleted"))
            log.info("deleted %s", source)
        if plan.touched:
            store.touch_documents(plan.touched)

    def _check_model(self, plan: Plan, files: dict[str, Any], docs: dict[str, DocRecord]) -> None:
        """Documents embedded by another model than the loaded one are re-embedded."""
        emb = self.ctx.embedder()
        self.ctx.store(writable=True)
        stale = [s for s in plan.unchanged if docs[s].embed_model != emb.model_id]
        if not stale:
            return
        models = sorted({str(docs[s].embed_model) for s in stale})
        self.ctx.report.notes.append(
            f"embedder changed ({', '.join(models)} -> {emb.model_id}): re-embedding {len(stale)} documents"
        )
        for source in stale:
            plan.tasks.append(Task(files[source], "model", docs[source].sha256, "ok", reuse_elements=True))
        plan.unchanged = [s for s in plan.unchanged if s not in set(stale)]
        self.ctx.report.counts["changed"] += len(stale)
        self.ctx.report.counts["unchanged"] = len(plan.unchanged)

    def _pull_cache(self) -> None:
        """A remote index's shared enrichment cache, merged into this machine's (pipeline/cache_sync.py)."""
        if self.pipe.remote is None or not self.pipe.enrich.enabled:
            return
        from pipeline.cache_sync import SharedCache

        self._shared_cache = SharedCache(self.ctx.blobs, self.ctx.enrichment.cache())
        added = self._shared_cache.pull()
        if added:
            self.ctx.report.notes.append(f"{added} captions and summaries from the index's shared enrichment cache")

    def _finish(self) -> None:
        if self._shared_cache is not None:
            try:
                self._shared_cache.push()
            except Exception:  # the index is consistent; the next run on this machine pushes it
                log.exception("could not upload the enrichment cache")
        ctx = self.ctx
        ctx.enrichment.close()
        ctx.report.review = ctx.review.summary()
        self.engine.close()
        ctx.report.finish()
        self.report_path = ctx.report.write(ctx.blobs)
        fatal = ctx.report.status == "failed" and bool(ctx.report.stopped)
        if self._fast:
            add_unrecorded(ctx.blobs, ctx.report.run_id)
        else:
            self._record(fatal)
        if not fatal:
            ctx.blobs.delete(DIRTY)

    def _record(self, fatal: bool) -> None:
        """Runs table (this run and earlier snapshot-only runs), then a fresh snapshot."""
        blobs = self.ctx.blobs
        try:
            store = self.ctx.store()
            for earlier in unrecorded_reports(blobs):
                store.add_run(run_row(earlier))
            store.add_run(run_row(self.ctx.report.to_dict()))
            clear_unrecorded(blobs)
            if fatal:
                blobs.delete(SNAPSHOT)
            else:
                write_snapshot(blobs, store.documents(), store.embed_model)
        except Exception:
            log.exception("could not record the run in the runs table")
            blobs.delete(SNAPSHOT)


def run_row(report: dict[str, Any]) -> dict[str, Any]:
    """A runs-table row (Store.add_run) for a report dict."""
    return {**report, "report": report}
