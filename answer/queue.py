"""One LLM per process, served first come, first served.

``threading.Lock`` makes no promise of order, so under load one request could wait while
later ones overtake it. Tickets make the order explicit and tell a waiting request how
many are ahead of it (the app shows it). Retrieval happens before a request takes a
ticket, so a queued question is ready to generate the moment its turn comes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class QueueFull(RuntimeError):
    """More requests are waiting than the server accepts (HTTP 503)."""


class FairQueue:
    def __init__(self, max_waiting: int = 64) -> None:
        self._cv = threading.Condition()
        self._next = 0  # next ticket to hand out
        self._serving = 0  # ticket whose turn it is
        self._abandoned: set[int] = set()
        self.max_waiting = max_waiting

    def waiting(self) -> int:
        with self._cv:
            return self._next - self._serving

    def take(self) -> int:
        with self._cv:
            if self._next - self._serving >= self.max_waiting:
                raise QueueFull(f"{self.max_waiting} questions are already waiting; try again shortly")
            t = self._next
            self._next += 1
            return t

    def ahead(self, ticket: int) -> int:
        with self._cv:
            return max(0, ticket - self._serving)

    def wait(self, ticket: int, timeout: float | None = None) -> bool:
        """Block until ``ticket`` is served; False on timeout (the ticket stays valid)."""
        with self._cv:
            return self._cv.wait_for(lambda: self._serving == ticket, timeout)

    def done(self, ticket: int) -> None:
        with self._cv:
            if ticket == self._serving:
                self._serving += 1
                # Tickets given up while waiting are skipped when their turn comes.
                while self._serving in self._abandoned:
                    self._abandoned.discard(self._serving)
                    self._serving += 1
            elif ticket > self._serving:
                self._abandoned.add(ticket)
            self._cv.notify_all()

    @contextmanager
    def turn(self) -> Iterator[None]:
        t = self.take()
        try:
            self.wait(t)
            yield
        finally:
            self.done(t)
