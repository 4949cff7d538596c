"""Page extraction over page ranges, in this process or in forked worker processes.

Worker count, in order of precedence: ``set_workers(n)`` (the pipeline passes
RunSettings.workers), the ``FOLIO_PDF_WORKERS`` environment variable, then 2. Documents
shorter than ``POOL_MIN_PAGES`` run in-process (a pool costs more than it saves there).

Each worker opens the document itself and returns picklable PageRecords for its pages;
a page record does not depend on which process made it, so the output is identical for
any worker count. Workers die with their parent (PR_SET_PDEATHSIG), so the per-document
timeout that kills the partitioner also ends its workers.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from folio.errors import DocumentError
from partition.context import PartitionContext
from partition.pdf.opener import open_pdf
from partition.pdf.page import extract_page
from partition.pdf.records import PageRecord

log = logging.getLogger(__name__)

ENV_WORKERS = "FOLIO_PDF_WORKERS"
DEFAULT_WORKERS = 2
POOL_MIN_PAGES = 16  # measured: below this a pool costs more CPU and wall time than it saves
MAX_CHUNK_PAGES = 12  # pages per task: small enough to balance, big enough to amortize

_workers: int | None = None


def set_workers(n: int | None) -> None:
    """Worker processes per PDF (None: back to the environment / default)."""
    global _workers
    if n is not None and n < 1:
        raise ValueError("workers must be >= 1")
    _workers = n


def worker_count() -> int:
    if _workers is not None:
        return _workers
    raw = os.environ.get(ENV_WORKERS, "")
    try:
        return max(1, int(raw)) if raw else DEFAULT_WORKERS
    except ValueError:
        log.warning("%s=%r is not a number; using %d", ENV_WORKERS, raw, DEFAULT_WORKERS)
        return DEFAULT_WORKERS


def extract_pages(ctx: PartitionContext, doc: Any) -> list[PageRecord]:
    """Records of every page, in page order."""
    pages = doc.page_count
    n = worker_count()
    if n <= 1 or pages < POOL_MIN_PAGES or mp.current_process().daemon:
        return list(_extract_range(doc, ctx, 0, pages))
    # About three tasks per worker on short documents (load balance), capped for long ones.
    chunk = max(1, min(MAX_CHUNK_PAGES, -(-pages // (3 * n))))
    ranges = [(s, min(s + chunk, pages)) for s in range(0, pages, chunk)]
    n = min(n, len(ranges))
    # Fork: workers inherit ctx and settings without pickling; each opens its own handle.
    pool = ProcessPoolExecutor(
        max_workers=n, mp_context=mp.get_context("fork"), initializer=_init_worker, initargs=(ctx,)
    )
    try:
        out: list[PageRecord] = []
        for chunk in pool.map(_work, ranges):
            out.extend(chunk)
        return out
    except BrokenProcessPool:
        raise DocumentError(str(ctx.path), "a page worker crashed (malformed page content)") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _extract_range(doc: Any, ctx: PartitionContext, start: int, end: int) -> Iterator[PageRecord]:
    import pymupdf

    for pno in range(start, end):
        try:
            page = doc.load_page(pno)
            yield extract_page(page, ctx)
        except DocumentError:
            raise
        except Exception as e:  # one bad page must not lose the document
            log.warning("%s: page %d skipped: %s: %s", ctx.path, pno + 1, type(e).__name__, e)
            yield PageRecord(page=pno + 1, label=None, width=0.0, height=0.0, error=f"{type(e).__name__}: {e}")
    # Decoded fonts and images stay in MuPDF's store; drop them between ranges so a long
    # document does not grow it to its cap in every process.
    pymupdf.TOOLS.store_shrink(100)


_worker_state: dict[str, Any] = {}


def _init_worker(ctx: PartitionContext) -> None:
    from folio import ocr

    _die_with_parent()
    ocr.set_threads(1)
    _worker_state["ctx"] = ctx
    _worker_state["doc"] = open_pdf(ctx.path, ctx.settings.password)


def _work(span: tuple[int, int]) -> list[PageRecord]:
    return list(_extract_range(_worker_state["doc"], _worker_state["ctx"], span[0], span[1]))


def _die_with_parent() -> None:
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers still end when the pool shuts down
        pass
