"""The runner's calls into the stages below it: partition, embed, store.

Each imports its heavy module inside the function, so a run that needs none of them
never pays for the import. Tests replace ``partition_isolated`` and the embedder factory.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from folio.config import Pipeline
from pipeline.plan import Task

if TYPE_CHECKING:
    import numpy as np

    from folio.element import Element
    from index.store import Store

PartitionFn = Callable[[Task, str, Pipeline], "list[Element]"]


class TextEmbedder(Protocol):
    """What the runner needs of index.embed.Embedder (tests pass a fake)."""

    model_id: str
    dim: int
    max_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...
    def embed(self, texts: list[str]) -> np.ndarray: ...


def file_sha256(path: Path) -> str:
    from partition.context import file_sha256 as sha

    return sha(path)


def partition_isolated(task: Task, sha: str, pipe: Pipeline) -> list[Element]:
    """Partition one document in a child process with the pipeline's time limit."""
    # The forked partitioner reads this for its PDF page pool (partition/pdf/pool.py);
    # an env var rather than set_workers() so the parent never imports the PDF stack.
    os.environ["FOLIO_PDF_WORKERS"] = str(pipe.run.workers)
    with warnings.catch_warnings():
        # LanceDB warns on every fork; the child only runs the partitioner and never
        # touches LanceDB state, so the warning is noise in cron mail.
        warnings.filterwarnings("ignore", message="lancedb fork support", category=RuntimeWarning)
        return _run_partition(task, sha, pipe)


def _run_partition(task: Task, sha: str, pipe: Pipeline) -> list[Element]:
    from partition import partition_file
    from partition.isolate import run_isolated

    args = (task.entry.path, pipe.partition, pipe.assets_dir, task.entry.source, sha)
    return run_isolated(partition_file, args, pipe.run.timeout_s, task.entry.source, work_dir(pipe))


def work_dir(pipe: Pipeline) -> Path:
    """Scratch files of a run (partition result pickles) live under the index: something
    on these machines cleans /tmp/folio-* behind running jobs."""
    path = Path(pipe.index) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_embedder(pipe: Pipeline) -> TextEmbedder:
    from index.embed import load_embedder

    return load_embedder(pipe.embed)


def open_store(pipe: Pipeline, dim: int | None, embed_model: str | None = None) -> Store:
    from index.store import open_index

    return open_index(pipe, dim, embed_model)
