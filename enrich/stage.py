"""The enrichment stage: Elements -> Elements with captions, sanitized table HTML and summaries.

Entry point for the runner::

    models = EnrichModels.from_settings(pipeline.models)      # verifies files, loads nothing
    cache = EnrichCache.in_index(pipeline.index)
    elements, complete = enrich_elements(elements, pipeline, models, cache, deadline)

Work is done in document order; cached answers cost nothing and are always applied.
When the deadline, ``enrich.max_seconds``, ``enrich.max_items`` or ``stop()`` (a SIGTERM
during the run) cuts the stage short it
returns ``complete=False`` with what was enriched so far (the rest unchanged), so the
document can be indexed now and enriched by a later run (which finds the finished part
in the cache).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from enrich import captions, tables
from enrich.cache import EnrichCache
from enrich.engines import EnrichModels
from folio.config import Pipeline
from folio.element import Element

log = logging.getLogger(__name__)


@dataclass
class EnrichStats:
    captions: int = 0
    summaries: int = 0
    cache_hits: int = 0
    made: int = 0  # items worked out now (model calls, or OCR alone), not from the cache
    skipped: dict[str, str] = field(default_factory=dict)  # element id -> reason
    failed: dict[str, str] = field(default_factory=dict)  # element id -> error
    left: int = 0  # items not done because the budget ran out
    seconds: float = 0.0


class Budget:
    """Stage limits: an absolute deadline (time.monotonic), seconds and items for this stage."""

    def __init__(
        self,
        deadline: float | None,
        max_seconds: float | None,
        max_items: int | None,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        ends = [d for d in (deadline, time.monotonic() + max_seconds if max_seconds else None) if d]
        self.end = min(ends) if ends else None
        self.items_left = max_items
        self.stop = stop  # e.g. SIGTERM received: no new model item

        self._spent: list[float] = []

    def allows(self) -> bool:
        """Room for one more model item: one that, judging by the items so far, would
        finish before the deadline (a model call cannot be interrupted)."""
        if self.items_left is not None and self.items_left <= 0:
            return False
        if self.stop is not None and self.stop():
            return False
        expected = sum(self._spent) / len(self._spent) if self._spent else 0.0
        return self.end is None or time.monotonic() + expected < self.end

    def spend(self, seconds: float) -> None:
        self._spent.append(seconds)
        if self.items_left is not None:
            self.items_left -= 1


def enrich_elements(
    elements: list[Element],
    settings: Pipeline,
    models: EnrichModels,
    cache: EnrichCache,
    deadline: float | None = None,
    *,
    stats: EnrichStats | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[list[Element], bool]:
    """(enriched elements in the same order, complete). See the module docstring."""
    started = time.monotonic()
    stats = stats if stats is not None else EnrichStats()
    cfg = settings.enrich
    out = tables.sanitize_tables(list(elements))
    if not cfg.enabled:
        return out, True
    budget = Budget(deadline, cfg.max_seconds, cfg.max_items, stop)

    work: list[tuple[int, str, Any]] = []
    path = "ocr+llm"
    if cfg.captions:
        path = captions.choose_path(cfg, models)
        jobs, skipped = captions.plan_captions(out, settings.assets_dir, cfg)
        for i, reason in skipped.items():
            stats.skipped[out[i].id] = reason
        work += [(job.indices[0], "caption", job) for job in jobs]
    if cfg.tables and models.llm_file is not None:
        table_jobs, small = tables.plan_tables(out, cfg.min_table_cells)
        for i, reason in small.items():
            stats.skipped[out[i].id] = reason
        work += [(job.index, "summary", job) for job in table_jobs]
    work.sort(key=lambda w: w[0])

    complete = True
    for _, kind, job in work:
        try:
            value = (
                captions.cached_caption(job, path, models, cache, cfg)
                if kind == "caption"
                else tables.cached_summary(job, models, cache, cfg)
            )
            if value is not None:
                stats.cache_hits += 1
            elif not budget.allows():
                # Keep going: later items may still be in the cache.
                complete = False
                stats.left += 1
                continue
            else:
                t = time.monotonic()
                value = (
                    captions.make_caption(job, path, models, cache, cfg)
                    if kind == "caption"
                    else tables.make_summary(job, models, cache, cfg)
                )
                budget.spend(time.monotonic() - t)
                stats.made += 1
        except (OSError, ValueError) as e:  # one bad picture or table; the rest go on
            idx = job.indices[0] if kind == "caption" else job.index
            stats.failed[out[idx].id] = f"{type(e).__name__}: {e}"
            log.warning("%s: %s of element %s failed: %s", out[idx].source, kind, out[idx].id, e)
            continue
        if kind == "caption":
            for i in job.indices:
                out[i] = captions.apply_caption(out[i], value)
            if value["caption"] is not None:
                stats.captions += 1
            else:
                stats.skipped[out[job.indices[0]].id] = value.get("note") or "no caption"
        else:
            out[job.index] = tables.apply_summary(out[job.index], value)
            if value["summary"] is not None:
                stats.summaries += 1
            else:
                stats.skipped[out[job.index].id] = "summary rejected by the output checks (meta.summary_rejected)"
    if not complete:
        log.info("enrichment budget used up; %d items left for a later run", stats.left)
    stats.seconds = time.monotonic() - started
    return out, complete

