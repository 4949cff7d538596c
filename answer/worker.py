"""One model worker thread: every generation of the process runs there, in arrival order.

Why a dedicated thread (issue 19): the answer generator used to hold the model while it
yielded each token, and the streaming routes advanced it one step at a time on the shared
thread pool. Once waiting requests filled the pool, the request holding the model never
got a thread for its next token again and the server hung for good. Here a request never
holds a thread while it waits: it takes a ``Slot`` in a bounded line when it arrives
(refused at once with ``Busy`` when the line is full, so the HTTP front ends can answer
429 before any work), hands its prompt to the worker, and reads the tokens from a queue
(an ``asyncio.Queue`` for the server, a ``queue.Queue`` for the CLI). A request that goes
away cancels its job: a waiting job is skipped, a running one stops at its next token.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
# What a job runs in the worker thread: a generator of the text to show, whose return
# value (the answer path's outcome) is handed back with the last item.
Work = Callable[[], Generator[str, None, Any] | Iterator[str]]
QUEUED_TICK_S = 2.0
Item = tuple[str, Any]  # ("start", None) | ("token", text) | ("end", returned) | ("error", exc)


class Busy(RuntimeError):
    """The line is full, this user has too many questions in flight, or the turn did not
    come in time. ``status`` is the HTTP status (429 or 503), ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int, status: int = 429) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


@dataclass
class Job:
    work: Work
    put: Callable[[Item], None]
    cancelled: threading.Event = field(default_factory=threading.Event)


