"""``run.engine = "ray"``: phase 1's partitioning and embedding on a Ray cluster (Ray Data).

The driver plans exactly as with the local engine (pipeline/plan.py: hashes, fingerprint,
deletions) and alone commits (pipeline/engines/ray/engine.py). The documents to partition become
a dataset that streams through two stages:

- partition: one Ray task per document (``map``), the same isolated partitioner as the
  local engine (a child process with the pipeline's time limit), then the elements'
  content hashes (they read the crops, which are on this node);
- index: an actor pool (``map_batches`` with ``ActorPoolStrategy``) whose actors load
  the embedder once, with an explicit thread count (Ray sets OMP_NUM_THREADS to the
  actor's CPUs, and onnxruntime would otherwise spin as many threads as cores). An actor
  does what the local engine does next (pipeline/document.py: the enrichment cache, a
  copy of the driver's, and the document's review overlays applied; chunks; vectors) and
  writes the document's rows as Lance data files without committing them
  (index/fragments.py).

What comes back to the driver (``iter_rows``, in completion order) is each document's
fragment metadata, its row counts, the numbers for its documents row and its pictures,
or the reason it failed: a failing document never aborts the dataset, it is caught per
row and recorded like with the local engine. Ray retries a task or an actor call lost
with its node; a retried document's fragments are committed once, when its row reaches
the driver (the first attempt's files are never named by a table version).
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
    from enrich.stage import EnrichStats
    from folio.element import Element
    from index.fragments import Target, Written
    from pipeline.enrichment import WorkerSpec

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]  # the checkout: pipeline/engines/ray/ is three below
_STARTED = False  # whether init_ray started Ray (and shutdown() should stop it)
# CPU shares. Embedding is most of a plain run's work (a 10-K here: 2 s to partition, 18 s
# to embed its 1,625 chunks on one thread), so the index actors get most of the CPU: one
# actor (one thread) per cluster CPU by default, at 0.75 CPU each, and partition tasks
# (one process each) fit in the rest. The two add up to one CPU so that a node with a
# single CPU left still runs one of each: with 1 + 0.5, a pool actor restarted on the last
# 1-CPU node after another node died left no room for any partition task, and the run
# hung (tests/test_ray_engine.py, node loss).
PARTITION_CPUS = 0.25
INDEX_ACTOR_CPUS = 0.75


@dataclass
class Prepared:
    """What workers made of one document (pickled through Ray as bytes)."""

    source: str = ""
    elements: list[Element] = field(default_factory=list)  # dropped once written
    assets: dict[str, bytes] = field(default_factory=dict)  # path under assets_dir -> bytes
    sha256: str = ""
    error: str | None = None
    document_error: bool = False  # a DocumentError (bad input), not a bug
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # seconds by stage: partition, index
    node: str = ""
    # set by the index stage
    write_id: str = ""
    written: Written | None = None  # its fragments and row counts
    pages: int = 0
    n_elements: int = 0
    n_chunks: int = 0
    complete: bool = True
    stats: EnrichStats | None = None
    hashes: dict[str, str] = field(default_factory=dict)  # content hash -> element id


def init_ray(address: str | None, num_cpus: int | None = None) -> None:
    """Connect to a cluster (``address``) or start a local one; workers import Folio from
    this checkout (the same path on every node, or a shared filesystem). Raises
    RayUnavailable (pipeline/engines/ray/watch.py) when Ray refuses.

    Authentication is Ray's own, end to end; Folio sets none of it. A local cluster:
    ray.init turns on token authentication unless RAY_AUTH_MODE says otherwise, writes
    the token (~/.ray/auth_token) if there is none, and sets RAY_AUTH_MODE in this
    process's environment before it starts the GCS and the raylet, whose workers inherit
    both. Overriding RAY_AUTH_MODE in the runtime env alone (as this did) split that:
    workers without the token died before they registered and the run waited for ever.
    A cluster at ``address`` has its own mode, which its workers inherit from its raylets;
    this driver passes its token with Ray's variables (RAY_AUTH_MODE=token and
    RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token; README, the Ray engine)."""
    import ray

    from pipeline.engines.ray.watch import RayUnavailable

    global _STARTED
    if ray.is_initialized():
        return
    _STARTED = True
    kw: dict[str, Any] = {"runtime_env": {"env_vars": {"PYTHONPATH": str(REPO)}}, "log_to_driver": False}
    with keep_signal_handlers():
        try:
            if address:
                ray.init(address=address, **kw)
            else:
                # address="local": always a new cluster in this process; without it ray.init joins
                # any cluster already running on this machine and then refuses num_cpus.
                ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **kw)
        except Exception as e:  # Ray's own message says what; the hint says what to check
            raise RayUnavailable(_init_failed(address, e)) from e


def _init_failed(address: str | None, e: Exception) -> str:
    what = f"{type(e).__name__}: {e}".strip()
    if not address:
        return (f"could not start a local Ray cluster: {what} (a local cluster uses token "
                "authentication: Ray writes ~/.ray/auth_token unless RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH "
                "names a token, or RAY_AUTH_MODE=disabled turns it off for the whole cluster)")
    mode = os.environ.get("RAY_AUTH_MODE")
    hint = ("this driver uses token authentication (RAY_AUTH_MODE=token): its token, from RAY_AUTH_TOKEN, "
            "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, must be the cluster's"
            if mode == "token" else
            f"this driver does not authenticate (RAY_AUTH_MODE is {mode or 'not set'}); a cluster "
            "with token authentication (`ray start --head` turns it on when a token exists, e.g. "
            "~/.ray/auth_token) needs RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN, "
            "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token")
    return f"could not connect to the Ray cluster at {address}: {what} ({hint})"


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


def cluster_cpus() -> int:
    """The CPUs of the connected cluster (the default size of the index actor pool)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def shutdown() -> None:
    """Stop the Ray connection (or local cluster) this run started; one made by the caller stays."""
    global _STARTED
    if _STARTED:
        import ray

        ray.shutdown()
        _STARTED = False


