"""The session's local Ray cluster, shared by the Ray tests (tests/test_ray_*.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    if ray.is_initialized():  # each test module that imports this fixture has its own copy
        yield
        return
    # A small object store: /dev/shm is small on CI machines; rows are a few MB at most.
    from pipeline.ray_engine import keep_signal_handlers

    with keep_signal_handlers():  # later tests check that a run restores the default handlers
        # address="local": a new cluster, even when another one runs on this machine (ray.init
        # without an address joins the one /tmp/ray/ray_current_cluster names).
        ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=96 * 1024 * 1024,
                 log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "disabled"}})
    yield
    ray.shutdown()
