"""A new user's first look: ``serve.py`` on a pipeline with nothing indexed yet, a real
server over HTTP. Every page names the command that indexes the documents (instead of a
refusal to start or empty tabs); the API says the index is empty; failed documents are
listed with their reasons, escaped; once a document is indexed the real app takes over on
the same address, without a restart."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.app_fixtures import PIPELINE, REPO, server, write_config

HOSTILE = '<img src=x onerror=alert(1)>.pdf'


def _config(root: Path) -> Path:
    cfg = write_config(root)
    for f in (root / "docs").iterdir():
        f.unlink()  # an empty source folder: the user has not run anything yet
    return cfg


def test_nothing_indexed_page_names_the_command(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    with server(cfg) as base:
        page = httpx.get(base + "/", timeout=30)
        assert page.status_code == 200 and "Nothing indexed yet" in page.text
        # run from the pipeline's folder (not the checkout), so ingest.py by its full path
        assert f"python3 {REPO / 'ingest.py'} --config {cfg} run --pipeline {PIPELINE}" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        # any other page too (a bookmark of a tab, a reload)
        assert "Nothing indexed yet" in httpx.get(base + "/some/tab", timeout=30).text
        health = httpx.get(base + "/api/health", timeout=30).json()
        assert health["status"] == "empty" and f"run --pipeline {PIPELINE}" in health["message"]
        ask = httpx.post(base + "/api/ask", json={"question": "What was Q4 revenue?"}, timeout=30)
        assert ask.status_code == 503 and "nothing indexed yet" in ask.json()["error"]
    assert not (tmp_path / "index").exists()  # the page writes nothing


@pytest.mark.slow  # two indexing runs and the real app's start: about a minute or more
def test_failed_documents_are_listed_escaped_and_the_app_starts_once_indexed(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    (tmp_path / "docs" / HOSTILE).write_bytes(b"")

    def ingest() -> None:
        subprocess.run([sys.executable, str(REPO / "ingest.py"), "--config", str(cfg), "run", "--pipeline",
                        PIPELINE], capture_output=True, text=True, timeout=900, cwd=tmp_path)

    ingest()  # only a failed document: an index with no chunk
    with server(cfg) as base:
        page = httpx.get(base + "/", timeout=30).text
        assert "Nothing indexed yet" in page and "holds no indexed document yet" in page
        assert "&lt;img src=x onerror=alert(1)&gt;.pdf</code>: empty file" in page and HOSTILE not in page

        (tmp_path / "docs" / "northwind-report.pdf").write_bytes((REPO / "samples" / "docs" /
                                                                  "northwind-report.pdf").read_bytes())
        ingest()
        deadline = time.time() + 300
        health: dict[str, object] = {}
        while time.time() < deadline:
            try:
                health = httpx.get(base + "/api/health", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                health = {}  # between the two servers
            if health.get("status") == "ok":
                break
            time.sleep(1)
        assert health.get("status") == "ok" and health.get("documents") == 1, health
        assert "Nothing indexed yet" not in httpx.get(base + "/", timeout=30).text