def _partition_row(row: dict[str, Any]) -> dict[str, Any]:
    """Ray task: partition one document. Never raises: the error is the row's."""
    import socket

    from folio.errors import DocumentError
    from folio.review import stamp_content_hashes
    from pipeline.stages import file_sha256, partition_isolated
    from pipeline.walk import fetch

    t0 = time.time()
    task: Task = pickle.loads(row["task"])
    pipe: Pipeline = pickle.loads(row["pipe"])
    # One process per document: the cluster runs documents side by side (PARTITION_CPUS);
    # the local engine's page pool (run.workers) would put two processes in each task.
    pipe = pipe.model_copy(update={"run": pipe.run.model_copy(update={"workers": 1})})
    prepared = Prepared(source=task.entry.source, node=socket.gethostname())
    try:
        fetch(task.entry, pipe.storage_options)
        prepared.sha256 = task.sha256 or file_sha256(task.entry.path)
        # content hashes now: they read the crops, which are on this node
        prepared.elements = stamp_content_hashes(partition_isolated(task, prepared.sha256, pipe), pipe.assets_dir)
        folder = pipe.assets_dir / prepared.sha256[:16]
        if folder.is_dir():
            prepared.assets = {p.relative_to(pipe.assets_dir).as_posix(): p.read_bytes()
                               for p in sorted(folder.rglob("*")) if p.is_file()}
    except DocumentError as e:
        prepared.error, prepared.document_error = e.reason, True
    except Exception as e:  # a bug or library failure on this document: the driver records it
        prepared.error = f"indexing failed: {type(e).__name__}: {e}"
    prepared.seconds = prepared.stages["partition"] = time.time() - t0
    return {"i": row["i"], "overlays": row["overlays"], "prepared": pickle.dumps(prepared)}


