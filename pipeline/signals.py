"""SIGTERM / SIGINT: finish the current document, then stop the run cleanly.

A second signal of the same kind falls back to the default behaviour, so an impatient
Ctrl-C twice still ends the process (the store survives that; the next run repairs).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)


class StopFlag:
    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._old: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signal_name is not None:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        self.signal_name = name
        log.warning(
            "%s received: stopping after the current document (its enrichment is cut short, "
            "a later run finishes it; send again to abort)",
            name,
        )

    def __enter__(self) -> StopFlag:
        # Handlers can only be installed from the main thread (tests may call from others).
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
