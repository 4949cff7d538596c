"""The runner's use of the enrichment stage (enrich/stage.py): one way through the data.

Every document the run indexes passes through ``enrich_elements``, enrichment on or off:
the stage always sanitizes table HTML (cheap, no model) and only then looks at
``enrich.enabled``. Model files are resolved (verified through their hash record, not
loaded) when the run starts, because their ids are part of the settings fingerprint;
``EnrichModels`` and the cache file are created at the first document that needs them,
so a night with nothing to do touches neither.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from folio.config import EnrichSettings, ModelSettings, Pipeline

if TYPE_CHECKING:
    from enrich.cache import EnrichCache, Entry
    from enrich.engines import EnrichModels
    from enrich.stage import EnrichStats
    from folio.element import Element
    from folio.models import ModelFile

log = logging.getLogger(__name__)

# Stage limits decide how much is done in one run, and the cache's folder where results
# are kept; neither changes what an item becomes.
_LIMITS = {"max_seconds", "max_items", "cache_dir"}


def needs_llm(cfg: EnrichSettings, models: ModelSettings) -> bool:
    """Whether the configured work calls the text LLM (summaries, or OCR-text captions)."""
    ocr_captions = cfg.caption_path == "ocr+llm" or (cfg.caption_path == "auto" and models.vlm is None)
    return cfg.tables or (cfg.captions and ocr_captions)


def prompt_versions() -> dict[str, str]:
    """The prompt versions the stage keys its cache on (read where the stage reads them)."""
    from enrich import captions, prompts, tables

    return {
        "checks": prompts.OUTPUT_CHECKS_VERSION,
        "caption_ocr": captions.CAPTION_OCR_VERSION,
        "caption_vlm": captions.CAPTION_VLM_VERSION,
        "table_summary": tables.TABLE_SUMMARY_VERSION,
    }


@dataclass(frozen=True)
class WorkerSpec:
    llm_file: ModelFile | None
    vlm_files: tuple[ModelFile, ModelFile] | None
    cache: bytes | None  # EnrichCache.dump()


class Enrichment:
    """Resolved enrichment models, their fingerprint, and the lazily created stage inputs."""

    def __init__(self, pipe: Pipeline, ocr: Callable[[bytes], str] | None = None,
                 worker: WorkerSpec | None = None) -> None:
        """``worker``: the driver's resolved model ids and a copy of its cache (a Ray
        worker applies what the cache holds and runs no model: see ``worker_spec``)."""
        self.pipe = pipe
        self._ocr = ocr
        self.llm_file: ModelFile | None = None
        self.vlm_files: tuple[ModelFile, ModelFile] | None = None
        self._models: EnrichModels | None = None
        self._cache: EnrichCache | None = None
        if worker is not None:
            from enrich.cache import EnrichCache

            self.llm_file, self.vlm_files = worker.llm_file, worker.vlm_files
            self._cache = EnrichCache.loads(worker.cache) if worker.cache else None
        elif pipe.enrich.enabled:
            from folio.models import resolve_llm, resolve_vlm

            # Raises ModelError (a FolioError: the CLI reports it) when a file is missing.
            if needs_llm(pipe.enrich, pipe.models):
                self.llm_file = resolve_llm(pipe.models)
            self.vlm_files = resolve_vlm(pipe.models)
        self.calls = 0  # documents passed through the stage
        # enrich.max_seconds / max_items are per run; the stage applies them per call.
        self._seconds_used = 0.0
        self._items_used = 0

    def fingerprint(self) -> str | None:
        """What shapes enrichment output: settings (not the per-run limits), the resolved
        model ids and the prompt versions. None when the stage is disabled: the settings
        fingerprint then has no enrichment part, as before enrichment joined the run, so
        existing indexes are not reprocessed for it."""
        cfg = self.pipe.enrich
        if not cfg.enabled:
            return None
        data: dict[str, Any] = {
            "settings": cfg.model_dump(mode="json", exclude=_LIMITS),
            "llm": self.llm_file.model_id if self.llm_file else None,
            "vlm": [f.model_id for f in self.vlm_files] if self.vlm_files else None,
            "vlm_family": self.pipe.models.vlm_family if self.vlm_files else None,
            # the context size decides how much of a long table the summary prompt shows
            "n_ctx": self.pipe.models.n_ctx,
            "prompts": prompt_versions(),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]

    def _inputs(self) -> tuple[EnrichModels, EnrichCache]:
        if self._models is None:
            from enrich.engines import EnrichModels

            self._models = EnrichModels(self.pipe.models, self.llm_file, self.vlm_files, ocr=self._ocr)
        if self._cache is None:
            from enrich.cache import EnrichCache

            # Disabled: the stage only sanitizes and never reads the cache; no file for that.
            enabled = self.pipe.enrich.enabled
            self._cache = EnrichCache.for_pipeline(self.pipe) if enabled else EnrichCache(None)
        return self._models, self._cache

    def cache(self) -> EnrichCache:
        return self._inputs()[1]

    def worker_spec(self) -> WorkerSpec:
        """What a Ray worker needs to apply the enrichment cache as this process would."""
        cache = self._inputs()[1].dump() if self.pipe.enrich.enabled else None
        return WorkerSpec(self.llm_file, self.vlm_files, cache)

    def run(
        self,
        elements: list[Element],
        deadline: float | None,
        stop: Callable[[], bool] | None = None,
        *,
        cached_only: bool = False,
    ) -> tuple[list[Element], bool, EnrichStats]:
        """(elements, complete, stats); ``deadline`` is wall-clock time (time.time()); once
        ``stop()`` is true no new model item starts (the rest is left for a later run).
        ``cached_only``: apply what the cache holds and run no model (the runner's phase 1;
        ``stats.left`` then counts the items phase 2 has to make)."""
        from enrich.stage import EnrichStats, enrich_elements

        models, cache = self._inputs()
        pipe, mono = self._limits_left(deadline)
        if cached_only:
            pipe = pipe.model_copy(update={"enrich": pipe.enrich.model_copy(update={"max_items": 0})})
        stats = EnrichStats()
        self.calls += 1
        out, complete = enrich_elements(elements, pipe, models, cache, mono, stats=stats, stop=stop)
        if cached_only:
            return out, complete, stats
        self.account(stats)
        if stats.captions or stats.summaries or stats.left or stats.failed:
            log.info(
                "enriched %s: %d captions, %d summaries (%d from the cache), %d failed, %d left in %.1f s",
                elements[0].source if elements else "?", stats.captions, stats.summaries,
                stats.cache_hits, len(stats.failed), stats.left, stats.seconds,
            )
        return out, complete, stats

    def cached(self, elements: list[Element]) -> tuple[list[Element], bool, EnrichStats, list[Entry]]:
        """``run(cached_only=True)`` and the cache entries it applied (the Ray engine seeds
        an actor's cache with them: the actor then makes exactly what is missing)."""
        cache = self._inputs()[1]
        cache.journal = []
        try:
            out, complete, stats = self.run(elements, None, cached_only=True)
            return out, complete, stats, [entry for op, entry in cache.journal if op == "get"]
        finally:
            cache.journal = None

    def remember(self, entries: list[Entry]) -> None:
        """Cache entries made elsewhere (a Ray actor): the next run's phase 1 finds them."""
        cache = self._inputs()[1]
        for entry in entries:
            cache.put(*entry)

    def account(self, stats: EnrichStats) -> None:
        """Stage work done (here or on a Ray actor) counts against the per-run limits."""
        self._seconds_used += stats.seconds
        self._items_used += stats.made

    def limits(self, deadline: float | None) -> tuple[float | None, int | None]:
        """(wall-clock end, items left) of this run's enrichment: the run's deadline or the
        end of ``enrich.max_seconds``, and what is left of ``enrich.max_items``."""
        cfg = self.pipe.enrich
        ends = [] if deadline is None else [deadline]
        if cfg.max_seconds is not None:
            ends.append(time.time() + cfg.max_seconds - self._seconds_used)
        items = None if cfg.max_items is None else max(0, cfg.max_items - self._items_used)
        return (min(ends) if ends else None), items

    def _limits_left(self, deadline: float | None) -> tuple[Pipeline, float | None]:
        """The pipeline with what is left of this run's item limit, and one monotonic
        deadline (the stage's clock)."""
        end, items = self.limits(deadline)
        update: dict[str, Any] = {"max_seconds": None}
        if items is not None:
            update["max_items"] = items
        pipe = self.pipe.model_copy(update={"enrich": self.pipe.enrich.model_copy(update=update)})
        return pipe, None if end is None else time.monotonic() + (end - time.time())

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
