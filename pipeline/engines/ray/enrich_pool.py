"""``run.engine = "ray"``: phase 2 (captions, summaries) on a pool of Ray actors.

Each actor (``run.enrich_actors`` of them, half a CPU each for scheduling, llama.cpp
threads set explicitly) loads the enrichment models once and enriches one document per
call. The driver keeps what it does with the local engine (pipeline/backfill.py): it
reads a document's stored elements, applies what its enrichment cache holds and, when
items are missing, sends the elements to an actor with the pictures the captions need
(read where they are: the index folder, or the object store of a remote index) and the
cache entries it just applied, so the actor makes exactly what is missing. The actor
returns the enriched elements, the stage's stats and the cache entries it made; the
driver writes those into its cache (the next run's phase 1 finds them), applies review
overlays, re-chunks, embeds (reusing stored vectors) and commits, one document at a
time, in completion order. A document that fails on an actor is noted like with the
local engine and left "partial" for a later run.

Budget: every actor gets the run's wall-clock end (the run's ``--max-minutes`` or
``enrich.max_seconds`` from the start of phase 2) and asks a shared gate actor before
each model item; the gate counts ``enrich.max_items`` for the whole pool and says no
once the driver has a SIGTERM or the deadline has passed. So an actor finishes its
current item, returns the document with what is done (the stage keeps applying cache
hits), the driver commits it, and documents not yet sent stay as they are for the next
run.

Plain Ray actors rather than Ray Data's ``map_batches``: the driver sends a document
only when an actor has room (two per actor), so it reads stored elements lazily (a
backlog of large documents is never all in memory), seeds each document's cache entries
from what earlier documents of this run made, and can tell running actors to stop
without killing an LLM call whose result it wants. Lost actors are restarted and their
call retried by Ray (``max_restarts``/``max_task_retries``).
"""

from __future__ import annotations

import logging
import pickle
import socket
import tempfile
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.pages import save_assets
from pipeline.reuse import stored_elements

if TYPE_CHECKING:
    from enrich.cache import Entry
    from enrich.stage import EnrichStats
    from folio.config import Pipeline
    from folio.element import Element
    from folio.models import ModelFile
    from folio.storage import Blobs
    from pipeline.backfill import EnrichFn
    from pipeline.context import RunContext
    from pipeline.plan import Task

log = logging.getLogger(__name__)

ENRICH_ACTOR_CPUS = 0.5  # an actor mostly waits on llama.cpp's own threads (models.threads)
PER_ACTOR = 2  # documents sent to an actor at a time: the next one waits while the driver commits
# After a stop, how long the documents on actors may take to come back (an actor finishes
# its current model item first); later, they are left to the next run as they are.
STOP_GRACE_S = 180.0


@dataclass
class Job:
    """One document for an actor."""

    source: str
    elements: list[Element]
    pictures: dict[str, bytes]  # path under assets_dir -> bytes, for the image elements
    seeds: list[Entry]  # the driver's cache entries for this document's items
    end: float | None  # wall-clock time after which no model item starts


@dataclass
class Enriched:
    """What an actor made of one document."""

    elements: list[Element] = field(default_factory=list)
    complete: bool = False
    stats: EnrichStats | None = None
    entries: list[Entry] = field(default_factory=list)  # cache entries made
    error: str | None = None
    seconds: float = 0.0
    node: str = ""


class Gate:
    """Ray actor shared by the pool: the run's item limit, and the driver's stop."""

    def __init__(self, items: int | None) -> None:
        self.items = items
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True

    def take(self) -> bool:
        """Whether one more model item may start (it is then counted)."""
        if self.stopped or (self.items is not None and self.items <= 0):
            return False
        if self.items is not None:
            self.items -= 1
        return True


