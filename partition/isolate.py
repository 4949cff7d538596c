"""Run a partitioner in a child process with a hard time limit.

A malformed file can make a C library spin or crash; the child is killed at the limit
and the parent turns that into a per-document error. The result comes back through a
temporary pickle file, so a big document cannot dead-lock a pipe.

Children come from a fork server, not from a fork of the caller: by the time a run
partitions its second document the caller holds onnxruntime (the embedder) and llama.cpp
(enrichment) thread pools, and a child forked from that state hung for good inside
onnxruntime when it started RapidOCR on a scanned page. The server is a fresh process
with the partition package preloaded, so a child still starts in milliseconds; it gets
the caller's environment at each call.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from folio.errors import DocumentError, DocumentTimeout

T = TypeVar("T")


def _context() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["partition"])  # imported once in the server, not per child
    return ctx


def _child(fn: Callable[..., Any], args: tuple[Any, ...], out: str, env: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)
    try:
        result: tuple[str, Any] = ("ok", fn(*args))
    except BaseException as e:  # everything goes back to the parent
        result = ("error", e if isinstance(e, DocumentError) else RuntimeError(f"{type(e).__name__}: {e}"))
    with open(out, "wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)


def run_isolated(
    fn: Callable[..., T], args: tuple[Any, ...], timeout_s: float, label: str, work_dir: Path | None = None
) -> T:
    """``work_dir``: where the result pickle is written (default: the system temp folder)."""
    ctx = _context()
    fd, out = tempfile.mkstemp(prefix="folio-part-", suffix=".pkl", dir=work_dir)
    os.close(fd)
    try:
        proc = ctx.Process(target=_child, args=(fn, args, out, dict(os.environ)), daemon=False)
        proc.start()
        proc.join(timeout_s)
        if proc.is_alive():
            proc.kill()
            proc.join()
            raise DocumentTimeout(label, f"timed out after {timeout_s:g} s (per-document limit)")
        if proc.exitcode != 0 or Path(out).stat().st_size == 0:
            raise DocumentError(label, f"partitioner crashed (exit code {proc.exitcode})")
        with open(out, "rb") as f:
            status, value = pickle.load(f)
        if status == "error":
            if isinstance(value, DocumentError):
                raise value
            raise DocumentError(label, str(value))
        return value  # type: ignore[no-any-return]
    finally:
        Path(out).unlink(missing_ok=True)
