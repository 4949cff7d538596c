"""Chat sessions belong to their owner, over the real server (issue 19, item 2), and one
user cannot fill the model's line alone.

Before the fix the server stored a turn under any id the client chose and let anyone
read (GET /api/sessions/{id}) or append to it. Now ids are server-issued (128 random
bits), and another user's id reads exactly like an unknown one: 404.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app_fixtures import copy_app, server
from ui.app import basic
from ui.auth import hash_password

ANN = {"Authorization": basic("ann", "ann-password")}
BOB = {"Authorization": basic("bob", "bob-password")}
Q = "How many staff work the late shift according to the shift schedule?"


@pytest.fixture(scope="module")
def login_server(app_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cfg = copy_app(app_config, tmp_path_factory.mktemp("sessions") / "app", "max_questions_per_user = 2")
    users = f"ann:reader:{hash_password('ann-password')},bob:reader:{hash_password('bob-password')}"
    # Login is required off loopback; the test still connects through 127.0.0.1.
    with server(cfg, host="0.0.0.0", env={"FOLIO_USERS": users}, headers=ANN) as base:
        yield base


def _ask(base: str, body: dict, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(base + "/api/ask", json={"k": 2, **body}, headers=headers, timeout=300)


def test_another_users_session_is_a_404_for_read_and_append(login_server: str) -> None:
    first = _ask(login_server, {"question": Q}, ANN)
    assert first.status_code == 200, first.text
    sid = first.json()["session_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", sid)  # server-issued, 128 bits
    assert httpx.get(f"{login_server}/api/sessions/{sid}", headers=ANN).status_code == 200
    # bob can neither read nor append, and learns nothing (same answer as an unknown id)
    read = httpx.get(f"{login_server}/api/sessions/{sid}", headers=BOB)
    unknown = httpx.get(f"{login_server}/api/sessions/{'0' * 32}", headers=BOB)
    assert read.status_code == unknown.status_code == 404
    append = _ask(login_server, {"question": "And the early one?", "session_id": sid}, BOB)
    assert append.status_code == 404, append.text
    turns = httpx.get(f"{login_server}/api/sessions/{sid}", headers=ANN).json()["turns"]
    assert [t["question"] for t in turns] == [first.json()["question"]]  # untouched
    # ann's follow-up still works
    again = _ask(login_server, {"question": "And the early one?", "session_id": sid}, ANN)
    assert again.status_code == 200 and again.json()["session_id"] == sid


def test_a_client_chosen_session_id_is_refused(login_server: str) -> None:
    r = _ask(login_server, {"question": Q, "session_id": "mine-123"}, ANN)
    assert r.status_code == 404 and "session" in r.json()["error"]
    assert httpx.get(f"{login_server}/api/sessions/mine-123", headers=ANN).status_code == 404


def test_one_user_cannot_fill_the_line(login_server: str) -> None:
    """max_questions_per_user = 2: ann's third question at once is a 429; bob still gets in."""

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=300) as c:
            async def one(h: dict[str, str]) -> int:
                async with c.stream("POST", login_server + "/api/ask", json={"question": Q, "stream": True},
                                    headers=h) as r:
                    if r.status_code == 429:
                        assert int(r.headers["retry-after"]) >= 1
                    await r.aread()
                    return r.status_code
            # all four arrive within milliseconds; an answer takes seconds
            return list(await asyncio.gather(one(ANN), one(ANN), one(ANN), one(BOB)))

    statuses = asyncio.run(burst())
    assert sorted(statuses[:3]) == [200, 200, 429] and statuses[3] == 200, statuses


def test_loopback_without_login_is_one_anonymous_owner(app_url: str) -> None:
    r = httpx.post(app_url + "/api/ask", json={"question": Q, "k": 2, "session_id": "chosen-by-me"}, timeout=300)
    assert r.status_code == 404  # not created under a client-chosen id
    first = httpx.post(app_url + "/api/ask", json={"question": Q, "k": 2}, timeout=300).json()
    assert re.fullmatch(r"[0-9a-f]{32}", first["session_id"])
    assert httpx.get(f"{app_url}/api/sessions/{first['session_id']}").status_code == 200


def test_no_cross_origin_grant_on_a_public_bind(login_server: str) -> None:
    """Gradio's own CORS answered any Origin, with credentials, off loopback."""
    # Gradio grants only when the Host is not a localhost name: as reached through a name
    evil = {**ANN, "origin": "http://elsewhere.example", "host": "folio.example"}
    for path in ("/config", "/gradio_api/info", "/api/health"):
        r = httpx.get(login_server + path, headers=evil, timeout=30)
        assert "access-control-allow-origin" not in r.headers, (path, dict(r.headers))
    pre = httpx.options(login_server + "/gradio_api/queue/join", headers={
        **evil, "access-control-request-method": "POST", "access-control-request-headers": "content-type"})
    assert "access-control-allow-origin" not in pre.headers
