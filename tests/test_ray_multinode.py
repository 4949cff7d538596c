"""A real two-node Ray cluster, as docs/scale-out.md tells users to make one, losing its
second node mid-run (issue 21, item 3).

`ray start --head` and `ray start --address HEAD` (two raylets on this machine, each with
its own temp dir, ports and CPU), the index on an S3 server, the CLI in a subprocess with
an environment built from nothing: `ingest.py run --engine ray --ray-address HEAD`. Once
an index actor on the second node is embedding a document, every process of that node is
SIGKILLed (a machine lost, no goodbye to the head). The run must end with every document
committed exactly once and the same documents, chunks and elements as the local engine
makes of the same files. Documents from the shared corpus: real partitioning and the real
embedder, so the run lasts long enough for the kill to land in the middle of it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.ray_head import BIN, REPO, Node, clean_env, kill_session, ray_head, ray_node, run_cli
from tests.s3_fixtures import moto_server
from tests.test_ray_cli import write_config

CORPUS = REPO.parent / "shared" / "corpus"
# 5 mid-sized documents (7 to 17 pages, 46 to 100 chunks; 1.5 min for the local engine on
# 2 cores under load): each index actor gets more than one, so the kill lands mid-run
DOCS = ["ULTABEAUTY_2023Q4_EARNINGS.pdf", "redp5110_sampled.pdf", "us-018.pdf", "multi-column.pdf",
        "MGMRESORTS_2022Q4_EARNINGS.pdf"]
S3 = {"AWS_ACCESS_KEY_ID": "folio-test", "AWS_SECRET_ACCESS_KEY": "folio-test-secret", "AWS_REGION": "us-east-1",
      "AWS_ALLOW_HTTP": "true"}
IN_FLIGHT = "MapWorker(MapBatches(IndexActor)).submit"  # a Ray worker's title while an index actor works


def index_state(location: str | Path, storage: dict[str, str] | None) -> dict[str, Any]:
    """Documents (hash, status, counts), chunks (id, source, text) and elements per source."""
    from index.store import Store

    store = Store(location, storage_options=storage)
    docs = {s: (d.sha256, d.status, d.pages, d.elements, d.chunks) for s, d in store.documents().items()}
    chunks = store.chunks_table.to_arrow().select(["id", "source", "text"]).to_pylist()
    elements = Counter(store.elements_table.to_arrow()["source"].to_pylist())
    return {"docs": docs, "chunks": sorted((c["id"], c["source"], c["text"]) for c in chunks),
            "elements": dict(elements)}


def committed(location: str, storage: dict[str, str]) -> int:
    """Documents the run has committed so far (read-only: Store without dim creates nothing)."""
    from index.store import Store

    return len(Store(location, storage_options=storage).documents())


def busy(node: Node) -> list[str]:
    """The titles of the node's Ray workers that are running something."""
    out = []
    for p in node.processes():
        try:
            title = " ".join(p.cmdline()).strip()
        except Exception:  # gone meanwhile
            continue
        if title.startswith("ray::") and title != "ray::IDLE" and "Agent" not in title:
            out.append(title)
    return out


@pytest.mark.slow  # two `ray start` nodes, a Ray run and a local one on real documents (~5 min on 2 cores)
def test_second_node_killed_mid_run_loses_no_document(tmp_path: Path) -> None:
    import boto3

    missing = [d for d in DOCS if not (CORPUS / d).is_file()]
    if missing:
        pytest.skip(f"the shared corpus is not at {CORPUS}: {missing}")
    src = tmp_path / "src"
    src.mkdir()
    for name in DOCS:
        shutil.copy2(CORPUS / name, src / name)
    home = tmp_path / "home"
    t_start = time.time()

    # the local engine on the same files: what the Ray run must end with
    local = tmp_path / "local"
    (tmp_path / "l").mkdir()
    res = run_cli(["--config", str(write_config(tmp_path / "l", src, local)), "run", "--pipeline", "t"],
                  clean_env(home), timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    t_local = time.time() - t_start

    with moto_server(cwd=tmp_path) as endpoint:
        s3 = {**S3, "AWS_ENDPOINT_URL": endpoint}
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=S3["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=S3["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket="team")
        storage = {"aws_access_key_id": S3["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": S3["AWS_SECRET_ACCESS_KEY"],
                   "aws_region": "us-east-1", "aws_endpoint": endpoint, "allow_http": "true"}
        uri = "s3://team/idx"
        (tmp_path / "r").mkdir()
        cfg = write_config(tmp_path / "r", src, uri)  # type: ignore[arg-type]
        # The nodes hold no S3 credentials: the driver's go with the job (run.worker_credentials)
        node_env = clean_env(home)
        with ray_head(node_env, num_cpus=1) as head, ray_node(node_env, head.address, num_cpus=1) as second:
            t0 = time.time()
            out, err = (tmp_path / "run.out").open("w+"), (tmp_path / "run.err").open("w+")
            drv = subprocess.Popen(
                [str(BIN / "python3"), str(REPO / "ingest.py"), "--config", str(cfg), "run", "--pipeline", "t",
                 "--engine", "ray", "--ray-address", head.address],
                cwd=REPO, env=clean_env(home, **s3, FOLIO_CACHE_DIR=str(tmp_path / "cache")), stdout=out,
                stderr=err, text=True, start_new_session=True)
            try:
                at_kill: list[str] = []
                t_kill, committed_at_kill = 0.0, -1
                # The kill: once a document is committed (so the run is under way and some of its
                # work is done) and the second node's index actor is embedding another one.
                while drv.poll() is None and not at_kill:
                    if any(IN_FLIGHT in t for t in busy(second)):
                        done = committed(uri, storage)
                        titles = busy(second)
                        if done and any(IN_FLIGHT in t for t in titles):
                            second.kill()  # the second machine is lost while it embeds a document
                            at_kill, t_kill, committed_at_kill = titles, time.time() - t0, done
                    time.sleep(0.5)
                drv.wait(timeout=900)
            finally:
                kill_session(drv)
            t_ray = time.time() - t0
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        print(f"local engine: {t_local:.1f} s; ray run on 2 nodes: {t_ray:.1f} s, second node killed after "
              f"{t_kill:.1f} s with {committed_at_kill} of {len(DOCS)} documents "
              f"committed, its workers running {at_kill}")
        assert at_kill, "the second node never had a document in flight: " + stdout + stderr[-3000:]
        assert second.proc.poll() is not None and not second.processes()  # the node really is gone
        assert 0 < committed_at_kill < len(DOCS)  # killed mid-run
        assert drv.returncode == 0, stdout + stderr[-3000:]
        assert f"{len(DOCS)} ok, 0 failed" in stdout, stdout
        on_ray = index_state(uri, storage)

    on_local = index_state(local, None)
    assert sorted(on_ray["docs"]) == sorted(DOCS)
    ids = Counter(c[0] for c in on_ray["chunks"])
    assert max(ids.values()) == 1  # every document committed exactly once: no chunk twice
    assert on_ray["docs"] == on_local["docs"]
    assert on_ray["chunks"] == on_local["chunks"]
    assert on_ray["elements"] == on_local["elements"]
