"""``run.engine = "ray"``: the same incremental contract as the local engine (identical
documents, chunk ids and search results), on a local Ray cluster started once per
session (pipeline/engines/ray/workers.py: workers partition and embed, the driver commits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from folio.config import ChunkSettings, Pipeline, RunSettings
from pipeline.runner import Runner, RunOptions
from tests.pipeline_fixtures import FakeEmbedder, make_corpus, make_pdf, pipeline_for, sentence
from tests.ray_fixtures import ray_cluster  # noqa: F401  (fixture)
from tests.s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)
from tests.test_s3_index import assert_same, state

REPO = Path(__file__).resolve().parents[1]


def fake_embedder(pipe: Pipeline) -> FakeEmbedder:
    """Module level: Ray workers import it by name."""
    return FakeEmbedder()


def run(pipe: Pipeline) -> Runner:
    runner = Runner(pipe, RunOptions(progress=False, embedder_factory=fake_embedder))
    runner.run()
    return runner


def test_ray_engine_matches_local_engine(tmp_path: Path, ray_cluster: None) -> None:  # noqa: F811
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



@pytest.mark.slow  # over a minute on 2 cores: make test stays well under 30 minutes
def test_ray_engine_with_the_index_on_s3_matches_local(
    tmp_path: Path, ray_cluster: None, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """Workers write fragments straight to the S3 server with the driver's storage
    options; the driver commits them in batches. One document's write is reported short:
    it is indexed again on the driver, and the index ends the same."""
    from index.fragments import Written

    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "src"
    make_corpus(src, n_pdf=3)
    (src / "broken.pdf").write_bytes(b"%PDF-1.7\n not a pdf at all \n")
    local = pipeline_for(src, tmp_path / "local")
    remote = pipeline_for(src, f"{s3_bucket}/idx", run=RunSettings(engine="ray"))  # type: ignore[arg-type]
    real_short = Written.short
    faked: list[str] = []

    def short_once(self: Written) -> list[str]:
        if not faked:
            faked.append("x")
            return ["chunks"]
        return real_short(self)

    monkeypatch.setattr(Written, "short", short_once)
    a, b = run(local), run(remote)
    assert faked and any("short fragment write" in n for n in b.report.notes), b.report.notes
    assert a.report.counts == b.report.counts and b.report.counts["ok"] == 4
    # every document that came back from the workers was committed once, in batches
    assert sum(n for _, n, _ in b.ctx.commits) == 4 and all(s > 0 for s, _, _ in b.ctx.commits)
    assert_same(state(remote), state(local))

    make_pdf(src / "doc0.pdf", [sentence("zeta"), sentence("eta")])
    (src / "doc1.pdf").unlink()
    a, b = run(local), run(remote)
    assert a.report.counts == b.report.counts and b.report.counts["deleted"] == 1
    assert_same(state(remote), state(local))



KILLED_DRIVER = r"""
import os, signal, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from folio.config import RunSettings
from index.store import Store
from pipeline.runner import Runner, RunOptions
from tests.pipeline_fixtures import pipeline_for
from tests.test_ray_engine import fake_embedder

def die(self, committed, failed=()):  # the first batch's fragments are appended: kill -9
    os.kill(os.getpid(), signal.SIGKILL)

Store.commit_documents = die
pipe = pipeline_for(Path({src!r}), {uri!r}, run=RunSettings(engine="ray", ray_address={address!r}))
Runner(pipe, RunOptions(progress=False, embedder_factory=fake_embedder)).run()
"""


@pytest.mark.slow  # over a minute on 2 cores: make test stays well under 30 minutes
def test_driver_killed_between_append_and_commit_on_s3(
    tmp_path: Path, ray_cluster: None, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """kill -9 of the Ray driver after its first batch's fragments are appended to the
    tables on S3, before the documents rows: the re-run takes the lock over, repairs the
    uncommitted rows and ends as the local engine does, every document once."""
    import signal
    import subprocess
    import sys

    import ray

    from index.store import open_index
    from tests.s3_fixtures import s3_env

    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "src"
    make_corpus(src, n_pdf=3)
    uri = f"{s3_bucket}/idx"
    address = ray.get_runtime_context().gcs_address
    script = KILLED_DRIVER.format(repo=str(REPO), src=str(src), uri=uri, address=address)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env=s3_env())
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    remote = pipeline_for(src, uri, run=RunSettings(engine="ray"))  # type: ignore[arg-type]
    store = open_index(remote)
    assert store.count_chunks() > 0 and store.documents() == {}  # appended, never committed

    local = pipeline_for(src, tmp_path / "local")
    a, b = run(local), run(remote)
    assert b.report.repaired_rows > 0 and b.report.counts == a.report.counts
    assert_same(state(remote), state(local))


NODE_LOSS = r"""
import json, os, sys, threading
sys.path.insert(0, {repo!r})
from pathlib import Path
import ray
from ray.cluster_utils import Cluster
from folio.config import RunSettings
from pipeline.runner import Runner, RunOptions
from tests.pipeline_fixtures import pipeline_for
from tests.test_ray_engine import fake_embedder

cluster = Cluster(initialize_head=True, head_node_args={{"num_cpus": 0, "object_store_memory": 80 * 2**20}})
workers = [cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20) for _ in range(2)]
ray.init(address=cluster.address, log_to_driver=False,
         runtime_env={{"env_vars": {{"PYTHONPATH": {repo!r}}}}})
removed = []

def on_document(result):
    if not removed:  # one worker node dies once the first document is committed
        removed.append(result.source)
        cluster.remove_node(workers[0], allow_graceful=False)

tmp = Path({tmp!r})
pipe = pipeline_for(tmp / "src", tmp / "idx", run=RunSettings(engine="ray", ray_address=cluster.address))
report = Runner(pipe, RunOptions(progress=False, embedder_factory=fake_embedder, on_document=on_document)).run()
print(json.dumps({{"counts": report.counts, "status": report.status, "removed": removed,
                   "errors": [d.error for d in report.documents if d.error]}}))
ray.shutdown()
cluster.shutdown()
"""


@pytest.mark.slow  # a 3-node cluster in one machine (~1-2 min)
def test_node_lost_mid_run_loses_no_document(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys
    from collections import Counter

    from index.store import Store
    from tests.pipeline_fixtures import chunk_rows

    files = make_corpus(tmp_path / "src", n_pdf=6, with_docx=False)
    script = NODE_LOSS.format(repo=str(REPO), tmp=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["removed"] and result["status"] == "ok", result
    assert result["counts"]["ok"] == len(files) and result["errors"] == []
    docs = Store(tmp_path / "idx").documents()
    assert sorted(docs) == sorted(files) and {d.status for d in docs.values()} == {"ok"}
    ids = Counter(r["id"] for r in chunk_rows(tmp_path / "idx"))
    assert ids and max(ids.values()) == 1  # every document committed exactly once
