"""One run per index at a time: ``<index>/run.lock`` (a kernel lock; ``ObjectLock`` below
for an index on an object store).

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
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from folio.errors import FolioError
from folio.procs import pid_alive

log = logging.getLogger(__name__)


class LockedError(FolioError):
    """Another run holds the index lock (exit code 3)."""

    def __init__(self, path: Path | str, holder: dict[str, object]) -> None:
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


class _Held:
    """``with lock:`` for both locks: acquire on entry, release on exit."""

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class RunLock(_Held):
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



class ObjectLock(_Held):
    """The run lock of an index on an object store: ``run.lock`` created with a conditional
    put (If-None-Match: *), so of two drivers on any machines exactly one gets it.

    The object holds the holder (host, pid), the start time and a heartbeat that a thread
    refreshes (a conditional put on the object's ETag, so a holder that lost the lock
    notices instead of overwriting the new holder). No kernel tells another machine that
    the holder died: a lock whose heartbeat is older than ``stale_after`` seconds is taken
    over (again a conditional put on the ETag just read: one taker wins), and on the
    holder's own host a dead pid makes it stale at once.
    """

    KEY = "run.lock"

    def __init__(self, blobs: Any, stale_after: float = 900.0) -> None:
        self.blobs = blobs
        self.stale_after = stale_after
        self.path = f"{blobs.where}/{self.KEY}"
        self.took_over: dict[str, object] | None = None
        self._tag: str | None = None
        self._info: dict[str, object] = {}
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _body(self) -> bytes:
        self._info["heartbeat_at"] = time.time()
        return json.dumps(self._info).encode()

    def acquire(self) -> None:
        now = time.time()
        self._info = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": now,
                      "stale_after": self.stale_after}
        tag = self.blobs.create(self.KEY, self._body())
        if tag is None:
            current = self.blobs.read_tagged(self.KEY)
            if current is None:  # released meanwhile: try once more
                tag = self.blobs.create(self.KEY, self._body())
            else:
                holder = _parse(current[0])
                if not self._stale(holder):
                    raise LockedError(self.path, holder)
                tag = self.blobs.replace(self.KEY, self._body(), current[1])
                if tag is not None:
                    log.warning("taking over stale lock %s from pid %s on %s",
                                self.path, holder.get("pid", "?"), holder.get("host", "?"))
                    self.took_over = holder
            if tag is None:
                holder = _parse((self.blobs.read_tagged(self.KEY) or (b"", ""))[0])
                raise LockedError(self.path, holder)
        self._tag = tag
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="folio-lock-heartbeat", daemon=True)
        self._beat.start()

    def _stale(self, holder: dict[str, object]) -> bool:
        beat = holder.get("heartbeat_at", holder.get("started_at"))
        if not isinstance(beat, int | float) or time.time() - beat > self.stale_after:
            return True
        pid = holder.get("pid")
        return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid)

    def _heartbeat(self) -> None:
        while not self._stop.wait(max(1.0, self.stale_after / 4)):
            tag = self._tag
            if tag is None:
                return
            try:
                new = self.blobs.replace(self.KEY, self._body(), tag)
            except Exception:  # a network blip: the next beat tries again
                log.warning("could not refresh the run lock %s", self.path, exc_info=True)
                continue
            if new is None:
                log.error("lost the run lock %s to another run", self.path)
                self._tag = None
                return
            self._tag = new

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
            self._beat = None
        tag, self._tag = self._tag, None
        if tag is None:
            return
        current = self.blobs.read_tagged(self.KEY)
        if current is not None and current[1] == tag:  # still ours
            self.blobs.delete(self.KEY)



def _parse(raw: bytes) -> dict[str, object]:
    try:
        data = json.loads(raw.decode() or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