class Slot:
    """A question's place in the line, from its arrival to its last token. Releasing it
    twice is harmless (front ends release in ``finally`` on every path)."""

    def __init__(self, worker: ModelWorker, owner: str | None) -> None:
        self.worker, self.owner = worker, owner
        self.released = False

    def release(self) -> None:
        self.worker._release(self)

    def __del__(self) -> None:
        # A safety net: a streamed response whose body never started (the client left
        # between the 429 check and the first byte) drops its generator unstarted, and
        # with it the only reference to this slot.
        if not self.released:
            self.release()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class ModelWorker:
    def __init__(self, max_line: int, per_user: int = 0, wait_timeout: float = 300.0) -> None:
        self.max_line = max_line  # questions admitted at once (one generating, the rest waiting)
        self.per_user = per_user  # 0: no per-user limit
        self.wait_timeout = wait_timeout
        self._cv = threading.Condition()
        self._jobs: collections.deque[Job] = collections.deque()
        self._admitted = 0
        self._by_owner: dict[str, int] = collections.Counter()
        self._avg_s = 5.0  # moving average of one generation, for Retry-After
        self._closed = False
        self._thread: threading.Thread | None = None

    # ---- the line -----------------------------------------------------------------------

    def admit(self, owner: str | None = None) -> Slot:
        """A place in the line, or ``Busy`` at once (nothing waits here)."""
        with self._cv:
            if self._admitted >= self.max_line:
                raise Busy(f"{self._admitted} questions are already in line; try again shortly",
                           self.retry_after())
            if owner is not None and self.per_user and self._by_owner[owner] >= self.per_user:
                raise Busy(f"user {owner!r} already has {self.per_user} question(s) in flight; "
                           "wait for an answer first", self.retry_after())
            self._admitted += 1
            if owner is not None:
                self._by_owner[owner] += 1
            return Slot(self, owner)

    def _release(self, slot: Slot) -> None:
        with self._cv:
            if slot.released:
                return
            slot.released = True
            self._admitted -= 1
            if slot.owner is not None:
                self._by_owner[slot.owner] -= 1
                if self._by_owner[slot.owner] <= 0:
                    del self._by_owner[slot.owner]

    def in_line(self) -> int:
        with self._cv:
            return self._admitted

    def retry_after(self) -> int:
        # One slot frees when the running generation ends: about one average generation.
        return max(1, min(120, math.ceil(self._avg_s)))

    def ahead(self, job: Job) -> int:
        with self._cv:
            try:
                return self._jobs.index(job) + (1 if self._running else 0)
            except ValueError:
                return 0

    # ---- generation ---------------------------------------------------------------------

    def submit(self, work: Work, put: Callable[[Item], None]) -> Job:
        job = Job(work, put)
        with self._cv:
            if self._closed:
                raise Busy("the server is shutting down", 5, 503)
            self._jobs.append(job)
            self._start()
            self._cv.notify_all()
        return job

    def cancel(self, job: Job) -> None:
        """Leave the line (waiting) or stop at the next token (running)."""
        job.cancelled.set()
        with self._cv, contextlib.suppress(ValueError):
            self._jobs.remove(job)

    async def generate(self, work: Work) -> AsyncGenerator[Item, None]:
        """("queued", n ahead) while waiting, then ("token", text)..., then ("result", what
        ``work`` returned); the caller's cancellation (a client that went away) cancels the job."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[Item] = asyncio.Queue()

        def put(item: Item) -> None:
            try:
                loop.call_soon_threadsafe(q.put_nowait, item)
            except RuntimeError:  # the loop is gone (shutdown): nobody reads this job
                job.cancelled.set()

        job = self.submit(work, put)
        try:
            ahead = self.ahead(job)
            if ahead:
                yield ("queued", ahead)
            deadline = time.monotonic() + self.wait_timeout
            while True:
                # A fresh "queued" every few seconds: the line's position for the reader,
                # and a chance for a front end that only notices a gone client when it
                # yields (Gradio) to close us, which takes the job out of the line.
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Busy(f"no turn for the model within {self.wait_timeout:.0f} s; try again later",
                               self.retry_after(), 503)
                try:
                    item = await asyncio.wait_for(q.get(), min(left, QUEUED_TICK_S))
                    break
                except TimeoutError:
                    yield ("queued", max(1, self.ahead(job)))
            while True:
                out = _relay(item)
                if out is not None:
                    yield out
                if out is not None and out[0] == "result":
                    return
                item = await q.get()
        finally:
            self.cancel(job)

    def generate_sync(self, work: Work) -> Iterator[Item]:
        """The same for a caller with no event loop (the CLI, tests)."""
        q: queue.Queue[Item] = queue.Queue()
        job = self.submit(work, q.put)
        try:
            ahead = self.ahead(job)
            if ahead:
                yield ("queued", ahead)
            try:
                item = q.get(timeout=self.wait_timeout)
            except queue.Empty:
                raise Busy(f"no turn for the model within {self.wait_timeout:.0f} s", self.retry_after(),
                           503) from None
            while True:
                out = _relay(item)
                if out is not None:
                    yield out
                if out is not None and out[0] == "result":
                    return
                item = q.get()
        finally:
            self.cancel(job)

    # ---- the worker thread --------------------------------------------------------------

    _running: Job | None = None

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            # Started on first use: nothing runs at import or when an engine is built for a test.
            self._thread = threading.Thread(target=self._loop, name="folio-model-worker", daemon=True)
            self._thread.start()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for job in self._jobs:
                job.cancelled.set()
                job.put(("error", Busy("the server is shutting down", 5, 503)))
            self._jobs.clear()
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._jobs and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                job = self._jobs.popleft()
                self._running = job
            try:
                if not job.cancelled.is_set():
                    self._run(job)
            finally:
                with self._cv:
                    self._running = None

    def _run(self, job: Job) -> None:
        t0 = time.perf_counter()
        job.put(("start", None))
        try:
            it = job.work()
            returned = None
            try:
                while True:
                    try:
                        piece = next(it)
                    except StopIteration as stop:
                        returned = stop.value
                        break
                    if job.cancelled.is_set():
                        log.debug("generation stopped: its client went away")
                        break
                    job.put(("token", piece))
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()  # releases the model at once (LocalLLM.stream holds it while open)
            job.put(("end", returned))
        except Exception as e:  # the request reports it; the worker goes on with the next job
            log.warning("generation failed: %s", e)
            job.put(("error", e))
        self._avg_s = 0.8 * self._avg_s + 0.2 * (time.perf_counter() - t0)


def _relay(item: Item) -> Item | None:
    """What a waiting caller passes on for one worker item: a token as it is, the end as
    ("result", value); an error is raised in the caller; anything else is not shown."""
    kind, data = item
    if kind == "token":
        return item
    if kind == "error":
        raise data
    if kind == "end":
        return ("result", data)
    return None