class IndexActor:
    """Ray actor: the embedder, loaded once per actor with an explicit thread count, and a
    copy of the driver's enrichment cache; writes each document's rows as fragments."""

    def __init__(self, pipe_bytes: bytes, factory: Any, threads: int, spec_bytes: bytes,
                 targets: dict[str, Target], storage_options: dict[str, str] | None,
                 own_credentials: bool = False) -> None:
        from folio.storage import resolve_options
        from pipeline.enrichment import Enrichment

        pipe: Pipeline = pickle.loads(pipe_bytes)
        embed = pipe.embed.model_copy(update={"threads": threads})
        self.pipe = pipe.model_copy(update={"embed": embed})
        self.embedder = factory(self.pipe)
        spec: WorkerSpec = pickle.loads(spec_bytes)
        self.enrichment = Enrichment(self.pipe, worker=spec)
        self.targets = targets
        # run.worker_credentials = "environment": the driver sent no secret; this node's
        # environment gives them (or, with none there, Lance's chain: an instance role).
        own = own_credentials and storage_options is not None
        self.storage_options = resolve_options(storage_options) if own else storage_options
        self.model = self.embedder.model_id

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = []
        for prepared_bytes, overlays in zip(batch["prepared"], batch["overlays"], strict=True):
            prepared: Prepared = pickle.loads(prepared_bytes)
            if not prepared.error:
                try:
                    self._write(prepared, pickle.loads(overlays))
                except Exception as e:
                    prepared.error = f"indexing failed: {type(e).__name__}: {e}"
            prepared.elements = []  # the rows are in the fragments now
            out.append(pickle.dumps(prepared))
        return {"i": list(batch["i"]), "prepared": out}

    def _write(self, prepared: Prepared, overlays: dict[str, Any]) -> None:
        import uuid

        from index.fragments import write_document
        from index.profile import build_profile
        from index.rows import document_tables
        from pipeline.document import make_ready
        from review.step import content_hashes

        t0 = time.time()
        emb = self.embedder
        max_tokens = self.pipe.chunk.max_tokens or emb.max_tokens
        ready = make_ready(prepared.elements, self.enrichment, overlays, emb, max_tokens)
        els = ready.elements
        profile = build_profile(els)
        prepared.write_id = uuid.uuid4().hex
        tables = document_tables(
            prepared.source, prepared.sha256[:16], prepared.write_id, els, ready.chunks, ready.vectors,
            profile.to_dict() if profile else None, {n: t.schema for n, t in self.targets.items()}, self.model,
        )
        prepared.written = write_document(tables, self.targets, self.storage_options)
        prepared.pages = len({e.page for e in els if e.page is not None})
        prepared.n_elements, prepared.n_chunks = len(els), len(ready.chunks)
        prepared.complete, prepared.stats, prepared.hashes = ready.complete, ready.stats, content_hashes(els)
        prepared.stages["index"] = time.time() - t0
        prepared.seconds += prepared.stages["index"]


def prepare(
    tasks: list[Task],
    pipe: Pipeline,
    embedder_factory: Any,
    overlays: list[dict[str, Any]],
    spec: WorkerSpec,
    targets: dict[str, Target],
    storage_options: dict[str, str] | None = None,
    embed_actors: int | None = None,
    embed_threads: int = 1,
    own_credentials: bool = False,
) -> Iterator[tuple[int, Prepared]]:
    """(index into ``tasks``, what the workers made of it), in completion order.
    ``embedder_factory``: Pipeline -> embedder (a picklable function:
    RunOptions.embedder_factory); ``overlays``: each task's review overlays by content
    hash; ``spec``: the driver's model ids and enrichment cache; ``targets``: the tables
    the fragments are written for, with the driver's ``storage_options`` (its environment's
    credentials and the pipeline's options: the workers write where the driver commits);
    ``own_credentials`` (run.worker_credentials = "environment"): the options go without
    their credentials, and each worker takes its own environment's.
    The dataset is made here, in the caller's thread; it runs as its rows are pulled
    (pipeline/engines/ray/watch.watched pulls them on a thread of its own)."""
    import ray
    from ray.data import ActorPoolStrategy

    from folio.storage import without_secrets

    if not tasks:
        return iter(())
    pipe_bytes = pickle.dumps(pipe)
    rows = [{"i": i, "task": pickle.dumps(t), "pipe": pipe_bytes, "overlays": pickle.dumps(o)}
            for i, (t, o) in enumerate(zip(tasks, overlays, strict=True))]
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = False
    ds: Any = ray.data.from_items(rows, override_num_blocks=len(rows))
    ds = ds.map(_partition_row, num_cpus=PARTITION_CPUS)
    ds = ds.map_batches(
        IndexActor,
        fn_constructor_kwargs={"pipe_bytes": pipe_bytes, "factory": embedder_factory,  # cloudpickled by Ray
                               "threads": embed_threads, "spec_bytes": pickle.dumps(spec), "targets": targets,
                               "storage_options": without_secrets(storage_options) if own_credentials
                               else storage_options, "own_credentials": own_credentials},
        # Ray Data restarts a lost actor and retries its batch by itself (max_restarts=-1).
        compute=ActorPoolStrategy(size=embed_actors or cluster_cpus()), batch_size=1, num_cpus=INDEX_ACTOR_CPUS,
    )
    return _rows(ds)


def _rows(ds: Any) -> Generator[tuple[int, Prepared], None, None]:
    for row in ds.iter_rows():
        yield int(row["i"]), pickle.loads(row["prepared"])
