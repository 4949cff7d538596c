"""What the parts of one run share, passed to each of them explicitly (the runner, the
two phases, the engines): the settings and options, the report with its notes, the stop
flag and the deadline, the enrichment, the review step, and the store and embedder,
opened on first use (a night with nothing to do never loads LanceDB or the embedder)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.report import DocResult, RunReport
from pipeline.signals import StopFlag
from pipeline.stages import TextEmbedder, open_store

if TYPE_CHECKING:
    from enrich.stage import EnrichStats
    from folio.config import Pipeline
    from folio.storage import Blobs
    from index.store import Store
    from pipeline.enrichment import Enrichment
    from pipeline.options import RunOptions
    from pipeline.plan import Task
    from review.step import ReviewStep

log = logging.getLogger(__name__)

# Report counts a stop puts the documents it leaves under (RunReport.counts).
BY_SIGNAL, BY_BUDGET = "skipped_by_signal", "skipped_by_budget"


@dataclass
class RunContext:
    pipe: Pipeline
    opts: RunOptions
    report: RunReport
    enrichment: Enrichment
    review: ReviewStep
    blobs: Blobs  # where the shared files live (lock, reports, snapshot): the index folder or its URI
    fingerprint: str  # the settings fingerprint (pipeline/plan.py)
    stop: StopFlag = field(default_factory=StopFlag)
    # Per document of this run: its DocResult and its latest enrichment stats.
    results: dict[str, DocResult] = field(default_factory=dict)
    enrich_stats: dict[str, EnrichStats] = field(default_factory=dict)
    unoptimized: int = 0  # commits and deletes not yet covered by Store.optimize()
    # Ray engine: (seconds, documents, rows) per batch commit; workers' seconds by stage
    commits: list[tuple[float, int, int]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    _embedder: TextEmbedder | None = field(default=None, init=False, repr=False)
    _store: Store | None = field(default=None, init=False, repr=False)
    _store_dim: int | None = field(default=None, init=False, repr=False)

    @property
    def deadline(self) -> float | None:
        """Wall-clock time after which no document (or model item) starts: the budget."""
        budget = self.budget_minutes
        return self.report.started + budget * 60 if budget else None

    @property
    def budget_minutes(self) -> float | None:
        return self.opts.max_minutes or self.pipe.run.max_minutes

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

    def optimize(self) -> None:
        """FTS/vector indexes over the rows committed since the last call, fragments compacted."""
        if self.unoptimized:
            self.store().optimize()
            self.review.optimize()  # the review tables too (never fails the run)
            self.unoptimized = 0

    def max_tokens(self) -> int:
        return self.pipe.chunk.max_tokens or self.embedder().max_tokens

    # -- stopping -------------------------------------------------------------------
    def stop_reason(self) -> str | None:
        """The report count for the documents a stop now leaves, or None: go on."""
        if self.stop:
            return BY_SIGNAL
        deadline = self.deadline
        if deadline is not None and time.time() >= deadline:
            return BY_BUDGET
        return None

    def stopping(self, key: str, left: int, what: str) -> None:
        """Record why the run stops (``key``: stop_reason) and what it leaves."""
        if key == BY_SIGNAL:
            self.report.stopped = self.stop.signal_name
            self.note(f"stopped by {self.stop.signal_name}: {left} {what} left for the next run")
        else:
            self.report.stopped = "budget"
            self.note(f"time budget of {self.budget_minutes:g} min used: {left} {what} left for the next run")

    def stop_index(self, rest: list[Task], key: str) -> None:
        """Phase 1 stops: ``rest`` is left for the next run."""
        self.skip(rest, key)
        self.stopping(key, len(rest), "documents")

    def stop_enrich(self, rest: list[Task], key: str) -> None:
        """Phase 2 stops: this run's documents are indexed already, only the backlog of
        earlier runs counts as skipped."""
        self.skip([t for t in rest if t.reason == "enrich"], key)
        self.stopping(key, len(rest), "documents to enrich")

    # -- the report -----------------------------------------------------------------
    def note(self, text: str) -> None:
        self.report.notes.append(text)
        log.warning("%s", text)

    def skip(self, tasks: list[Task], key: str) -> None:
        self.report.counts[key] += len(tasks)
        for t in tasks:
            self.report.add(DocResult(t.entry.source, "skipped", reason=t.reason))

    def indexed(self, task: Task, result: DocResult) -> None:
        """Phase 1 finished one document (either engine): into the report, to the caller."""
        self.report.add(result)
        self.results[task.entry.source] = result
        if self.opts.on_document is not None:
            self.opts.on_document(result)
