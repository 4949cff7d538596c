"""Two phases in every run: every new or changed document is indexed (searchable) before
any caption or summary is made; the enrichment backfill re-commits each document as it
is finished and resumes in a later run without partitioning or re-indexing from scratch.

The LLM is a fake that is slow and checks the index at its first call (the real model
path is covered by tests/test_pipeline_enrich.py); partitioning is the counting fake there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from folio import llm as folio_llm
from index.search import search
from index.store import Store
from pipeline.plan import INDEXED
from tests.pipeline_fixtures import FakeEmbedder
from tests.test_pipeline_enrich import FakePartition, corpus, enrich_pipe, run, stored


class SlowLLM:
    """Answers every chat after ``delay`` seconds; ``on_first`` runs before the first answer."""

    def __init__(self, delay: float, on_first: Any = None) -> None:
        self.delay = delay
        self.on_first = on_first
        self.calls: list[float] = []
        self.n_ctx = 2048

    def chat(self, messages: list[dict[str, Any]], max_tokens: int = 256) -> str:
        if not self.calls and self.on_first is not None:
            self.on_first()
        self.calls.append(time.time())
        time.sleep(self.delay)
        return "A bar chart of quarterly revenue by region, with the North region ahead."

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        pass


@pytest.fixture
def slow_llm(monkeypatch: pytest.MonkeyPatch) -> SlowLLM:
    fake = SlowLLM(0.3)
    monkeypatch.setattr(folio_llm, "load_llm", lambda *a, **kw: fake)
    return fake


def searchable(index: Path, source: str, word: str) -> bool:
    """``word`` finds ``source`` by full-text search and the vector leg finds it too."""
    store = Store(index)
    fts = search(store, None, word, k=5, source=source, mode="fts")
    vec = search(store, FakeEmbedder(), word, k=5, source=source, mode="vector")
    return bool(fts) and bool(vec)


def test_every_document_is_searchable_before_the_first_caption(tmp_path: Path, slow_llm: SlowLLM) -> None:
    corpus(tmp_path, n=3)
    pipe = enrich_pipe(tmp_path)
    seen: dict[str, Any] = {}

    def check_index() -> None:
        docs = Store(pipe.index).documents()
        seen["docs"] = {s: (d.status, d.chunks, d.enrich_left) for s, d in docs.items()}
        seen["searchable"] = {s: searchable(pipe.index, s, "Quarterly") for s in docs}
        seen["captions"] = [e.caption for s in docs for e in stored(pipe.index, s) if e.caption]

    slow_llm.on_first = check_index
    part = FakePartition()
    report = run(pipe, part).report
    assert report.status == "ok", report.to_dict()
    # at the first model call: all three documents committed, searchable, no caption yet
    assert sorted(seen["docs"]) == ["doc0.pdf", "doc1.pdf", "doc2.pdf"]
    assert all(st == "partial" and chunks > 0 and left == 2 for st, chunks, left in seen["docs"].values())
    assert seen["searchable"] == dict.fromkeys(seen["docs"], True)
    assert seen["captions"] == []
    # then the backfill: each document re-committed complete, captions and summaries searchable
    assert len(slow_llm.calls) == 6 and sorted(part.calls) == ["doc0.pdf", "doc1.pdf", "doc2.pdf"]
    docs = Store(pipe.index).documents()
    assert {(d.status, d.enrich_left) for d in docs.values()} == {("ok", 0)}
    assert report.counts["ok"] == 3 and report.counts["enrich_pending"] == 0
    assert set(report.phases) == {"index", "enrich"} and report.phases["enrich"] >= 6 * 0.3
    assert "(indexing " in report.summary_lines(None)[0]
    hits = search(Store(pipe.index), None, "North region ahead", k=10, mode="fts")
    assert {h.source for h in hits if h.kind == "image"} == {"doc0.pdf", "doc1.pdf", "doc2.pdf"}


def test_interrupted_backfill_resumes_without_partitioning(tmp_path: Path, slow_llm: SlowLLM) -> None:
    corpus(tmp_path, n=3)
    pipe = enrich_pipe(tmp_path, max_items=3)  # phase 2 stops after three model items
    part = FakePartition()
    first = run(pipe, part).report
    assert len(slow_llm.calls) == 3 and first.counts["ok"] == 3 and first.counts["enrich_pending"] == 2
    docs = Store(pipe.index).documents()
    assert [docs[s].enrich_left for s in ("doc0.pdf", "doc1.pdf", "doc2.pdf")] == [0, 1, 2]
    assert [docs[s].status for s in ("doc0.pdf", "doc1.pdf", "doc2.pdf")] == ["ok", "partial", "partial"]
    assert all(d.status in INDEXED and d.chunks > 0 for d in docs.values())

    # the next run: no partitioning, only the missing items, in the enrichment phase
    part2 = FakePartition()
    second = run(pipe.model_copy(update={"enrich": pipe.enrich.model_copy(update={"max_items": None})}), part2)
    assert part2.calls == [] and len(slow_llm.calls) == 6
    assert second.report.phases["index"] < second.report.phases["enrich"]
    assert {d.status for d in Store(pipe.index).documents().values()} == {"ok"}
    # and a night with nothing left is the fast path again
    third = run(pipe, FakePartition())
    assert third._fast and len(slow_llm.calls) == 6


def test_old_documents_table_gains_the_column(tmp_path: Path) -> None:
    """An index written before ``enrich_left`` existed is read as it is and migrated on write."""
    import lancedb
    import numpy as np
    import pyarrow as pa

    from index import schema as S
    from index.store import DocRecord

    old = pa.schema([f for f in S.DOCUMENTS_SCHEMA if f.name != "enrich_left"])
    db = lancedb.connect(str(tmp_path / "idx" / "lancedb"))
    tbl = db.create_table(S.DOCUMENTS, schema=old)
    tbl.add(pa.Table.from_pylist([{"source": "a.pdf", "status": "ok", "sha256": "s", "write_id": "w"}], schema=old))
    assert Store(tmp_path / "idx").documents()["a.pdf"].enrich_left is None  # read-only: as it is
    assert "enrich_left" not in db.open_table(S.DOCUMENTS).schema.names
    store = Store(tmp_path / "idx", dim=16)
    assert "enrich_left" in db.open_table(S.DOCUMENTS).schema.names
    store.replace_document(DocRecord(source="b.pdf", enrich_left=3), [], [], np.zeros((0, 16), np.float32))
    docs = Store(tmp_path / "idx").documents()
    assert (docs["a.pdf"].enrich_left, docs["b.pdf"].enrich_left) == (None, 3)



def test_recommit_embeds_only_changed_chunk_texts(tmp_path: Path) -> None:
    import numpy as np

    from pipeline.backfill import embed_reusing
    from tests.test_store import HashEmbedder, index_doc, make_doc

    emb = HashEmbedder(dim=16)
    store = Store(tmp_path / "idx", dim=16, embed_model=emb.model_id)
    chunks = index_doc(store, emb, make_doc("a.pdf", ["first paragraph", "second paragraph", "third one"]))
    assert len(chunks) == 3
    asked: list[str] = []

    def counting(texts: list[str]) -> np.ndarray:
        asked.extend(texts)
        return emb.embed(texts)

    texts = [chunks[0].text, "a caption now joins the picture", chunks[2].text]
    vectors = embed_reusing(store, "a.pdf", texts, counting)
    assert asked == ["a caption now joins the picture"]
    assert np.allclose(vectors, emb.embed(texts), atol=1e-6)
