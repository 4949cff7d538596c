"""The two phases of a run (mixed into pipeline/runner.Runner).

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

import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeline.backfill import backfill_document
from pipeline.plan import Task
from pipeline.report import DocResult, RunReport

if TYPE_CHECKING:
    import numpy as np

    from enrich.stage import EnrichStats
    from folio.config import Pipeline
    from folio.element import Element
    from index.store import DocRecord, Store
    from pipeline.backfill import EnrichFn
    from pipeline.enrichment import Enrichment
    from pipeline.options import RunOptions
    from pipeline.signals import StopFlag
    from pipeline.stages import TextEmbedder
    from review.step import ReviewStep

log = logging.getLogger(__name__)


class TwoPhases:
    pipe: Pipeline
    opts: RunOptions
    report: RunReport
    stop: StopFlag
    enrichment: Enrichment
    review: ReviewStep
    _results: dict[str, DocResult]
    _enrich_stats: dict[str, EnrichStats]
    _unoptimized: int

    # provided by the Runner
    def embedder(self) -> TextEmbedder:
        raise NotImplementedError

    def store(self, writable: bool = False) -> Store:
        raise NotImplementedError

    def _one(self, task: Task) -> DocResult:
        raise NotImplementedError

    def _optimize(self) -> None:
        raise NotImplementedError

    if TYPE_CHECKING:  # pipeline/engines/ray/engine.py (defined there only: the MRO would pick a stub here)
        def _phase_index_ray(self, tasks: list[Task], deadline: float | None, pending: list[Task]) -> None: ...

    def commit(self, rec: DocRecord, elements: list[Element], chunks: list[Any], vectors: np.ndarray) -> None:
        raise NotImplementedError

    def _process(self, tasks: list[Task]) -> None:
        """Phase 1 indexes every new or changed document with what the enrichment cache
        already holds (no model runs), so all of them are searchable early; phase 2 then
        makes the missing captions and summaries and re-commits each document as it is
        finished (``_backfill``), within what is left of the budget."""
        budget = self.opts.max_minutes or self.pipe.run.max_minutes
        deadline = self.report.started + budget * 60 if budget else None
        fresh = [t for t in tasks if t.reason != "enrich"]
        # Indexed by an earlier run whose enrichment was cut short: phase 2 only.
        backlog = [t for t in tasks if t.reason == "enrich"]
        t0 = time.time()
        pending = self._phase_index(fresh, deadline)
        if pending or backlog:
            self._optimize()  # searchable (FTS included) before the long backfill starts
        self.report.phases["index"] = round(time.time() - t0, 3)
        t1 = time.time()
        try:
            if self.opts.skip_enrich:
                if pending or backlog:
                    self._note(f"enrichment of {len(pending) + len(backlog)} documents left to the next run")
            elif not self.report.stopped:
                self._phase_enrich(pending, backlog, deadline)
            else:
                self._skip(backlog, "skipped_by_budget" if self.report.stopped == "budget" else "skipped_by_signal")
        finally:
            self.report.phases["enrich"] = round(time.time() - t1, 3)
            for stats in self._enrich_stats.values():
                self.report.add_enrichment(stats)
            self.report.counts["enrich_pending"] = sum(1 for s in self._enrich_stats.values() if s.left)

    def _stop_reason(self, deadline: float | None) -> str | None:
        if self.stop:
            return "skipped_by_signal"
        if deadline is not None and time.time() >= deadline:
            return "skipped_by_budget"
        return None

    def _stopping(self, key: str, left: int, what: str) -> None:
        if key == "skipped_by_signal":
            self.report.stopped = self.stop.signal_name
            self._note(f"stopped by {self.stop.signal_name}: {left} {what} left for the next run")
        else:
            budget = self.opts.max_minutes or self.pipe.run.max_minutes
            self.report.stopped = "budget"
            self._note(f"time budget of {budget:g} min used: {left} {what} left for the next run")

    def _phase_index(self, tasks: list[Task], deadline: float | None) -> list[Task]:
        """Phase 1; returns the tasks whose documents were committed with enrichment left."""
        pending: list[Task] = []

        def work(task: Task) -> None:
            self._indexed(task, self._one(task), pending)

        if self.pipe.run.engine == "ray":
            # Documents to partition go to the cluster; re-chunking stored elements stays here.
            here = [t for t in tasks if t.reuse_elements]
            there = [t for t in tasks if not t.reuse_elements]
            self._each(here, deadline, "index", work, lambda rest, key: self._skip(rest, key))
            if self.report.stopped:
                self._skip(there, "skipped_by_signal" if self.stop else "skipped_by_budget")
            else:
                self._phase_index_ray(there, deadline, pending)
            return pending
        self._each(tasks, deadline, "index", work, lambda rest, key: self._skip(rest, key))
        return pending

    def _indexed(self, task: Task, result: DocResult, pending: list[Task]) -> None:
        """Phase 1 finished one document (either engine): report it, keep it for phase 2."""
        self.report.add(result)
        self._results[task.entry.source] = result
        if result.status == "partial":
            pending.append(task)
        if self.opts.on_document is not None:
            self.opts.on_document(result)

    def _phase_enrich(self, pending: list[Task], backlog: list[Task], deadline: float | None) -> None:
        """Phase 2: this run's documents first, then the backlog of earlier runs."""

        def work(task: Task, made: EnrichFn | None = None) -> None:
            result = self._backfill(task, deadline, made)
            if result is not None and self.opts.on_document is not None:
                self.opts.on_document(result)

        def stopped(rest: list[Task], key: str) -> None:
            # This run's documents are indexed already: only the backlog is "skipped".
            self._skip([t for t in rest if t.reason == "enrich"], key)

        if self.pipe.run.engine == "ray":  # the models run on an actor pool (pipeline/engines/ray/enrich_pool.py)
            from pipeline.engines.ray import enrich_pool as ray_enrich

            ray_enrich.backfill(self, pending + backlog, deadline, work, stopped)
            return
        self._each(pending + backlog, deadline, "enrich", work, stopped)

    def _each(
        self, tasks: list[Task], deadline: float | None, phase: str,
        work: Callable[[Task], None], stopped: Callable[[list[Task], str], None],
    ) -> None:
        """``work`` on each task until a signal or the time budget stops the run."""
        bar = self._progress_bar(len(tasks), phase)
        try:
            for i, task in enumerate(tasks):
                key = self._stop_reason(deadline)
                if key is not None:
                    stopped(tasks[i:], key)
                    what = "documents" if phase == "index" else "documents to enrich"
                    self._stopping(key, len(tasks) - i, what)
                    return
                if bar is not None:
                    bar.set_postfix_str(task.entry.source[-40:])
                work(task)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    def _note(self, text: str) -> None:
        self.report.notes.append(text)
        log.warning("%s", text)

    def _skip(self, tasks: list[Task], key: str) -> None:
        self.report.counts[key] += len(tasks)
        for t in tasks:
            self.report.add(DocResult(t.entry.source, "skipped", reason=t.reason))

    def _progress_bar(self, total: int, phase: str) -> Any:
        show = self.opts.progress if self.opts.progress is not None else sys.stderr.isatty()
        if not show or not total:
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit="doc", file=sys.stderr, desc=f"folio {self.pipe.name} {phase}")

    def _backfill(self, task: Task, deadline: float | None, made: EnrichFn | None = None) -> DocResult | None:
        """Phase 2 for one document (pipeline/backfill.py); its result if it was committed again.
        ``made``: what Ray actors made of it (pipeline/engines/ray/enrich_pool.py) instead of the stage here."""
        from index.reindex import build_chunks

        source = task.entry.source
        known = self._enrich_stats.get(source)
        emb = self.embedder()
        max_tokens = self.pipe.chunk.max_tokens or emb.max_tokens

        def enrich(els: list[Element]) -> tuple[list[Element], bool, EnrichStats]:
            # a reviewer's caption or summary wins over the one the model just wrote
            out, complete, stats = (
                made(els) if made is not None else self.enrichment.run(els, deadline, stop=lambda: bool(self.stop))
            )
            return self.review.apply(source, out), complete, stats

        try:
            rec, stats = backfill_document(
                self.store(writable=True), source, known.left if known is not None else None, enrich,
                lambda els: build_chunks(els, emb.count_tokens, max_tokens), emb.embed, self.commit,
            )
        except Exception as e:
            # The text is indexed already; the enrichment is retried by a later run.
            log.warning("enriching %s failed", source, exc_info=True)
            self._note(f"enrichment of {source} failed ({type(e).__name__}: {e}); a later run retries it")
            return None
        if stats is not None and (rec is not None or known is None):
            self._enrich_stats[source] = stats
        if rec is None:
            return None
        result = self._results.get(source)
        if result is None:  # from the backlog of an earlier run
            result = DocResult(source, rec.status, reason=task.reason, pages=rec.pages, elements=rec.elements)
            self.report.add(result)
            self._results[source] = result
            self.report.counts["ok"] += 1
        result.status, result.chunks, result.seconds = rec.status, rec.chunks, rec.seconds
        return result
