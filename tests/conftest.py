"""Session-wide fixtures: one small real index and one running app shared by the app tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


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
