"""Waiting on Ray without hanging: the Ray engine's deadline, its error, and SIGTERM.

Ray never fails a task it cannot run. Workers that die before they register (a cluster
whose authentication they do not pass: the bug of issue 21), a checkout missing on a
node, or a cluster with no CPU for them leave the task pending, and Ray Data's iterator
then blocks for ever, deaf to the run's SIGTERM handler (it only sets a flag). So the
driver never blocks on Ray for more than ``POLL_S`` at a time: between waits it looks at
the stop flag and at a deadline, and past the deadline it raises ``RayUnavailable`` with
what Ray's logs say and where they are (the CLI exits with ``EXIT_RAY``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

POLL_S = 0.5  # the longest the driver waits on Ray before it looks at the stop flag again
LOG_LINES = 5  # lines of Ray's logs quoted in the error
_LOG_TAIL = 256 * 1024  # bytes read from the end of each log file


class RayUnavailable(RuntimeError):
    """Ray could not be reached, or started no worker / finished no document in time.

    The run records it as its fatal stop (``report.stopped`` starts with this class's
    name: pipeline/cli.py maps that to ``EXIT_RAY``)."""


def _hello() -> str:
    """A worker's first task: it ran, and it imports Folio from the checkout (PYTHONPATH)."""
    import socket

    import pipeline.plan  # noqa: F401  (what the partition task imports first)

    return socket.gethostname()


def first_task(deadline_s: float, num_cpus: float, stop: Callable[[], bool]) -> bool:
    """Run one small task on the cluster with the CPU share of a partition task: True once
    it ran, False when ``stop()`` turned true first (a signal). Raises RayUnavailable when
    no worker ran it within ``deadline_s`` or it failed there."""
    import ray

    t0 = time.time()
    ref = ray.remote(_hello).options(num_cpus=num_cpus, max_retries=0).remote()
    while True:
        ready, _ = ray.wait([ref], timeout=POLL_S)
        if ready:
            try:
                node = ray.get(ref)
            except Exception as e:  # the worker started but cannot run Folio (its checkout, its Python)
                raise RayUnavailable(explain(f"a Ray worker could not run Folio's code: {type(e).__name__}: {e}",
                                             t0)) from e
            log.info("first Ray task ran on %s after %.1f s", node, time.time() - t0)
            return True
        if stop():
            ray.cancel(ref, force=True)
            return False
        if time.time() - t0 >= deadline_s:
            ray.cancel(ref, force=True)
            raise RayUnavailable(explain(
                f"no Ray worker ran a task within {deadline_s:g} s (run.ray_deadline_s, --ray-deadline)", t0))


