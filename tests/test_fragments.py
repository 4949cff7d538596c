"""index/fragments.py: rows written as Lance data files by a worker, committed by the
driver in batches (Store.commit_documents). Fragments appended but never committed by a
documents row (a driver killed between the two) are removed by repair(), on a local
folder and on the S3 server alike; a short fragment write is caught before the commit."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from enrich.cache import EnrichCache
from index import schema as S
from index.chunk import chunk_elements
from index.fragments import append, targets, write_document
from index.rows import document_tables
from index.store import DocRecord, Store
from tests.s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)
from tests.test_store import V1, V2, HashEmbedder, index_doc, make_doc, rows


@pytest.fixture
def emb() -> HashEmbedder:
    return HashEmbedder()


def written(store: Store, emb: HashEmbedder, source: str, paragraphs: list[str]) -> tuple[DocRecord, str, Any]:
    """What a Ray worker does for one document: its tables written as fragments."""
    els = make_doc(source, paragraphs)
    chunks = chunk_elements(els, emb.count_tokens, emb.max_tokens)
    write_id = uuid.uuid4().hex
    tables = document_tables(source, els[0].doc_id, write_id, els, chunks, emb.embed([c.text for c in chunks]),
                             {"source": source}, store.doc_schemas(), emb.model_id)
    rec = DocRecord(source=source, sha256=els[0].doc_sha256, doc_id=els[0].doc_id, elements=len(els),
                    chunks=len(chunks), embed_model=emb.model_id)
    return rec, write_id, write_document(tables, targets(store), store.storage_options)


@pytest.fixture(params=["local", "s3"])
def location(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "local":
        return str(tmp_path / "idx")
    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "cache"))
    return str(request.getfixturevalue("s3_bucket")) + "/idx"


def test_a_batch_commits_in_one_documents_version_and_replaces_old_rows(location: str, emb: HashEmbedder) -> None:
    store = Store(location, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("a.pdf", V1))
    docs_version = store._writable(S.DOCUMENTS).version
    batch = [written(store, emb, "a.pdf", V2), written(store, emb, "b.pdf", ["bravo one", "bravo two"])]
    assert all(not w.short() for _, _, w in batch)
    tables = (S.CHUNKS, S.ELEMENTS, S.PROFILES)
    append(store, {name: [f for _, _, w in batch for f in w.fragments.get(name, [])] for name in tables})
    failed = DocRecord(source="c.pdf", status="error", error="c.pdf: damaged")
    store.commit_documents([(rec, wid) for rec, wid, _ in batch], [failed])
    assert store._writable(S.DOCUMENTS).version == docs_version + 1  # one commit point for the batch
    docs = store.documents()
    assert sorted(docs) == ["a.pdf", "b.pdf", "c.pdf"] and docs["c.pdf"].status == "error"
    assert docs["a.pdf"].sha256 == make_doc("a.pdf", V2)[0].doc_sha256
    by_source: dict[str, set[str]] = {}
    for r in rows(store, "chunks"):
        by_source.setdefault(r["source"], set()).add(r["write_id"])
    assert by_source == {"a.pdf": {batch[0][1]}, "b.pdf": {batch[1][1]}}  # V1's rows are gone
    assert len(rows(store, "elements")) == len(V2) + 2
    assert store.repair() == 0


def test_fragments_appended_but_not_committed_are_repaired(location: str, emb: HashEmbedder) -> None:
    store = Store(location, dim=emb.dim, embed_model=emb.model_id)
    old = index_doc(store, emb, make_doc("a.pdf", V1))
    _, _, w = written(store, emb, "a.pdf", V2)
    append(store, w.fragments)  # the driver dies here, before the documents row
    reopened = Store(location, dim=emb.dim, embed_model=emb.model_id)
    assert reopened.count_chunks() > len(old)
    assert reopened.repair() == sum(w.rows.values())
    assert sorted(r["id"] for r in rows(reopened, "chunks")) == sorted(c.id for c in old)
    assert reopened.documents()["a.pdf"].sha256 == make_doc("a.pdf", V1)[0].doc_sha256


def test_a_short_fragment_write_is_named(tmp_path: Path, emb: HashEmbedder) -> None:
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    _, _, w = written(store, emb, "a.pdf", V2)
    assert w.short() == [] and w.rows[S.CHUNKS] > 0
    w.fragments[S.ELEMENTS] = []  # as if a retried write came back without its data file
    assert w.short() == [S.ELEMENTS]


def test_an_index_actor_applies_the_drivers_enrichment_cache(tmp_path: Path) -> None:
    """The Ray index actor, called in this process: with a copy of the driver's cache
    (Enrichment.worker_spec) it commits the captions and summaries a local run made,
    calling no model, and what it writes is what the local engine committed."""
    import pickle

    from folio.review import stamp_content_hashes
    from pipeline.engines.ray.workers import IndexActor, Prepared
    from pipeline.enrichment import Enrichment
    from pipeline.plan import Task
    from pipeline.walk import walk_sources
    from tests.pipeline_fixtures import FakeEmbedder
    from tests.test_pipeline_enrich import FakePartition, corpus, enrich_pipe, fake_ocr
    from tests.test_pipeline_enrich import run as run_local
    from tests.test_pipeline_phases import SlowLLM

    corpus(tmp_path, n=1)
    pipe = enrich_pipe(tmp_path)
    llm = SlowLLM(0.0)
    with pytest.MonkeyPatch.context() as mp:
        from folio import llm as folio_llm

        mp.setattr(folio_llm, "load_llm", lambda *a, **kw: llm)
        runner = run_local(pipe, FakePartition())
    assert runner.report.status == "ok" and len(llm.calls) == 2  # a caption and a summary
    store = Store(pipe.index)
    committed = sorted(r["text"] for r in rows(store, "chunks"))
    spec = Enrichment(pipe, fake_ocr).worker_spec()
    assert spec.cache and EnrichCache.loads(spec.cache).count() == 2

    entry = next(iter(walk_sources(pipe.sources, None).values()))
    sha = store.documents()[entry.source].sha256
    els = stamp_content_hashes(FakePartition()(Task(entry, "new", sha, None), sha, pipe), pipe.assets_dir)
    actor = IndexActor(pickle.dumps(pipe), lambda p: FakeEmbedder(), 1, pickle.dumps(spec),
                       targets(Store(pipe.index, dim=FakeEmbedder().dim)), None)
    out = actor({"i": [0], "prepared": [pickle.dumps(Prepared(source=entry.source, elements=els, sha256=sha))],
                 "overlays": [pickle.dumps({})]})
    prepared: Prepared = pickle.loads(out["prepared"][0])
    assert prepared.error is None and prepared.complete and prepared.stats is not None
    assert prepared.stats.cache_hits == 2 and prepared.stats.made == 0 and len(llm.calls) == 2
    assert prepared.written is not None and not prepared.written.short()
    # committed as the driver does, the document reads back as the local engine wrote it
    writable = Store(pipe.index, dim=FakeEmbedder().dim)
    append(writable, prepared.written.fragments)
    writable.commit_documents([(writable.documents()[entry.source], prepared.write_id)])
    after = rows(writable, "chunks")
    assert {r["write_id"] for r in after} == {prepared.write_id}
    assert sorted(r["text"] for r in after) == committed


def _data_files(store: Store, fragments: dict[str, list[Any]]) -> list[Path]:
    """The files on disk of fragments (Lance keeps a table's data files in <table>.lance/data)."""
    return [Path(targets(store)[name].uri) / "data" / df.path
            for name, frags in fragments.items() for frag in frags for df in frag.files]


def test_fragments_never_committed_are_removed_by_optimize_after_the_retention_window(
        tmp_path: Path, emb: HashEmbedder) -> None:
    """A worker's fragments no version names (a driver killed before the append, a retried
    worker's first attempt) are data files only: optimize's cleanup keeps them while they
    could be a write in progress and removes them once older than the versions kept
    (KEEP_VERSIONS; Lance also never deletes an unnamed file younger than 7 days). The
    window passing is simulated by dating the files back; the committed data stays."""
    import os
    import time

    from index.search import search
    from index.store import KEEP_VERSIONS

    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    old = index_doc(store, emb, make_doc("a.pdf", V1))
    index_doc(store, emb, make_doc("b.pdf", ["bravo one", "bravo two"]))
    _, _, lost = written(store, emb, "a.pdf", V2)  # the driver is killed before it commits these
    _, _, retried = written(store, emb, "b.pdf", ["bravo three"])
    orphans = _data_files(store, lost.fragments) + _data_files(store, retried.fragments)
    assert len(orphans) >= 6 and all(f.is_file() for f in orphans)

    store.optimize()  # within the window: could be a write in progress, kept
    assert all(f.is_file() for f in orphans)

    past = time.time() - (KEEP_VERSIONS.total_seconds() + 86400)
    for f in orphans:
        os.utime(f, (past, past))
    store.optimize()
    assert not any(f.exists() for f in orphans)
    reopened = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    assert sorted(r["id"] for r in rows(reopened, "chunks", "a.pdf")) == sorted(c.id for c in old)
    assert sorted(reopened.documents()) == ["a.pdf", "b.pdf"] and reopened.repair() == 0
    assert search(reopened, emb, "pump failed", k=1)[0].source == "a.pdf"


def test_optimize_keeps_a_source_index_on_every_document_table(tmp_path: Path, emb: HashEmbedder) -> None:
    """The batch commit's delete by source reads the index, not every row: optimize builds it
    on new tables and on indexes written before it existed, and a commit over indexed and
    not yet indexed rows still replaces exactly the old rows."""
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    tables = (S.CHUNKS, S.ELEMENTS, S.PROFILES)

    def commit(batch: list[tuple[DocRecord, str, Any]]) -> None:
        append(store, {n: [f for _, _, w in batch for f in w.fragments.get(n, [])] for n in tables})
        store.commit_documents([(rec, wid) for rec, wid, _ in batch])

    commit([written(store, emb, "a.pdf", V1), written(store, emb, "b.pdf", ["bravo one", "bravo two"])])

    def source_indexes() -> dict[str, list[str]]:
        return {n: [i.index_type for i in store._writable(n).list_indices() if i.columns == ["source"]]
                for n in tables}

    assert source_indexes() == {n: [] for n in tables}
    store.optimize()
    assert source_indexes() == {n: ["BTree"] for n in tables}
    store._writable(S.ELEMENTS).drop_index(store._writable(S.ELEMENTS).list_indices()[0].name)  # an older index
    assert source_indexes()[S.ELEMENTS] == []

    commit([written(store, emb, "a.pdf", V2)])
    index_doc(store, emb, make_doc("a.pdf", ["alpha again"]))  # replaces rows not yet in the index
    store.optimize()
    assert source_indexes() == {n: ["BTree"] for n in tables}
    final = store.committed_writes()["a.pdf"]
    for n in tables:  # the last write has no profile: a.pdf's older profile rows are gone too
        assert {r["write_id"] for r in rows(store, n, "a.pdf")} == (set() if n == S.PROFILES else {final})
        assert len({r["write_id"] for r in rows(store, n, "b.pdf")}) == 1
    assert store.repair() == 0


def test_a_long_run_keeps_the_source_index_current_and_deletes_only_for_replaced_documents(
        tmp_path: Path, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new document's commit deletes nothing (it has no older rows); a replaced one's
    delete names only it. Every SOURCE_INDEX_EVERY commits a delete first brings the
    source index over the rows the run added, and the rows stay exactly the latest."""
    import index.store as store_mod

    monkeypatch.setattr(store_mod, "SOURCE_INDEX_EVERY", 3)
    deletes: list[str] = []
    real = Store._delete_rows
    monkeypatch.setattr(Store, "_delete_rows", lambda self, where: (deletes.append(where), real(self, where))[1])
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("a.pdf", V1))
    store.optimize()
    assert deletes == []  # a.pdf was new
    tbl = store._writable(S.CHUNKS)
    name = next(i.name for i in tbl.list_indices() if i.columns == ["source"])

    def unindexed() -> int:
        return int(tbl.index_stats(name).num_unindexed_rows)

    index_doc(store, emb, make_doc("b.pdf", ["bravo one", "bravo two"]))  # new: no delete
    index_doc(store, emb, make_doc("a.pdf", V2))  # the 2nd commit since optimize: not updated yet
    assert len(deletes) == 1 and "'a.pdf'" in deletes[0] and "'b.pdf'" not in deletes[0]
    assert unindexed() > 0
    index_doc(store, emb, make_doc("a.pdf", ["alpha three"]))  # the 3rd: updated before its delete
    assert len(deletes) == 2 and unindexed() == 0
    assert {r["write_id"] for r in rows(store, "chunks", "a.pdf")} == {store.committed_writes()["a.pdf"]}
    assert [r["text"].endswith("alpha three") for r in rows(store, "chunks", "a.pdf")] == [True]
    assert {r["write_id"] for r in rows(store, "chunks", "b.pdf")} == {store.committed_writes()["b.pdf"]}
    assert store.repair() == 0