class EnrichActor:
    """Ray actor: the enrichment models, loaded once, and an in-memory cache that keeps
    what this actor made for the documents it gets later."""

    def __init__(
        self, pipe_bytes: bytes, llm_file: ModelFile | None, vlm_files: tuple[ModelFile, ModelFile] | None,
        ocr: Callable[[bytes], str] | None, actors: int, gate: Any,
    ) -> None:
        from enrich.cache import EnrichCache
        from enrich.engines import EnrichModels
        from folio.llm import default_threads

        pipe: Pipeline = pickle.loads(pipe_bytes)
        # Ray sets OMP_NUM_THREADS but llama.cpp takes its thread count as a parameter and
        # would otherwise use every core of the node: share the node between the actors.
        threads = pipe.models.threads or max(1, default_threads() // actors)
        limits = {"max_items": None, "max_seconds": None}  # the gate and the job's end apply them
        self.pipe = pipe.model_copy(update={
            "models": pipe.models.model_copy(update={"threads": threads}),
            "enrich": pipe.enrich.model_copy(update=limits),
        })
        self.models = EnrichModels(self.pipe.models, llm_file, vlm_files, ocr=ocr)
        self.cache = EnrichCache(None)
        self.gate = gate
        self.load_error: str | None = None
        try:  # once per actor, before the first item: a load never counts against an item's time
            self._load()
        except Exception as e:  # every document then fails with it (never an actor restart loop)
            self.load_error = f"loading the enrichment models failed: {type(e).__name__}: {e}"

    def _load(self) -> None:
        from enrich.captions import choose_path
        from pipeline.enrichment import needs_llm

        cfg = self.pipe.enrich
        if self.models.llm_file is not None and needs_llm(cfg, self.pipe.models):
            self.models.llm()
        if cfg.captions and choose_path(cfg, self.models) == "vlm":
            self.models.vlm()

    def _go(self) -> bool:
        import ray

        return bool(ray.get(self.gate.take.remote()))

    def enrich(self, job: Job) -> Enriched:
        """Never raises: an error is the document's."""
        from enrich.stage import EnrichStats, enrich_elements

        t0 = time.time()
        done = Enriched(node=socket.gethostname())
        try:
            if self.load_error:
                raise RuntimeError(self.load_error)
            for entry in job.seeds:
                self.cache.put(*entry)
            with tempfile.TemporaryDirectory(prefix="folio-enrich-") as tmp:
                # The pictures where the stage looks for them: <index>/assets of this actor.
                pipe = self.pipe.model_copy(update={"index": Path(tmp)})
                save_assets(pipe, job.pictures)
                end = None if job.end is None else time.monotonic() + (job.end - time.time())
                stats = EnrichStats()
                self.cache.journal = []
                try:
                    done.elements, done.complete = enrich_elements(
                        job.elements, pipe, self.models, self.cache, end, stats=stats, stop=lambda: not self._go(),
                    )
                finally:
                    done.entries = [entry for op, entry in self.cache.journal if op == "put"]
                    self.cache.journal = None
                done.stats = stats
        except Exception as e:
            log.warning("enriching %s failed", job.source, exc_info=True)
            done.error = f"{type(e).__name__}: {e}"
        done.seconds = time.time() - t0
        return done


def pictures(pipe: Pipeline, blobs: Blobs, elements: list[Element]) -> dict[str, bytes]:
    """The picture files of ``elements``: this machine's assets folder, else the object
    store beside a remote index. A missing one is left out (the stage skips it, noted)."""
    out: dict[str, bytes] = {}
    for el in elements:
        rel = el.image
        if el.kind != "image" or not rel or rel in out or ".." in rel.split("/"):
            continue
        path = pipe.assets_dir / rel
        data = path.read_bytes() if path.is_file() else blobs.read(f"assets/{rel}") if pipe.remote else None
        if data is not None:
            out[rel] = data
    return out


def backfill(ctx: RunContext, tasks: list[Task]) -> Generator[tuple[Task, EnrichFn], None, None]:
    """Phase 2 of ``tasks`` on the actor pool: each document as an actor (or the cache)
    finished it, with what was made of it; the caller commits it before the next comes
    (pipeline/phases.enrich_one)."""
    import ray

    from folio.storage import blobs_for

    if not tasks:
        return
    pipe, enrichment = ctx.pipe, ctx.enrichment
    blobs = blobs_for(pipe.location, pipe.store_options())
    end, items = enrichment.limits(ctx.deadline)
    queue = deque(tasks)
    running: dict[Any, tuple[Task, int]] = {}  # call -> (task, actor)
    actors: list[Any] = []
    gate: Any = None
    stop_key: str | None = None
    stopped_at = 0.0
    try:
        while running or (queue and stop_key is None):
            key = ctx.stop_reason()
            if key is not None and stop_key is None:
                stop_key, stopped_at = key, time.time()
                if gate is not None:
                    gate.stop.remote()  # the actors finish their current item, start none
            if stop_key is not None and running and time.time() - stopped_at > STOP_GRACE_S:
                ctx.note(f"{len(running)} documents still on Ray actors {STOP_GRACE_S:g} s after the stop: "
                             "left for the next run")
                queue.extendleft(task for task, _ in reversed(list(running.values())))
                break
            while queue and stop_key is None and len(running) < PER_ACTOR * pipe.run.enrich_actors:
                task = queue.popleft()
                # No model item can start (item limit 0, enrich.max_seconds over): the cache alone
                hopeless = items == 0 or (end is not None and time.time() >= end)
                job: Job | Made | Enriched | None
                try:
                    job = _job(ctx, task, blobs, end, send=not hopeless)
                except Exception as e:  # noted by the caller (phases.enrich_one) as this document's failure
                    job = Enriched(error=f"reading it for an actor: {type(e).__name__}: {e}")
                if isinstance(job, Enriched):
                    yield task, _made(job)
                    continue
                if not isinstance(job, Job):
                    yield task, _returns(job)  # done here: the cache had it all (or nothing to do)
                    continue
                if not actors:
                    gate, actors = _pool(ctx, items)
                load = [sum(1 for _, a in running.values() if a == i) for i in range(len(actors))]
                i = load.index(min(load))
                running[actors[i].enrich.remote(job)] = (task, i)
            if not running:
                continue
            # a timeout, so that a SIGTERM or the deadline is seen during a long document
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                task, _ = running.pop(ref)
                try:
                    done: Enriched = ray.get(ref)
                except Exception as e:  # the actor could not be restarted
                    done = Enriched(error=f"{type(e).__name__}: {e}")
                if done.entries:
                    enrichment.remember(done.entries)  # before the commit: paid for either way
                if done.stats is not None:
                    enrichment.account(done.stats)
                yield task, _made(done)
    finally:
        for actor in actors:
            ray.kill(actor)
        if gate is not None:
            ray.kill(gate)
    if stop_key is not None and queue:
        ctx.stop_enrich(list(queue), stop_key)


def _pool(ctx: RunContext, items: int | None) -> tuple[Any, list[Any]]:
    """The gate and the actors (created at the first document that needs a model)."""
    import ray

    from pipeline.engines.ray.watch import first_task
    from pipeline.engines.ray.workers import init_ray

    pipe, enrichment = ctx.pipe, ctx.enrichment
    init_ray(pipe.run.ray_address, pipe.run.workers)
    # A cluster whose workers cannot start fails the run here (RayUnavailable) instead of
    # leaving the actors pending for ever; a signal is seen by the caller's loop next.
    first_task(pipe.run.ray_deadline_s, ENRICH_ACTOR_CPUS, lambda: bool(ctx.stop))
    gate = ray.remote(num_cpus=0)(Gate).remote(items)
    cls = ray.remote(EnrichActor).options(num_cpus=ENRICH_ACTOR_CPUS, max_restarts=-1, max_task_retries=-1)
    pipe_bytes = pickle.dumps(pipe)
    actors = [
        cls.remote(pipe_bytes, enrichment.llm_file, enrichment.vlm_files, ctx.opts.ocr, pipe.run.enrich_actors, gate)
        for _ in range(pipe.run.enrich_actors)
    ]
    return gate, actors


Made = tuple["list[Element]", bool, "EnrichStats"]


def _job(ctx: RunContext, task: Task, blobs: Blobs, end: float | None, send: bool) -> Job | Made | None:
    """A Job when the document has items the cache does not hold (and ``send``); else what
    the cache made of it, or None when backfill_document has nothing to enrich (it sees why
    itself)."""
    store = ctx.store(writable=True)
    source = task.entry.source
    rec = store.documents().get(source)
    if rec is None or rec.status != "partial":
        return None
    elements = stored_elements(store, source, rec.sha256)
    if not elements:
        return None
    out, complete, stats, seeds = ctx.enrichment.cached(elements)
    if complete or not send:
        return out, complete, stats
    return Job(source, elements, pictures(ctx.pipe, blobs, elements), seeds, end)


def _returns(made: Made | None) -> EnrichFn:
    def enrich(els: list[Element]) -> Made:
        if made is None:
            raise RuntimeError("nothing to enrich")  # not reached: backfill_document returned before
        return made

    return enrich


def _made(done: Enriched) -> EnrichFn:
    def enrich(els: list[Element]) -> Made:
        if done.error is not None or done.stats is None:
            raise RuntimeError(f"on a Ray worker: {done.error}")
        return done.elements, done.complete, done.stats

    return enrich
