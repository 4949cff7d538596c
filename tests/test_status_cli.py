"""``ingest.py status`` as a user runs it (a real CLI subprocess in a clean environment)
on a real index: the enrichment backlog, the review queue, the last runs (documents
changed, time, failures) and failed documents; read-only; the same numbers the Corpus
tab shows (both come from review/backlog.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.store import Store
from tests.pipeline_fixtures import REPO, Counters, FakeEmbedder, make_corpus, make_pdf, pipeline_for, run


def _status(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, str(REPO / "ingest.py"), "status", "--db", str(index), *args],
                          cwd=index.parent, env=env, capture_output=True, text=True, timeout=300)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    # A reader of a WAL database, read-only too, rewrites SQLite's shared-memory index
    # (-shm) and may create an empty -wal file: neither holds data.
    def transient(p: Path) -> bool:
        return p.name.endswith("-shm") or (p.name.endswith("-wal") and p.stat().st_size == 0)

    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file() and not transient(p)}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two nights: the first indexes 3 documents and fails one, the second sees one changed
    document; then a reader flags one element for review."""
    root = tmp_path_factory.mktemp("status")
    src, idx = root / "src", root / "idx"
    make_corpus(src, n_pdf=2)
    (src / "broken.pdf").write_bytes(b"")
    pipe = pipeline_for(src, idx)
    run(pipe, Counters())
    make_pdf(src / "doc0.pdf", ["The alpha0 report was rewritten with new figures."])
    run(pipe, Counters())
    from review.reviewer import Reviewer

    store = Store(idx)
    element = next(e for e in store.elements("doc1.pdf") if e.kind == "text")
    Reviewer(pipe, store, FakeEmbedder()).flag([element.id], "ann", "wrong figure")
    return idx


def test_status_shows_backlog_review_queue_and_last_nights(index: Path) -> None:
    before = _tree(index)
    done = _status(index, "--json")
    assert done.returncode == 0, done.stderr
    st = json.loads(done.stdout)
    assert st["documents_ok"] == 3 and st["enrich_pending"] == [] and st["enrich_items_left"] == 0
    assert st["review_queue"] == 1  # the flagged element
    assert [f["source"] for f in st["failed"]] == ["broken.pdf"]
    newest, first = st["runs"]
    # the second night changed one document and failed none (broken.pdf is a known failure)
    assert (newest["changed"], newest["failed"]) == (1, 0) and newest["counts"]["unchanged"] == 2
    assert (first["changed"], first["failed"]) == (4, 1) and first["counts"]["new"] == 4
    assert first["seconds"] > 0 and first["started_at"] < newest["started_at"]
    assert _tree(index) == before  # read-only: no file written or touched

    text = _status(index, "--runs", "1", "--no-review")
    lines = text.stdout.splitlines()
    assert text.returncode == 0 and "enrichment backlog: none" in lines
    assert not any(line.startswith("review queue") for line in lines)  # --no-review
    run_lines = [line for line in lines if " changed " in line]
    assert len(run_lines) == 1 and "1 changed" in run_lines[0] and "0 failed" in run_lines[0]
    assert any(line.startswith("  broken.pdf: ") for line in lines)


def test_status_without_an_index_says_so_and_writes_nothing(tmp_path: Path) -> None:
    done = _status(tmp_path / "none")
    assert done.returncode == 0 and "0 documents indexed" in done.stdout and "no runs yet" in done.stdout
    assert not (tmp_path / "none").exists()