def watched(rows: Iterator[T], stall_s: float, stop: Callable[[], bool]) -> Generator[T | None, None, None]:
    """``rows`` pulled on a thread; yields each row as it arrives and ``None`` every
    ``POLL_S`` while none does (the caller looks at its stop flag and its commit timer).
    Raises RayUnavailable when no row came for ``stall_s`` (unless stopping). Closing this
    generator lets the thread close ``rows`` at its next row; a thread still blocked in
    Ray is a daemon that ray.shutdown() (or the process's exit) ends."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue()
    closing = threading.Event()

    def pump() -> None:
        try:
            for row in rows:
                q.put(("row", row))
                if closing.is_set():
                    break
            q.put(("end", None))
        except BaseException as e:  # handed to the driver's thread, which raises it
            q.put(("error", e))
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    threading.Thread(target=pump, name="folio-ray-rows", daemon=True).start()
    t0 = last = time.time()
    try:
        while True:
            try:
                kind, value = q.get(timeout=POLL_S)
            except queue.Empty:
                if time.time() - last >= stall_s and not stop():
                    raise RayUnavailable(explain(
                        f"no document came back from the Ray workers for {stall_s:g} s "
                        "(run.timeout_s + run.ray_deadline_s)", t0)) from None
                yield None
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            last = time.time()
            yield value
    finally:
        closing.set()


def explain(reason: str, since: float) -> str:
    """``reason``, then what the cluster has, what Ray logged since ``since`` and where."""
    parts = [reason]
    resources = _bounded(lambda: _cpus(), 5.0)
    if resources:
        parts.append(resources)
    session = session_dir()
    if session is None:
        return "; ".join(parts)
    lines = ray_log_lines(Path(session) / "logs", since)
    if lines:
        parts.append("Ray said: " + " | ".join(lines))
    operators = ray_data_state(Path(session) / "logs", since)
    if operators:
        parts.append("Ray Data: " + " | ".join(operators))
    parts.append(f"Ray's logs: {session}/logs (this machine's; other nodes keep theirs in their own session dir)")
    return "; ".join(parts)


def _cpus() -> str:
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources().get("CPU", 0)
    free = ray.available_resources().get("CPU", 0)
    return f"the cluster has {len(nodes)} live nodes, {total:g} CPUs ({free:g} free)"


def _bounded(fn: Callable[[], str], seconds: float) -> str | None:
    """``fn()`` or None when it fails or takes longer (a GCS that is gone would block it)."""
    out: list[str] = []

    def call() -> None:
        with contextlib.suppress(Exception):  # best effort: the error message is what matters
            out.append(fn())

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(seconds)
    return out[0] if out else None


def session_dir() -> str | None:
    """The session folder of the cluster this driver is connected to (its logs are in logs/)."""
    try:
        import ray._private.worker as worker

        node = worker._global_node
        return str(node.get_session_dir_path()) if node is not None else None
    except Exception:
        return None


def ray_log_lines(logs: Path, since: float, limit: int = LOG_LINES) -> list[str]:
    """The last ``limit`` distinct errors Ray wrote in ``logs`` since ``since`` (raylet,
    GCS, workers' logs and stderr), and the warnings that name a cause (authentication,
    scheduling, workers that died); each once, without its timestamp and pids. Ray's
    routine warnings (named actors looked up, reference counts) would bury them."""
    found: list[tuple[str, str]] = []
    for stamp, level, message in _log_records(logs, since):
        if _NOISE.search(message):
            continue
        if level in ("E", "F", "ERROR") or _CAUSE.search(message):
            found.append((stamp, message))
    latest: dict[str, str] = {}  # the same message from another process or worker counts once
    for _, message in sorted(found):
        key = re.sub(r"[0-9a-f]{8,}|\d+", "#", message)
        latest.pop(key, None)
        latest[key] = message
    return [m[:400] for m in list(latest.values())[-limit:]]


def ray_data_state(logs: Path, since: float) -> list[str]:
    """Ray Data's last word on each operator of the dataset (its tasks and actors: running,
    pending...), from ray-data/ray-data.log: what a stalled dataset is waiting for."""
    last: dict[str, str] = {}
    for _, _, message in _log_records(logs / "ray-data", since, debug=True):
        m = _OPERATOR.search(message)
        if m and m.group(2) != "Input":
            last[m.group(1)] = f"{m.group(2)}: {m.group(3).strip().rstrip(';')}"
    return [last[k][:300] for k in sorted(last)]


# C++ logs: "[2026-12-03 09:31:20,267 E 25187 25187] (raylet) worker_pool.cc:660: ...";
# Python logs: "2026-12-03 09:30:20,221\tWARNING streaming_executor.py:215 -- ..."
_LINE = re.compile(r"^\[?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+(?: ([DIWEF]) \d+ \d+\]|\s+(DEBUG|INFO|WARNING|ERROR)\s)")
_CAUSE = re.compile(r"Unauthenticated|InvalidAuthToken|not registered|cannot be scheduled|infeasible|"
                    r"[Oo]ut of memory|OOM|died|crashed|Failed to (?:connect|get cluster ID|start|register)")
# what Ray logs on every run: an error for each Ray Data actor pool (ray-project/ray#53727),
# a warning for each named actor Ray Data looks up before it makes it
_NOISE = re.compile(r"has constructor arguments in the object store|Failed to look up actor with name")
# "2: MapBatches(IndexActor) - Tasks: 0; Actors: 2 (running=0, restarting=0, pending=2, ...); Queued ..."
_OPERATOR = re.compile(r"streaming_executor\.py:\d+ -- (\d+): (.+?) - (Tasks: [^;]*;(?: Actors: [^;]*;)?)")


def _log_records(logs: Path, since: float, debug: bool = False) -> Iterator[tuple[str, str, str]]:
    """(timestamp, level, message) of the log lines in ``logs`` (and below) since ``since``;
    only the end of each file is read (Ray's logs grow for the cluster's whole life)."""
    if not logs.is_dir():
        return
    start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
    for path in sorted(logs.rglob("*")):
        if not path.is_file() or path.stat().st_mtime < since - 1:
            continue
        if path.suffix not in (".out", ".err", ".log") and not path.name.startswith("worker-"):
            continue
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - _LOG_TAIL))
            text = f.read().decode("utf-8", "replace")
        for line in text.splitlines():
            m = _LINE.match(line)
            if m is None or m.group(1) < start:
                continue
            level = m.group(2) or m.group(3)
            if level in ("D", "I", "DEBUG", "INFO") and not debug:
                continue
            yield m.group(1), level, line[m.end():].strip()
