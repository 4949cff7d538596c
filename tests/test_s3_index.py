"""The index on an object store (a real moto server, tests/s3_fixtures.py): the whole
incremental contract gives the same documents, chunk ids and search results as on a local
folder; the run lock is an object written with a conditional put, so a second driver
exits 3; reports, the snapshot fast path and `ingest.py search --db s3://...` work there."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from folio.config import ChunkSettings, Pipeline
from folio.errors import ConfigError
from folio.storage import S3Blobs, resolve_options
from index.search import search
from index.store import open_index
from pipeline.lock import LockedError, ObjectLock
from tests.pipeline_fixtures import (
    REPO,
    Counters,
    FakeEmbedder,
    kill_after_first_commit,
    make_corpus,
    make_pdf,
    pipeline_for,
    run,
    sentence,
)
from tests.s3_fixtures import moto_endpoint, s3_bucket, s3_env  # noqa: F401  (fixtures)

QUERIES = ("alpha0 results", "gamma report", "zeta details", "beta2 paragraph")


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "cache"))  # a remote index's local folder


def state(pipe: Pipeline) -> dict[str, Any]:
    """What a user can observe of an index: documents, chunk ids, search results."""
    store = open_index(pipe)
    docs = {s: (d.sha256, d.status, d.chunks, d.pages, d.error is not None) for s, d in store.documents().items()}
    tbl = store.chunks_table
    ids = sorted(tbl.to_arrow()["id"].to_pylist()) if tbl is not None else []
    hits = {}
    for q in QUERIES:
        for mode in ("fts", "vector", "hybrid"):
            found = search(store, FakeEmbedder(), q, k=5, mode=mode)
            # equal scores come back in storage order, which compaction may change: ties
            # are compared as a set (by sorting them on the chunk id)
            ranked = sorted(found, key=lambda h: (-round(h.score, 4), h.chunk_id))
            hits[f"{mode}:{q}"] = [(h.source, h.chunk_id, round(h.score, 4)) for h in ranked]
    return {"docs": docs, "ids": ids, "hits": hits}


def assert_same(remote: dict[str, Any], local: dict[str, Any]) -> None:
    assert remote["docs"] == local["docs"]
    assert remote["ids"] == local["ids"]
    diff = {k: (remote["hits"][k], v) for k, v in local["hits"].items() if remote["hits"][k] != v}
    assert not diff, diff


class InProcess(Counters):
    """Counts partitioner calls like Counters, partitioning in this process (no fork per
    document: the store is the point here, and this test runs every step twice)."""

    def options(self, **kw: Any) -> Any:
        from partition import partition_file

        opts = super().options(**kw)

        def partition(task: Any, sha: str, pipe: Pipeline) -> Any:
            self.partitioned.append(task.entry.source)
            return partition_file(task.entry.path, pipe.partition, pipe.assets_dir, task.entry.source, sha)

        opts.partition = partition
        return opts


def both(local: Pipeline, remote: Pipeline) -> tuple[Any, Any, Counters, Counters]:
    cl, cr = InProcess(), InProcess()
    a, b = run(local, cl), run(remote, cr)
    return a, b, cl, cr


def test_incremental_contract_on_s3_matches_local(tmp_path: Path, s3_bucket: str) -> None:  # noqa: F811
    src = tmp_path / "src"
    make_corpus(src, n_pdf=3)
    (src / "broken.pdf").write_bytes(b"%PDF-1.7\n not a pdf at all \n")
    local = pipeline_for(src, tmp_path / "idx")
    remote = pipeline_for(src, f"{s3_bucket}/team/idx")  # type: ignore[arg-type]
    assert remote.remote == f"{s3_bucket}/team/idx" and remote.index.is_relative_to(tmp_path / "cache")

    # new (and one that fails)
    a, b, cl, cr = both(local, remote)
    assert a.report.counts == b.report.counts and a.report.counts["failed"] == 1 and a.report.counts["ok"] == 4
    assert sorted(cl.partitioned) == sorted(cr.partitioned)
    first = state(local)
    assert_same(state(remote), first)
    assert first["ids"] and first["hits"]["fts:alpha0 results"]
    assert str(b.report_path).startswith(f"{s3_bucket}/team/idx/reports/")

    # nothing changed: the snapshot fast path on the object store too
    a, b, cl, cr = both(local, remote)
    assert a._fast and b._fast and cl.embedder_loads == cr.embedder_loads == 0

    # changed, deleted, new, failed-known
    make_pdf(src / "doc0.pdf", [sentence("zeta"), sentence("eta")])
    (src / "doc1.pdf").unlink()
    make_pdf(src / "new.pdf", [sentence("omega")])
    a, b, cl, cr = both(local, remote)
    assert a.report.counts == b.report.counts
    assert a.report.counts["deleted"] == 1 and a.report.counts["failed_known"] == 1
    assert sorted(cl.partitioned) == sorted(cr.partitioned) == ["doc0.pdf", "new.pdf"]
    second = state(local)
    assert_same(state(remote), second)
    assert second != first

    # a settings (fingerprint) change: re-chunked from the stored elements, same on both
    local2 = local.model_copy(update={"chunk": ChunkSettings(max_tokens=24)})
    remote2 = remote.model_copy(update={"chunk": ChunkSettings(max_tokens=24)})
    a, b, cl, cr = both(local2, remote2)
    # (the failed document is retried under new settings; the others reuse their elements)
    assert cl.partitioned == cr.partitioned == ["broken.pdf"] and a.report.counts == b.report.counts
    third = state(local2)
    assert_same(state(remote2), third)
    assert len(third["ids"]) > len(second["ids"])

    # the runs table and the reports are on the store
    blobs = S3Blobs(remote.remote or "", resolve_options())
    last = json.loads(blobs.read("reports/last.json") or b"{}")
    assert last["run_id"] == b.report.run_id and last["index"] == remote.remote


def test_two_drivers_second_exits_3(tmp_path: Path, s3_bucket: str) -> None:  # noqa: F811
    src = tmp_path / "src"
    make_corpus(src, n_pdf=1, with_docx=False)
    uri = f"{s3_bucket}/idx"
    blobs = S3Blobs(uri, resolve_options())
    holder = ObjectLock(blobs)
    holder.acquire()  # another driver (alive, on this host) holds the index
    try:
        with pytest.raises(LockedError):
            ObjectLock(S3Blobs(uri, resolve_options())).acquire()
        cmd = [sys.executable, str(REPO / "ingest.py"), "--config", "/nonexistent.toml",
               "run", "--source", str(src), "--db", uri]
        out = subprocess.run(cmd, capture_output=True, text=True, env=s3_env(), cwd=tmp_path)
        assert out.returncode == 3, out.stdout + out.stderr
        assert "another run holds" in out.stderr and f"{uri}/run.lock" in out.stderr
    finally:
        holder.release()
    assert blobs.read("run.lock") is None
    done = subprocess.run(cmd, capture_output=True, text=True, env=s3_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    search = subprocess.run(
        [sys.executable, str(REPO / "ingest.py"), "--config", "/nonexistent.toml", "search", "--db", uri,
         "--mode", "fts", "--json", "alpha0"], capture_output=True, text=True, env=s3_env(), cwd=tmp_path)
    assert search.returncode == 0, search.stderr
    assert {h["source"] for h in json.loads(search.stdout.splitlines()[-1])} == {"doc0.pdf"}


def test_stale_object_lock_is_taken_over_and_a_live_one_is_not(s3_bucket: str) -> None:  # noqa: F811
    blobs = S3Blobs(f"{s3_bucket}/idx", resolve_options())
    # a holder on another machine that stopped refreshing the lock 20 minutes ago
    old = {"pid": 1, "host": "elsewhere", "started_at": time.time() - 3600, "heartbeat_at": time.time() - 1200}
    blobs.write("run.lock", json.dumps(old).encode())
    lock = ObjectLock(blobs, stale_after=900)
    lock.acquire()
    assert lock.took_over is not None and lock.took_over["host"] == "elsewhere"
    # the same holder refreshed recently: not stale, whoever it is
    other = ObjectLock(S3Blobs(f"{s3_bucket}/idx", resolve_options()), stale_after=900)
    with pytest.raises(LockedError):
        other.acquire()
    lock.release()
    other.acquire()
    other.release()


def test_heartbeat_refreshes_the_lock(s3_bucket: str) -> None:  # noqa: F811
    blobs = S3Blobs(f"{s3_bucket}/idx", resolve_options())
    lock = ObjectLock(blobs, stale_after=4)  # beats every second
    lock.acquire()
    first = json.loads(blobs.read("run.lock") or b"{}")["heartbeat_at"]
    time.sleep(2.5)
    assert json.loads(blobs.read("run.lock") or b"{}")["heartbeat_at"] > first
    lock.release()


def test_credentials_in_the_pipeline_are_refused(tmp_path: Path) -> None:
    from folio.config import load_config

    cfg = tmp_path / "pipelines.toml"
    cfg.write_text('[pipelines.p]\nsources = [{ path = "." }]\nindex = "s3://b/idx"\n'
                   '[pipelines.p.storage_options]\naws_secret_access_key = "hunter2"\n')
    with pytest.raises(ConfigError, match=r"storage_options.*AWS_SECRET_ACCESS_KEY"):
        load_config(cfg)
    cfg.write_text('[pipelines.p]\nsources = [{ path = "." }]\nindex = "s3://b/idx"\n'
                   '[pipelines.p.storage_options]\naws_endpoint = "http://127.0.0.1:9000"\nallow_http = "true"\n')
    pipe = load_config(cfg).pipeline("p")
    assert pipe.remote == "s3://b/idx" and pipe.store_options() is not None
    assert (pipe.store_options() or {})["aws_endpoint"] == "http://127.0.0.1:9000"


@pytest.mark.slow  # the real embedder in two CLI processes against the S3 server (~60 s)
def test_sigkill_mid_run_on_s3_then_rerun_is_complete(tmp_path: Path, s3_bucket: str) -> None:  # noqa: F811
    """kill -9 once a document is committed: the lock object stays behind (its holder's
    pid is dead on this host, so the re-run takes it over) and the repair works on S3."""
    import signal
    from collections import Counter

    src = tmp_path / "src"
    files = make_corpus(src, n_pdf=6, with_docx=False)
    uri = f"{s3_bucket}/idx"
    cmd = [sys.executable, str(REPO / "ingest.py"), "--config", "/nonexistent.toml", "-v",
           "run", "--source", str(src), "--db", uri]
    assert kill_after_first_commit(cmd, cwd=tmp_path, env=s3_env()) == -signal.SIGKILL
    pipe = pipeline_for(src, uri)  # type: ignore[arg-type]
    assert 1 <= len(open_index(pipe).documents()) < len(files)
    assert S3Blobs(uri, resolve_options()).read("run.lock")  # left behind by the killed run

    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=s3_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "taking over stale lock" in done.stderr
    docs = open_index(pipe).documents()
    assert sorted(docs) == sorted(files) and all(d.status == "ok" for d in docs.values())
    rows = open_index(pipe).chunks_table.to_arrow().select(["id", "source", "doc_sha256"]).to_pylist()
    ids = Counter(r["id"] for r in rows)
    assert ids and max(ids.values()) == 1
    assert all(r["doc_sha256"] == docs[r["source"]].sha256 for r in rows)
