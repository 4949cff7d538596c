"""The app across restarts and re-ingests, and login on a non-loopback bind (real servers)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.app_fixtures import PIPELINE, REPO, ingest, server
from ui.app import basic
from ui.auth import hash_password

MEMO_Q = "How many staff work the late shift in the warehouse memo shift schedule?"


@pytest.fixture
def own_copy(app_config: Path, tmp_path: Path) -> Path:
    """A copy of the shared app's folder (documents, index, sessions) this test may change."""
    dst = tmp_path / "app"
    shutil.copytree(app_config.parent, dst, symlinks=True, ignore=shutil.ignore_patterns("serve-*.log"))
    (dst / "index" / "assets" / "escape.png").unlink(missing_ok=True)
    return dst / "pipelines.toml"


@pytest.mark.slow  # over a minute on 2 cores: make test stays well under 30 minutes
def test_old_answers_survive_restart_and_deletion_but_are_never_cited_again(own_copy: Path) -> None:
    memo = "warehouse-memo.docx"
    with server(own_copy) as base:
        first = httpx.post(base + "/api/ask", json={"question": MEMO_Q, "filters": {"source": memo}},
                           timeout=300).json()
    sid = first["session_id"]
    # the document is deleted and the nightly run removes it from the index
    (own_copy.parent / "docs" / memo).unlink()
    res = ingest(own_copy)
    assert res.returncode == 0, res.stdout + res.stderr
    with server(own_copy) as base:
        s = httpx.get(f"{base}/api/sessions/{sid}").json()
        turn = s["turns"][0]
        assert turn["answer"] == first["answer"] and turn["question"] == first["question"]
        for c in turn["citations"]:
            assert c["source"] == memo and c["stale"] == "deleted"
            for u in (c["image_url"], c["page_url"]):
                if u:  # frozen at answer time: still served after the document is gone
                    assert httpx.get(base + u).status_code == 200
        docs = httpx.get(base + "/api/documents").json()["documents"]
        assert memo not in [d["source"] for d in docs]
        again = httpx.post(base + "/api/ask", json={"question": MEMO_Q}, timeout=300).json()
        assert all(c["source"] != memo for c in again["citations"])


def test_a_non_loopback_bind_refuses_to_start_without_users(app_config: Path) -> None:
    r = subprocess.run([sys.executable, str(REPO / "serve.py"), "--config", str(app_config), "--pipeline",
                        PIPELINE, "--host", "0.0.0.0", "--port", "1"], capture_output=True, text=True, timeout=120,
                       cwd=app_config.parent, env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()),
                                                   "FOLIO_USERS_FILE": str(app_config.parent / "none.json")})
    assert r.returncode == 2 and "login is required" in r.stderr


def test_login_is_enforced_on_a_non_loopback_bind(app_config: Path) -> None:
    users = f"ann:reader:{hash_password('s3cret-pass')}"
    good = {"Authorization": basic("ann", "s3cret-pass")}
    with server(app_config, host="0.0.0.0", env={"FOLIO_USERS": users}, headers=good) as base:
        assert httpx.get(base + "/api/health").status_code == 401
        assert httpx.get(base + "/").status_code == 401
        assert httpx.get(base + "/api/health", headers={"Authorization": basic("ann", "wrong")}).status_code == 401
        assert httpx.get(base + "/api/health", headers=good).status_code == 200
        assert httpx.get(base + "/", headers=good).status_code == 200
        bearer = {"Authorization": "Bearer ann:s3cret-pass"}  # what an OpenAI client sends as its api_key
        assert httpx.get(base + "/v1/models", headers=bearer).status_code == 200
