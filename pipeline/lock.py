"""One run per index at a time: ``<index>/run.lock``.

The kernel lock (``fcntl.lockf``, a POSIX record lock) is the authority: it disappears
when the holder dies, however it dies, so a leftover file from a killed run is simply
taken over. POSIX locks are per process and not inherited across ``fork``, so the
per-document partition children never keep the lock alive after the runner is gone.
The file's text (pid, host, start time) is only there to tell the user who holds it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from folio.errors import FolioError
from folio.procs import pid_alive

log = logging.getLogger(__name__)


class LockedError(FolioError):
    """Another run holds the index lock (exit code 3)."""

    def __init__(self, path: Path, holder: dict[str, object]) -> None:
        since = holder.get("started_at")
        when = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(since)))
            if isinstance(since, int | float)
            else "?"
        )
        super().__init__(
            f"another run holds {path}: pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"since {when}"
        )
        self.holder = holder


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self.took_over: dict[str, object] | None = None  # the stale holder we replaced, if any

    def _read_holder(self, fd: int) -> dict[str, object]:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        try:
            data = json.loads(raw.decode() or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = self._read_holder(fd)
            os.close(fd)
            raise LockedError(self.path, holder) from None
        previous = self._read_holder(fd)
        if previous.get("pid"):
            # A released lock leaves an empty file; text here means the holder died.
            pid = int(str(previous["pid"]))
            state = "dead" if not pid_alive(pid) else "alive but not holding the lock"
            log.warning(
                "taking over stale lock %s from pid %s on %s (%s)",
                self.path, pid, previous.get("host", "?"), state,
            )
            self.took_over = previous
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time()}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Empty the file rather than unlinking it: unlinking races with a second run
        # that already opened the old inode and would then lock a file nobody sees.
        os.ftruncate(self._fd, 0)
        fcntl.lockf(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
