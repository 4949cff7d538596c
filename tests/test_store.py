"""index/store.py: commit protocol, repair after a crash, delete, failures, runs, embedder change."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from folio.element import Element, element_id
from index.chunk import Chunk, chunk_elements
from index.store import DocRecord, Store

REPO = Path(__file__).resolve().parents[1]
# The fake embedder maps these words onto one bucket, so a paraphrase can match by vector only.
SYNONYMS = {"automobile": "car", "vehicle": "car", "earnings": "revenue", "income": "revenue"}


class HashEmbedder:
    """Bag of hashed words -> unit vector: fast, deterministic, no model files."""

    def __init__(self, dim: int = 64, model_id: str = "hash-64") -> None:
        self.dim, self.model_id, self.max_tokens = dim, model_id, 128

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                w = SYNONYMS.get(w, w)
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        out[:, 0] += 1e-3  # never a zero vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def make_doc(source: str, paragraphs: list[str], sha: str | None = None, page0: int = 1) -> list[Element]:
    sha = sha or hashlib.sha256((source + "|".join(paragraphs)).encode()).hexdigest()
    return [
        Element(id=element_id(sha, page0 + i, i, "text", p), doc_id=sha[:16], source=source, doc_sha256=sha,
                kind="text", text=p, page=page0 + i, bbox=(0.0, 0.0, 100.0, 20.0), section=(f"S{i}",), order=i)
        for i, p in enumerate(paragraphs)
    ]


def index_doc(store: Store, emb: HashEmbedder, els: list[Element], **doc_kw: object) -> list[Chunk]:
    chunks = chunk_elements(els, emb.count_tokens, emb.max_tokens)
    doc = DocRecord(source=els[0].source, sha256=els[0].doc_sha256, doc_id=els[0].doc_id,
                    elements=len(els), chunks=len(chunks), embed_model=emb.model_id, **doc_kw)  # type: ignore[arg-type]
    store.replace_document(doc, els, chunks, emb.embed([c.text for c in chunks]))
    return chunks


def rows(store: Store, table: str, source: str | None = None) -> list[dict]:
    t = store.db.open_table(table)
    data = t.search().where(f"source = '{source}'").limit(None).to_list() if source else t.to_arrow().to_pylist()
    return list(data)


@pytest.fixture
def emb() -> HashEmbedder:
    return HashEmbedder()


V1 = ["the old pump failed in march", "maintenance was scheduled twice"]
V2 = ["the new turbine was installed in june", "output rose by ten percent", "costs fell"]


def test_replace_twice_leaves_no_duplicates(tmp_path: Path, emb: HashEmbedder) -> None:
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    els = make_doc("a.pdf", V1)
    chunks = index_doc(store, emb, els)
    index_doc(store, emb, els)  # same bytes again (e.g. settings changed)
    assert store.count_chunks() == len(chunks)
    assert sorted(r["id"] for r in rows(store, "elements")) == sorted(e.id for e in els)
    assert list(store.documents()) == ["a.pdf"]
    index_doc(store, emb, make_doc("a.pdf", V2))  # file changed
    texts = " ".join(r["text"] for r in rows(store, "chunks"))
    assert "turbine" in texts and "pump" not in texts
    assert len(rows(store, "elements")) == len(V2)
    assert store.documents()["a.pdf"].sha256 == make_doc("a.pdf", V2)[0].doc_sha256


def test_crash_before_commit_keeps_old_version(
    tmp_path: Path, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    old_chunks = index_doc(store, emb, make_doc("a.pdf", V1))

    def killed(*a: object, **k: object) -> None:
        raise KeyboardInterrupt  # stands in for the process dying at the commit point

    monkeypatch.setattr(Store, "_upsert_documents", killed)
    with pytest.raises(KeyboardInterrupt):
        index_doc(store, emb, make_doc("a.pdf", V2))
    monkeypatch.undo()
    reopened = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    on_disk = reopened.count_chunks()
    assert on_disk > len(old_chunks)  # the uncommitted rows are there
    assert reopened.repair() == len(V2) + on_disk - len(old_chunks)
    assert sorted(r["id"] for r in rows(reopened, "chunks")) == sorted(c.id for c in old_chunks)
    assert reopened.repair() == 0

    from index.search import search

    hits = search(reopened, emb, "old pump failed", k=3)
    assert hits and "pump" in hits[0].text


def test_crash_after_commit_keeps_new_version(
    tmp_path: Path, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("a.pdf", V1))
    monkeypatch.setattr(Store, "_delete_rows", lambda self, where: None)  # dies before the cleanup
    new_chunks = index_doc(store, emb, make_doc("a.pdf", V2))
    monkeypatch.undo()
    assert store.repair() == len(V1) * 2  # old chunks + old elements (one chunk per paragraph here)
    assert sorted(r["id"] for r in rows(store, "chunks")) == sorted(c.id for c in new_chunks)


@pytest.mark.parametrize("committed", [False, True])
def test_sigkill_around_the_commit_point(tmp_path: Path, emb: HashEmbedder, committed: bool) -> None:
    """A real SIGKILL in a child process just before / just after the documents upsert,
    then repair() in this one."""
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    old_chunks = index_doc(store, emb, make_doc("a.pdf", V1))
    new_chunks = chunk_elements(make_doc("a.pdf", V2), emb.count_tokens, emb.max_tokens)
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path[:0] = [{str(REPO)!r}]
        from tests.test_store import HashEmbedder, index_doc, make_doc, V2
        from index.store import Store
        real = Store._upsert_documents
        def die(self, *a, **k):
            if {committed!r}:
                real(self, *a, **k)
            os.kill(os.getpid(), signal.SIGKILL)
        Store._upsert_documents = die
        emb = HashEmbedder()
        index_doc(Store({str(tmp_path)!r}, dim=emb.dim, embed_model=emb.model_id), emb, make_doc("a.pdf", V2))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    reopened = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    reopened.repair()
    expected = new_chunks if committed else old_chunks
    assert sorted(r["id"] for r in rows(reopened, "chunks")) == sorted(c.id for c in expected)
    assert len(rows(reopened, "elements")) == len(V2 if committed else V1)
    assert reopened.documents()["a.pdf"].sha256 == expected[0].doc_sha256


def test_delete_document(tmp_path: Path, emb: HashEmbedder) -> None:
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("a.pdf", V1))
    b = index_doc(store, emb, make_doc("dir/b's.pdf", V2))
    store.delete_document("a.pdf")
    assert list(store.documents()) == ["dir/b's.pdf"]
    assert sorted(r["id"] for r in rows(store, "chunks")) == sorted(c.id for c in b)
    assert {r["source"] for r in rows(store, "elements")} == {"dir/b's.pdf"}
    assert store.repair() == 0


def test_record_failure_removes_rows_of_the_changed_file(tmp_path: Path, emb: HashEmbedder) -> None:
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("a.pdf", V1))
    index_doc(store, emb, make_doc("b.pdf", V2))
    store.record_failure(DocRecord(source="a.pdf", sha256="f" * 64, status="error", error="a.pdf: truncated"))
    docs = store.documents()
    assert (docs["a.pdf"].status, docs["a.pdf"].error) == ("error", "a.pdf: truncated")
    assert {r["source"] for r in rows(store, "chunks")} == {"b.pdf"}
    assert store.repair() == 0


def test_runs_newest_first(tmp_path: Path) -> None:
    store = Store(tmp_path, dim=8)
    store.add_run({"run_id": "r1", "started_at": "2026-01-01T00:00:00Z", "status": "running", "pipeline": "p"})
    store.add_run({"run_id": "r2", "started_at": "2026-01-02T00:00:00Z", "status": "ok", "pipeline": "p",
                   "report": {"documents": {"ok": 3}}})
    store.add_run({"run_id": "r1", "started_at": "2026-01-01T00:00:00Z", "status": "partial", "pipeline": "p",
                   "finished_at": "2026-01-01T01:00:00Z", "report": {"failed": ["x.pdf"]}})
    runs = store.runs()
    assert [(r["run_id"], r["status"]) for r in runs] == [("r2", "ok"), ("r1", "partial")]
    assert runs[1]["report"] == {"failed": ["x.pdf"]}
    assert len(store.runs(limit=1)) == 1


def test_embedder_change_recreates_chunks(tmp_path: Path, emb: HashEmbedder) -> None:
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("a.pdf", V1))
    same = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    assert same.count_chunks() == len(V1)
    assert Store(tmp_path).embed_model == "hash-64" and Store(tmp_path).dim == 64
    other = Store(tmp_path, dim=emb.dim, embed_model="other-model")
    assert other.count_chunks() == 0 and other.embed_model == "other-model"
    assert other.documents()["a.pdf"].embed_model == "hash-64"  # tells the runner to re-embed
    narrower = Store(tmp_path, dim=32)
    assert narrower.dim == 32 and narrower.embed_model is None  # a new width: a new, unnamed model
    small = HashEmbedder(dim=32, model_id="other-model")
    index_doc(narrower, small, make_doc("a.pdf", V1))
    assert narrower.count_chunks() == len(V1)


def test_vectors_of_the_wrong_width_are_refused(tmp_path: Path, emb: HashEmbedder) -> None:
    store = Store(tmp_path, dim=32)
    with pytest.raises(ValueError, match="width"):
        index_doc(store, emb, make_doc("a.pdf", V1))
    assert store.documents() == {}


def test_optimize_builds_indexes_and_compacts(
    tmp_path: Path, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.store as store_mod

    monkeypatch.setattr(store_mod, "VECTOR_INDEX_MIN_ROWS", 200)
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    for d in range(12):
        index_doc(store, emb, make_doc(f"d{d}.pdf", [f"doc {d} para {i} " + "filler " * 30 for i in range(20)]))
    tbl = store.chunks_table
    assert tbl.stats()["fragment_stats"]["num_fragments"] >= 12
    store.optimize()
    kinds = {tuple(i.columns): i.index_type for i in tbl.list_indices()}
    assert kinds == {("text",): "FTS", ("vector",): "IvfSq", ("source",): "BTree"}
    assert tbl.stats()["fragment_stats"]["num_fragments"] == 1
    index_doc(store, emb, make_doc("late.pdf", ["zebracorn appears late"]))
    store.optimize()
    from index.search import search

    assert search(store, emb, "zebracorn", k=1, mode="fts")[0].source == "late.pdf"
