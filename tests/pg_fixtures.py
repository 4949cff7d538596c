"""A real PostgreSQL server for tests: Debian's ``postgresql`` package (scripts/install.sh
installs it), a fresh cluster made with initdb in a temporary folder, started with pg_ctl
on a free loopback port, once per session. PostgreSQL refuses to run as root, so as root
the cluster belongs to the package's ``postgres`` user (runuser). Without the binaries the
tests skip, saying so; in CI (CI set) that is a failure: CI must run them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app_fixtures import free_port

USER = "folio"


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps the server binaries out of PATH: /usr/lib/postgresql/<version>/bin
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_owner(cmd: list[str]) -> list[str]:
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"  # util-linux; root's PATH may lack sbin
    return [runuser, "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The server's base URL (``postgresql://folio@127.0.0.1:PORT``), superuser ``folio``, trust auth on loopback."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        msg = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    root = Path(tempfile.mkdtemp(prefix="folio-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    init = subprocess.run(_as_owner([initdb, "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                                     "--no-sync"]), capture_output=True, text=True, timeout=120)
    if init.returncode != 0:
        pytest.fail(f"initdb failed: {init.stdout}{init.stderr}")
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off"
    start = subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-o", opts, "-w",
                                      "-t", "60", "start"]), capture_output=True, text=True, timeout=120)
    if start.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        pytest.fail(f"pg_ctl start failed: {start.stdout}{start.stderr}{log[-2000:]}")
    try:
        yield f"postgresql://{USER}@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True,
                       timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh database on the test server; returns its URL."""
    import psycopg

    name = f"folio_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{pg_server}/{name}"
