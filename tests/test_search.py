"""index/search.py: hybrid fusion, modes, filters in both legs, hostile query text, citations."""

from __future__ import annotations

from pathlib import Path

import pytest

from folio.element import Element, element_id
from index.search import Hit, build_filter, fts_terms, fuse, search
from index.store import Store
from tests.test_store import HashEmbedder, index_doc, make_doc


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, HashEmbedder]:
    emb = HashEmbedder()
    store = Store(tmp_path_factory.mktemp("idx"), dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("fleet.pdf", [
        "The company sold its car fleet in 2021.",
        "Gearbox model QX-7731 was recalled for overheating.",
        "Staff numbers were unchanged.",
    ]))
    index_doc(store, emb, make_doc("finance/report.pdf", [
        "Revenue for FY2022 was 5.2 million dollars.",
        "The board met four times.",
        "Gearbox suppliers were changed.",
    ], page0=10))
    sha = "9" * 64
    table = Element(id=element_id(sha, 3, 0, "table", "t"), doc_id=sha[:16], source="tables.docx", doc_sha256=sha,
                    kind="table", text="Region | Revenue\nEMEA | 12", role="table",
                    html="<table><tr><th>Region</th><th>Revenue</th></tr><tr><td>EMEA</td><td>12</td></tr></table>")
    index_doc(store, emb, [table])
    store.optimize()
    return store, emb


def test_hybrid_finds_an_exact_term_through_fts(indexed: tuple[Store, HashEmbedder]) -> None:
    store, emb = indexed
    hits = search(store, emb, "which part number QX-7731?", k=3)
    assert hits[0].source == "fleet.pdf" and "QX-7731" in hits[0].text
    assert hits[0].rank_fts == 1 and hits[0].rank_vec is not None
    assert hits[0].score == pytest.approx(1 / 61 + 1 / (60 + hits[0].rank_vec))


def test_hybrid_finds_a_paraphrase_through_vectors_only(indexed: tuple[Store, HashEmbedder]) -> None:
    store, emb = indexed
    # No word in common with "The company sold its car fleet" for BM25; the (fake) embedder
    # maps automobile -> car, as a real one maps paraphrases close together.
    assert search(store, emb, "automobile", k=3, mode="fts") == []
    hits = search(store, emb, "automobile", k=3)
    assert "car fleet" in hits[0].text
    assert hits[0].rank_vec == 1 and hits[0].rank_fts is None


def test_modes(indexed: tuple[Store, HashEmbedder]) -> None:
    store, emb = indexed
    fts = search(store, emb, "gearbox", k=5, mode="fts")
    assert {h.source for h in fts} == {"fleet.pdf", "finance/report.pdf"}
    assert all(h.rank_vec is None and h.rank_fts for h in fts)
    vec = search(store, None, "gearbox", k=2, mode="vector", query_vector=emb.embed_query("gearbox"))
    assert len(vec) == 2 and all(h.rank_fts is None and h.rank_vec for h in vec)
    assert vec[0].score >= vec[1].score
    with pytest.raises(ValueError, match="hybrid"):
        search(store, emb, "x", mode="semantic")


@pytest.mark.parametrize("mode", ["hybrid", "vector", "fts"])
def test_filters_apply_to_both_legs(indexed: tuple[Store, HashEmbedder], mode: str) -> None:
    store, emb = indexed
    hits = search(store, emb, "gearbox recalled revenue", k=10, source="finance/report.pdf", mode=mode)
    assert hits and {h.source for h in hits} == {"finance/report.pdf"}
    hits = search(store, emb, "gearbox revenue region", k=10, page=12, mode=mode)
    assert [h.pages for h in hits] == [(12,)]
    hits = search(store, emb, "revenue region EMEA", k=10, kind="table", mode=mode)
    assert [h.source for h in hits] == ["tables.docx"]
    assert search(store, emb, "gearbox", k=10, source="nowhere.pdf", mode=mode) == []


@pytest.mark.parametrize("query", [
    "FY2022?", '"unterminated quote', "revenue: 2022", "a AND (b OR", "*", "::", "O'Brien's car",
    "NOT", "\\", "x~2", '+-&&||!(){}[]^"~*?:\\/', "revenue' OR 1=1 --", "  ", "über-größe café",
])
def test_punctuation_never_raises(indexed: tuple[Store, HashEmbedder], query: str) -> None:
    store, emb = indexed
    for mode in ("hybrid", "fts"):
        hits = search(store, emb, query, k=3, mode=mode, source="O'Brien.pdf" if "O'Brien" in query else None)
        assert isinstance(hits, list)
    if query == "FY2022?":
        assert "FY2022" in search(store, emb, query, k=1, mode="fts")[0].text


def test_hits_carry_citations(indexed: tuple[Store, HashEmbedder]) -> None:
    store, emb = indexed
    (hit,) = search(store, emb, "board met four times", k=1)
    assert isinstance(hit, Hit)
    assert hit.source == "finance/report.pdf" and hit.kind == "text"
    assert hit.pages == (11,) and hit.boxes == ((11, 0.0, 0.0, 100.0, 20.0),)
    assert len(hit.element_ids) == 1 and len(hit.element_ids[0]) == 24
    assert hit.section == ("S1",)


def test_fusion_counts_a_duplicate_once() -> None:
    row = {"id": "a", "doc_id": "d", "source": "s", "kind": "text", "text": "t", "section": [], "pages": [1],
           "boxes": "[]", "element_ids": ["e"]}
    other = {**row, "id": "b"}
    hits = fuse([row, row, other], [other], k=5, rrf_k=60)
    assert [h.chunk_id for h in hits] == ["b", "a"]
    assert hits[1].rank_vec == 1 and hits[0].rank_vec == 2 and hits[0].rank_fts == 1


def test_query_helpers() -> None:
    assert fts_terms('What was "FY2022" revenue: (net)?') == "What was FY2022 revenue net"
    assert build_filter(source="it's.pdf", kind="table", page=3) == (
        "source = 'it''s.pdf' AND kind = 'table' AND array_has_any(pages, [3])"
    )
    assert build_filter() is None


def test_empty_or_missing_store(tmp_path: Path) -> None:
    assert search(Store(tmp_path), HashEmbedder(), "anything") == []


@pytest.mark.slow
def test_real_embedder_paraphrase(tmp_path: Path) -> None:
    from folio.config import EmbedSettings
    from index.embed import load_embedder

    emb = load_embedder(EmbedSettings())
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("a.pdf", [  # type: ignore[arg-type]
        "Quarterly revenue grew eleven percent thanks to strong handset sales.",
        "The cafeteria menu now offers vegetarian dishes every Tuesday.",
        "Our headquarters moved to a larger office in Denver.",
    ]))
    hits = search(store, emb, "where did the company relocate its main office?", k=1)  # type: ignore[arg-type]
    assert "Denver" in hits[0].text
