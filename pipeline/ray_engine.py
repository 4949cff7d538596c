"""``run.engine = "ray"``: phase 1's partitioning and embedding on a Ray cluster (Ray Data).

The driver plans exactly as with the local engine (pipeline/plan.py: hashes, fingerprint,
deletions) and alone commits. The documents to partition become a dataset that streams
through two stages:

- partition: one Ray task per document (``map``), the same isolated partitioner as the
  local engine (a child process with the pipeline's time limit), then sanitize + chunk;
- embed: an actor pool (``map_batches`` with ``ActorPoolStrategy``) whose actors load
  the embedder once, with an explicit thread count (Ray sets OMP_NUM_THREADS to the
  actor's CPUs, and onnxruntime would otherwise spin as many threads as cores).

Each row comes back to the driver (``iter_rows``, in completion order) with the
document's elements, its chunk texts with their vectors and its picture files, or the
reason it failed: a failing document never aborts the dataset, it is caught per row and
recorded like with the local engine. The driver then applies the enrichment cache, chunks
(re-embedding only a chunk whose text the cache changed) and commits through the same
protocol as the local engine, once per document: Ray retries a task or an actor call
lost with its node, and a retried row is still committed only when it reaches the driver.

This first version returns rows to the driver instead of having workers write Lance data
files (``lance.fragment.write_fragments``): simpler, and commits stay one per document.
Enrichment (phase 2) runs on the driver.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from folio.config import Pipeline
from pipeline.plan import Task

if TYPE_CHECKING:
    from folio.element import Element

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
_STARTED = False  # whether init_ray started Ray (and shutdown() should stop it)


@dataclass
class Prepared:
    """What a worker made of one document (pickled through Ray as bytes)."""

    elements: list[Element] = field(default_factory=list)
    vectors: dict[str, Any] = field(default_factory=dict)  # chunk text -> vector
    assets: dict[str, bytes] = field(default_factory=dict)  # path under assets_dir -> bytes
    sha256: str = ""
    error: str | None = None
    document_error: bool = False  # a DocumentError (bad input), not a bug
    seconds: float = 0.0
    node: str = ""


def init_ray(address: str | None, num_cpus: int | None = None) -> None:
    """Connect to a cluster (``address``) or start a local one; workers import Folio from
    this checkout (the same path on every node, or a shared filesystem)."""
    import ray

    global _STARTED
    if ray.is_initialized():
        return
    _STARTED = True
    env = {"PYTHONPATH": str(REPO), "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    kw: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False}
    with keep_signal_handlers():
        if address:
            ray.init(address=address, **kw)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kw)


@contextlib.contextmanager
def keep_signal_handlers() -> Iterator[None]:
    """ray.init installs its own SIGTERM handler (it exits the process); the run's handler
    (pipeline/signals.py: finish the document, then stop cleanly) must stay in charge."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


def shutdown() -> None:
    """Stop the Ray connection (or local cluster) this run started; one made by the caller stays."""
    global _STARTED
    if _STARTED:
        import ray

        ray.shutdown()
        _STARTED = False


def _partition_row(row: dict[str, Any]) -> dict[str, Any]:
    """Ray task: partition one document and chunk it. Never raises: the error is the row's."""
    import socket

    from folio.errors import DocumentError
    from pipeline.stages import file_sha256, partition_isolated
    from pipeline.walk import fetch

    t0 = time.time()
    task: Task = pickle.loads(row["task"])
    pipe: Pipeline = pickle.loads(row["pipe"])
    prepared = Prepared(node=socket.gethostname())
    try:
        fetch(task.entry, pipe.storage_options)
        prepared.sha256 = task.sha256 or file_sha256(task.entry.path)
        prepared.elements = partition_isolated(task, prepared.sha256, pipe)
        folder = pipe.assets_dir / prepared.sha256[:16]
        if folder.is_dir():
            prepared.assets = {p.relative_to(pipe.assets_dir).as_posix(): p.read_bytes()
                               for p in sorted(folder.rglob("*")) if p.is_file()}
    except DocumentError as e:
        prepared.error, prepared.document_error = e.reason, True
    except Exception as e:  # a bug or library failure on this document: the driver records it
        prepared.error = f"indexing failed: {type(e).__name__}: {e}"
    prepared.seconds = time.time() - t0
    return {"i": row["i"], "prepared": pickle.dumps(prepared)}


class EmbedActor:
    """Ray actor: the embedder, loaded once per actor, with an explicit thread count."""

    def __init__(self, pipe_bytes: bytes, factory: Any, threads: int) -> None:
        pipe: Pipeline = pickle.loads(pipe_bytes)
        embed = pipe.embed.model_copy(update={"threads": threads})
        self.pipe = pipe.model_copy(update={"embed": embed})
        self.embedder = factory(self.pipe)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from enrich.chunk import chunk_elements
        from enrich.tables import sanitize_tables

        out = []
        for prepared_bytes in batch["prepared"]:
            prepared: Prepared = pickle.loads(prepared_bytes)
            if prepared.elements and not prepared.error:
                try:
                    # the chunks the driver will most likely commit (before the enrichment
                    # cache, which the driver applies: it re-embeds what that changes)
                    els = sanitize_tables(list(prepared.elements))
                    limit = self.pipe.chunk.max_tokens or self.embedder.max_tokens
                    texts = [c.text for c in chunk_elements(els, self.embedder.count_tokens, limit)]
                    unique = list(dict.fromkeys(texts))
                    prepared.vectors = dict(zip(unique, self.embedder.embed(unique), strict=True))
                except Exception as e:
                    prepared.error = f"embedding failed: {type(e).__name__}: {e}"
            out.append(pickle.dumps(prepared))
        return {"i": list(batch["i"]), "prepared": out}


def prepare(
    tasks: list[Task],
    pipe: Pipeline,
    embedder_factory: Any,
    embed_actors: int = 1,
    embed_threads: int = 1,
) -> Generator[tuple[int, Prepared], None, None]:
    """(index into ``tasks``, what the workers made of it), in completion order.
    ``embedder_factory``: Pipeline -> embedder (a
    picklable function: RunOptions.embedder_factory)."""
    import ray
    from ray.data import ActorPoolStrategy

    if not tasks:
        return
    pipe_bytes = pickle.dumps(pipe)
    rows = [{"i": i, "task": pickle.dumps(t), "pipe": pipe_bytes} for i, t in enumerate(tasks)]
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = False
    ds: Any = ray.data.from_items(rows, override_num_blocks=len(rows))
    # One CPU per partition task (PyMuPDF is single-threaded; the isolate child is its own
    # process); the embed actors take a fraction so they never starve the partition tasks.
    ds = ds.map(_partition_row, num_cpus=1)
    ds = ds.map_batches(
        EmbedActor,
        fn_constructor_kwargs={"pipe_bytes": pipe_bytes, "factory": embedder_factory,  # cloudpickled by Ray
                               "threads": embed_threads},
        # Ray Data restarts a lost actor and retries its batch by itself (max_restarts=-1).
        compute=ActorPoolStrategy(size=embed_actors), batch_size=1, num_cpus=0.5,
    )
    for row in ds.iter_rows():
        yield int(row["i"]), pickle.loads(row["prepared"])
