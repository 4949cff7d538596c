"""What the CLI Ray tests need: a clean environment, and a cluster started with `ray start`.

The environment is built from nothing (PATH, HOME, LANG): no RAY_* variable of the test
process reaches the run, so a test sees what a user on a fresh machine sees. The head is
started with `ray start --head --block` in a session of its own, on free ports and a
temp dir of its own, and stopped by that session's process group: `ray stop` cannot be
scoped (it ends every Ray process of the machine by name, other people's clusters too).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # python3 and the `ray` script of this interpreter


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """PATH, HOME, LANG and nothing else (``extra``: what a test adds on purpose)."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    address: str  # HOST:PORT of the head's GCS, for --ray-address
    temp_dir: Path  # its sessions (logs) live here
    log: Path  # what `ray start` printed
    proc: subprocess.Popen[bytes]  # `ray start --block`, the leader of the node's session

    def processes(self) -> list[psutil.Process]:
        """This node's processes: `ray start`'s and all below it (the raylet starts each
        worker in a process group of its own, so the node's group alone misses them)."""
        with suppress(psutil.NoSuchProcess):
            return psutil.Process(self.proc.pid).children(recursive=True)
        return []

    def kill(self) -> None:
        """SIGKILL to every process of this node (raylet, workers, their children): a lost
        machine, with no goodbye to the head."""
        _kill(self.processes())
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


Head = Node  # the head is a node whose address is its own


@contextlib.contextmanager
def ray_head(env: dict[str, str], num_cpus: int, timeout: float = 180.0) -> Iterator[Head]:
    """`ray start --head` with ``num_cpus`` CPUs and its own temp dir and ports."""
    with _ray_start(["--head", "--port", str(free_port()), "--include-dashboard", "false"], env, num_cpus,
                    timeout) as head:
        yield head


@contextlib.contextmanager
def ray_node(env: dict[str, str], address: str, num_cpus: int, resources: dict[str, float] | None = None,
             timeout: float = 180.0) -> Iterator[Node]:
    """`ray start --address ADDRESS`: a second raylet on this machine, as a node of another
    machine would join, with its own temp dir, ports and ``resources``. ``Node.kill()``
    ends it at once (SIGKILL to its processes: the machine is lost)."""
    args = ["--address", address]
    if resources:
        args += ["--resources", json.dumps(resources)]
    with _ray_start(args, env, num_cpus, timeout) as node:
        yield node


@contextlib.contextmanager
def _ray_start(args: list[str], env: dict[str, str], num_cpus: int, timeout: float) -> Iterator[Node]:
    # Short: Ray's socket paths (temp dir + session + sockets/plasma_store) must fit 107 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="fr", dir="/tmp"))
    log = temp_dir / "ray-start.log"
    cmd = [str(BIN / "ray"), "start", "--block", *args, "--num-cpus", str(num_cpus),
           "--temp-dir", str(temp_dir), "--disable-usage-stats", "--object-store-memory", str(96 * 1024 * 1024)]
    # Ports with fixed defaults (the dashboard's, its agent's, the metrics'): free ones,
    # so that the node does not clash with another cluster (or node) on this machine.
    for flag in ("--dashboard-port", "--dashboard-agent-listen-port", "--metrics-export-port"):
        if flag != "--dashboard-port" or "--head" in args:
            cmd += [flag, str(free_port())]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    node = Node(args[args.index("--address") + 1] if "--address" in args else "", temp_dir, log, proc)
    try:
        node.address = _wait_started(proc, temp_dir, log, timeout, head="--head" in args) or node.address
        yield node
    finally:
        left = node.processes()  # workers: not in the session's process group
        _stop(proc)
        _kill(left)


def _kill(processes: list[psutil.Process]) -> None:
    for p in processes:
        with suppress(psutil.NoSuchProcess):
            p.kill()


def _wait_started(proc: subprocess.Popen[bytes], temp_dir: Path, log: Path, timeout: float, head: bool) -> str:
    """The head's address (a worker node's: ""), once `ray start` says it started."""
    end = time.time() + timeout
    current = temp_dir / "ray_current_cluster"
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"ray start exited with {proc.returncode}: {log.read_text()[-3000:]}")
        if (current.is_file() or not head) and "Ray runtime started" in log.read_text():
            return current.read_text().strip() if head else ""
        time.sleep(0.5)
    raise RuntimeError(f"ray start did not start within {timeout:g} s: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the session `ray start` leads (it stops its processes), then SIGKILL to
    whatever of that process group is left: only what this helper started."""
    pgid = proc.pid  # start_new_session: the group is the leader's pid
    with suppress(ProcessLookupError):  # the group is gone already
        os.killpg(pgid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    time.sleep(1.0)
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=10)


def run_cli(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``ingest.py ARGS`` in its own session; on timeout the whole session is killed (a run
    stuck on Ray leaves a local cluster behind otherwise) and TimeoutExpired raised."""
    proc = subprocess.Popen([str(BIN / "python3"), str(REPO / "ingest.py"), *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc)
        raise
    kill_session(proc)  # a local cluster's processes that outlived the run, if any
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def kill_session(proc: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.communicate(timeout=30)
