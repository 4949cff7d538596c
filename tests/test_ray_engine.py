"""``run.engine = "ray"``: the same incremental contract as the local engine (identical
documents, chunk ids and search results), on a local Ray cluster started once per
session (pipeline/ray_engine.py: workers partition and embed, the driver commits)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from folio.config import ChunkSettings, Pipeline, RunSettings
from pipeline.runner import Runner, RunOptions
from tests.pipeline_fixtures import FakeEmbedder, make_corpus, make_pdf, pipeline_for, sentence
from tests.test_s3_index import assert_same, state

REPO = Path(__file__).resolve().parents[1]


def fake_embedder(pipe: Pipeline) -> FakeEmbedder:
    """Module level: Ray workers import it by name."""
    return FakeEmbedder()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    # A small object store: /dev/shm is small on CI machines; rows are a few MB at most.
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=96 * 1024 * 1024, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "disabled"}})
    yield
    ray.shutdown()


def run(pipe: Pipeline) -> Runner:
    runner = Runner(pipe, RunOptions(progress=False, embedder_factory=fake_embedder))
    runner.run()
    return runner


def test_ray_engine_matches_local_engine(tmp_path: Path, ray_cluster: None) -> None:
    src = tmp_path / "src"
    make_corpus(src, n_pdf=3)
    (src / "broken.pdf").write_bytes(b"%PDF-1.7\n not a pdf at all \n")
    local = pipeline_for(src, tmp_path / "local")
    on_ray = pipeline_for(src, tmp_path / "ray", run=RunSettings(engine="ray"))

    def both(a: Pipeline, b: Pipeline) -> tuple[Any, Any]:
        return run(a), run(b)

    a, b = both(local, on_ray)
    assert a.report.counts == b.report.counts and b.report.counts["ok"] == 4 and b.report.counts["failed"] == 1
    failed = [d for d in b.report.documents if d.status == "error"]
    assert [d.source for d in failed] == ["broken.pdf"] and failed[0].error
    assert_same(state(on_ray), state(local))

    make_pdf(src / "doc0.pdf", [sentence("zeta"), sentence("eta")])
    (src / "doc1.pdf").unlink()
    make_pdf(src / "new.pdf", [sentence("omega")])
    a, b = both(local, on_ray)
    assert a.report.counts == b.report.counts and b.report.counts["deleted"] == 1
    assert_same(state(on_ray), state(local))

    # a fingerprint change re-chunks stored elements on the driver; the failed one goes to Ray
    local2 = local.model_copy(update={"chunk": ChunkSettings(max_tokens=24)})
    ray2 = on_ray.model_copy(update={"chunk": ChunkSettings(max_tokens=24)})
    a, b = both(local2, ray2)
    assert a.report.counts == b.report.counts
    assert_same(state(ray2), state(local2))
    a, b = both(local2, ray2)
    assert a._fast and b._fast
