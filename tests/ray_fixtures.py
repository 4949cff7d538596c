"""The session's local Ray cluster, shared by the Ray tests (tests/test_ray_*.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    # No RAY_AUTH_MODE here: the suite runs Ray as users get it (token authentication on a
    # local cluster, pipeline/engines/ray/workers.init_ray); setting it in this process hid issue 21.
    import ray

    if ray.is_initialized():  # each test module that imports this fixture has its own copy
        yield
        return
    # A small object store: /dev/shm is small on CI machines; rows are a few MB at most.
    from pipeline.engines.ray.workers import keep_signal_handlers

    with keep_signal_handlers():  # later tests check that a run restores the default handlers
        # address="local": a new cluster, even when another one runs on this machine (ray.init
        # without an address joins the one /tmp/ray/ray_current_cluster names).
        ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=96 * 1024 * 1024,
                 log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield
    ray.shutdown()
