"""Chat sessions in PostgreSQL (folio/db.py), against a real server the test starts
(tests/pg_fixtures.py): what one app server wrote, another reads and continues; appends
from two servers at once number the turns without a gap or a clash; another user's
session stays unknown; a bad FOLIO_DATABASE_URL or an unreachable server is a clear
error without the password."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from answer.sessions import SessionError, Sessions
from folio.db import database_url
from folio.errors import ConfigError
from tests.pg_fixtures import pg_server, pg_url  # noqa: F401  (fixtures)


def _turn(q: str) -> dict[str, Any]:
    return {"question": q, "standalone_query": q, "answer": f"answer to {q}", "unsupported": [],
            "citations": [{"source": "a.pdf", "doc_sha256": "x", "text": "t"}], "timings": {"total_s": 0.1}}


def test_a_session_started_on_one_server_continues_on_another(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    a, b = Sessions(tmp_path / "a", pg_url), Sessions(tmp_path / "b", pg_url)
    assert not (tmp_path / "a" / "folio.sqlite").exists()  # nothing beside the index
    sid = a.new_id()
    assert a.add_turn(sid, _turn("first"), owner="rita") == 1
    assert b.owned(sid, "rita") and not b.owned(sid, "sam")
    assert b.history(sid, 4) == [("first", "answer to first")]
    assert b.add_turn(sid, _turn("second"), owner="rita") == 2
    got = a.get(sid, {"a.pdf": "y"}, owner="rita")
    assert [t["question"] for t in got["turns"]] == ["first", "second"]
    assert got["turns"][0]["citations"][0]["stale"] == "changed"
    assert isinstance(got["created_at"], float) and got["updated_at"] >= got["created_at"]
    with pytest.raises(SessionError):
        b.get(sid, owner="sam")
    with pytest.raises(SessionError):
        b.add_turn(sid, _turn("intruder"), owner="sam")
    assert len(a.get(sid, owner="rita")["turns"]) == 2


def test_appends_from_two_servers_at_once_number_every_turn_once(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    servers: list[Sessions] = []
    opened = [threading.Thread(target=lambda: servers.append(Sessions(tmp_path, pg_url))) for _ in range(2)]
    for t in opened:  # two servers creating the schema at the same moment
        t.start()
    for t in opened:
        t.join()
    assert len(servers) == 2
    sid = servers[0].new_id()
    numbers: list[int] = []
    errors: list[BaseException] = []

    def ask(s: Sessions, k: int) -> None:
        try:
            for i in range(10):
                numbers.append(s.add_turn(sid, _turn(f"q{k}-{i}")))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=ask, args=(servers[k % 2], k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(numbers) == list(range(1, 41))
    assert [t["n"] for t in servers[1].get(sid)["turns"]] == list(range(1, 41))


def test_the_url_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOLIO_DATABASE_URL", raising=False)
    assert database_url() is None
    monkeypatch.setenv("FOLIO_DATABASE_URL", "postgresql://app@db2/folio")
    assert database_url() == "postgresql://app@db2/folio"
    monkeypatch.setenv("FOLIO_DATABASE_URL", "mysql://u:hunter2@db/folio")
    with pytest.raises(ConfigError) as e:
        database_url()
    assert "FOLIO_DATABASE_URL" in str(e.value) and "hunter2" not in str(e.value)


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    from tests.app_fixtures import free_port

    url = f"postgresql://folio:hunter2@127.0.0.1:{free_port()}/folio"
    with pytest.raises(ConfigError) as e:
        Sessions(tmp_path, url)
    msg = str(e.value)
    assert "cannot connect" in msg and "127.0.0.1" in msg and "hunter2" not in msg


def test_serve_stops_before_loading_models_when_the_database_is_down(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.app_fixtures import REPO, free_port
    from tests.ray_head import clean_env

    url = f"postgresql://folio:hunter2@127.0.0.1:{free_port()}/folio"
    env = clean_env(tmp_path / "home", FOLIO_DATABASE_URL=url, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, str(REPO / "serve.py"), "--db", str(tmp_path / "idx"), "--port",
                        str(free_port())], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "FOLIO_DATABASE_URL: cannot connect" in r.stderr and "hunter2" not in r.stderr + r.stdout
