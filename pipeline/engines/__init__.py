"""Where phase 1's partitioning and embedding and phase 2's models run: an ``Engine``.

``local`` (pipeline/engines/local.py) does every document in this process, one after
the other; ``ray`` (pipeline/engines/ray/) sends them to a Ray cluster. The runner picks
one by ``run.engine`` (``ingest.py run --engine``) and drives both phases through this
interface (pipeline/phases.py): it plans, reports and commits the same way for either.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from folio.config import Pipeline
    from pipeline.backfill import EnrichFn
    from pipeline.context import RunContext
    from pipeline.plan import Task
    from pipeline.report import DocResult


class Engine(Protocol):
    """Each method honours the run's stop flag and deadline (``RunContext.stop_reason``):
    on a stop it records what it leaves (``RunContext.stop_index`` / ``stop_enrich``) and
    ends its iterator."""

    def ready(self, tasks: list[Task], ctx: RunContext) -> bool:
        """Before the run writes anything: False when a stop came first (every document
        is then left for the next run, recorded); may raise (the run's fatal error)."""
        ...

    def index(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, DocResult], None, None]:
        """Phase 1: each document partitioned (or its stored elements reused), enriched
        from the cache, chunked, embedded and committed (or recorded as failed), as it is done."""
        ...

    def enrich(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, EnrichFn | None], None, None]:
        """Phase 2: the documents in the order to enrich them, each with what made its
        captions and summaries (None: the caller's enrichment runs the models here)."""
        ...

    def close(self) -> None:
        """The run is over: release what the engine started."""
        ...


def engine_for(pipe: Pipeline) -> Engine:
    """The engine ``run.engine`` names; the Ray modules are imported only for it."""
    if pipe.run.engine == "ray":
        from pipeline.engines.ray.engine import RayEngine

        return RayEngine()
    from pipeline.engines.local import LocalEngine

    return LocalEngine()
