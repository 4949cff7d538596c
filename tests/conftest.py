"""Session-wide fixtures: one small real index and one running app shared by the app tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# The enrichment cache is one per machine (enrich/cache.py): tests never read or fill the
# user's. Session and module fixtures share this folder; each test gets its own below, so
# a test that counts model calls is not served by another test's captions.
os.environ["FOLIO_ENRICH_CACHE"] = tempfile.mkdtemp(prefix="folio-test-enrich-")


@pytest.fixture(autouse=True)
def _own_enrich_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLIO_ENRICH_CACHE", str(tmp_path_factory.mktemp("enrich-cache")))


@pytest.fixture(scope="session")
def app_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.app_fixtures import ingest, write_config

    reuse = os.environ.get("FOLIO_TEST_APP_DIR")
    if reuse:
        # Iterating on app tests locally: a copy of an app folder an earlier session
        # ingested (the ingest takes minutes on 2 shared cores). CI never sets it.
        import shutil

        dst = tmp_path_factory.mktemp("app")
        shutil.copytree(reuse, dst, dirs_exist_ok=True, symlinks=True, ignore=shutil.ignore_patterns("serve-*.log"))
        return dst / "pipelines.toml"
    cfg = write_config(tmp_path_factory.mktemp("app"))
    res = ingest(cfg)
    assert res.returncode == 0, res.stdout + res.stderr
    return cfg


@pytest.fixture(scope="session")
def app_url(app_config: Path) -> Iterator[str]:
    from tests.app_fixtures import server

    with server(app_config) as base:
        yield base
