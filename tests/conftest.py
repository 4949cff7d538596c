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

    cfg = write_config(tmp_path_factory.mktemp("app"))
    res = ingest(cfg)
    assert res.returncode == 0, res.stdout + res.stderr
    return cfg


@pytest.fixture(scope="session")
def app_url(app_config: Path) -> Iterator[str]:
    from tests.app_fixtures import server

    with server(app_config) as base:
        yield base
