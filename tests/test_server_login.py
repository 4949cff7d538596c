"""Login over the real server with ``serve.login = "always"`` on loopback (issue 19, item 6).

Before the fix: scrypt ran on the event loop (a few wrong passwords stalled every request),
an unknown user name answered ~60x faster than a known one with a wrong password, and
failures were neither limited nor logged; ``--login always`` did not exist (loopback had
no login at all)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app_fixtures import copy_app, server
from ui.app import basic
from ui.auth import hash_password

ANN = {"Authorization": basic("ann", "ann-password")}
BOB_RIGHT = {"Authorization": basic("bob", "bob-password")}


@pytest.fixture(scope="module")
def always(app_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cfg = copy_app(app_config, tmp_path_factory.mktemp("login") / "app", 'login = "always"\nlogin_max_failures = 10')
    users = f"ann:reader:{hash_password('ann-password')},bob:reviewer:{hash_password('bob-password')}"
    with server(cfg, env={"FOLIO_USERS": users}, headers=ANN) as base:
        yield base, cfg


def _get(base: str, headers: dict[str, str]) -> tuple[int, float]:
    t = time.perf_counter()
    r = httpx.get(base + "/api/health", headers=headers, timeout=60)
    return r.status_code, time.perf_counter() - t


def test_login_always_on_loopback_without_stalls_leaks_or_unlimited_tries(always: tuple[str, Path]) -> None:
    base, cfg = always
    assert httpx.get(base + "/api/health").status_code == 401  # loopback, yet login required
    assert httpx.get(base + "/").status_code == 401
    assert _get(base, ANN)[0] == 200  # (cached from now on)
    status, one_scrypt = _get(base, {"Authorization": basic("ann", "wrong-1")})
    assert status == 401  # failure 1

    # wrong passwords do not stall the others: scrypt runs off the event loop
    async def burst() -> float:
        async with httpx.AsyncClient(timeout=60) as c:
            bad = [asyncio.ensure_future(c.get(base + "/api/health", headers={
                "Authorization": basic("bob", f"wrong-{i}")})) for i in range(4)]
            await asyncio.sleep(0.005)
            t = time.perf_counter()
            good = await c.get(base + "/api/health", headers=ANN)
            took = time.perf_counter() - t
            assert good.status_code == 200 and [r.status_code for r in await asyncio.gather(*bad)] == [401] * 4
            return took

    good_during_burst = asyncio.run(burst())  # failures 2-5
    assert good_during_burst < max(one_scrypt, 0.05), (good_during_burst, one_scrypt)

    # an unknown name costs as much as a known one with a wrong password
    unknown = min(_get(base, {"Authorization": basic(f"nobody{i}", "x")})[1] for i in range(2))
    known = min(_get(base, {"Authorization": basic("ann", f"wrong-{i}")})[1] for i in range(2))
    assert unknown > 0.5 * known, (unknown, known)  # failures 6-9

    # the 10th failure from this address blocks it: even the right password waits now
    assert _get(base, {"Authorization": basic("ann", "wrong-last")})[0] == 401
    r = httpx.get(base + "/api/health", headers=BOB_RIGHT)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert _get(base, ANN)[0] == 200  # a session already logged in goes on
    log = sorted(cfg.parent.glob("serve-*.log"))[-1].read_text()
    assert "failed login for user 'bob' from 127.0.0.1" in log


def test_the_users_file_is_never_world_readable(tmp_path: Path) -> None:
    import os
    import stat
    import subprocess
    import sys

    from tests.app_fixtures import REPO

    users = tmp_path / "users.json"
    old = os.umask(0o022)
    try:
        r = subprocess.run([sys.executable, str(REPO / "serve.py"), "users", "add", "ann", "--file", str(users)],
                           env={**os.environ, "FOLIO_NEW_PASSWORD": "ann-password"}, capture_output=True, text=True,
                           timeout=120)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
