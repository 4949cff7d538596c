"""index/chunk.py: grouping, token limits, table splitting, context, stable ids."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from folio.element import Element, element_id
from index.chunk import Chunk, chunk_elements

SHA = "ab" * 32


def words(n: int, word: str = "word") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


def count_tokens(texts: list[str]) -> list[int]:
    """Fake tokenizer: one token per word plus the two special tokens a model adds."""
    return [len(t.split()) + 2 for t in texts]


def el(order: int, text: str = "", *, kind: str = "text", role: str = "paragraph", page: int | None = 1,
       section: tuple[str, ...] = ("Intro",), bbox: tuple[float, float, float, float] | None = (1, 2, 3, 4),
       **kw: object) -> Element:
    return Element(
        id=element_id(SHA, page, order, kind, text + str(kw.get("html", ""))),
        doc_id=SHA[:16], source="reports/Annual_Report-2022.pdf", doc_sha256=SHA, kind=kind,  # type: ignore[arg-type]
        text=text, role=role, page=page, bbox=bbox, section=section, order=order, **kw,  # type: ignore[arg-type]
    )


def body_ids(chunks: list[Chunk]) -> list[str]:
    return [i for c in chunks for i in c.element_ids]


def test_groups_elements_by_section_in_reading_order() -> None:
    els = [
        el(0, "Intro", role="heading", section=("Intro",)),
        el(1, "alpha paragraph one.", section=("Intro",)),
        el(2, "alpha paragraph two.", section=("Intro",)),
        el(3, "Methods", role="heading", section=("Methods",)),
        el(4, "beta paragraph.", section=("Methods",)),
    ]
    chunks = chunk_elements(list(reversed(els)), count_tokens, 256)
    assert [c.element_ids for c in chunks] == [tuple(e.id for e in els[:3]), tuple(e.id for e in els[3:])]
    assert [c.section for c in chunks] == [("Intro",), ("Methods",)]
    assert [c.order for c in chunks] == [0, 1]
    assert all(c.kind == "text" for c in chunks)


def test_prefix_names_document_section_and_page() -> None:
    e = el(0, "The plant in Ohio closed.", section=("Part II", "Item 7", "Liquidity"), page=41, page_label="39")
    (chunk,) = chunk_elements([e], count_tokens, 256)
    first_line, body = chunk.text.split("\n", 1)
    assert first_line == "Annual Report-2022 | Part II > Item 7 > Liquidity | page 41 (printed 39)"
    assert body == "The plant in Ohio closed."


def test_slides_are_called_slides_and_pictures_are_named() -> None:
    from dataclasses import replace

    pic = replace(el(0, "", kind="image", role="picture", page=6), source="deck.pptx", image="x/p.png",
                  meta={"alt_text": "Org chart"})
    (chunk,) = chunk_elements([pic], count_tokens, 256)
    assert chunk.text.split("\n") == ["deck | Intro | slide 6", "Picture", "Alt text: Org chart"]
    # nothing to search by: a chunk of "Picture" and its page would match any "figure" question
    assert chunk_elements([replace(pic, meta={}, text="G 6")], count_tokens, 256) == []
    assert chunk_elements([replace(pic, meta={}, text="Quarterly revenue by region")], count_tokens, 256)


def test_token_limit_respected_and_every_element_kept() -> None:
    els = [el(i, words(random.Random(i).randint(5, 40), f"w{i}x")) for i in range(60)]
    chunks = chunk_elements(els, count_tokens, 64)
    assert len(chunks) > 10
    assert max(count_tokens([c.text for c in chunks])) <= 64
    assert body_ids(chunks) == [e.id for e in els]  # each once, in order
    # packing: neighbours were merged while they fit, not one element per chunk
    assert len(chunks) < len(els)


def test_heading_starts_a_chunk_and_is_never_alone() -> None:
    els = [
        el(0, words(20, "a"), section=("A",)),
        el(1, "B heading", role="heading", section=("B",)),
        el(2, "B sub heading", role="heading", section=("B", "B1")),
        el(3, words(10, "b"), section=("B", "B1")),
        el(4, words(10, "c"), section=("B", "B1")),
        el(5, "Trailing heading", role="heading", section=("C",)),
    ]
    chunks = chunk_elements(els, count_tokens, 256)
    heading_ids = {els[1].id, els[2].id, els[5].id}
    assert all(not set(c.element_ids) <= heading_ids for c in chunks)
    second = chunks[1]
    assert second.element_ids[:2] == (els[1].id, els[2].id)  # headings lead the chunk they start
    assert second.section == ("B", "B1")
    assert "Trailing heading" in chunks[-1].text


def test_long_paragraph_split_on_sentence_boundaries() -> None:
    sentences = [f"Sentence {i} " + words(8, f"s{i}x") + "." for i in range(20)]
    e = el(0, " ".join(sentences))
    chunks = chunk_elements([e], count_tokens, 48)
    assert len(chunks) > 3
    assert all(c.element_ids == (e.id,) for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    bodies = [c.text.split("\n", 1)[1] for c in chunks]
    assert all(b.endswith(".") and b.startswith("Sentence") for b in bodies)
    assert " ".join(bodies) == " ".join(sentences)
    assert max(count_tokens([c.text for c in chunks])) <= 48


def table_html(n_rows: int) -> str:
    rows = "".join(f"<tr><td>item{i}</td><td>{i * 10}</td></tr>" for i in range(n_rows))
    return f"<table><thead><tr><th>Name</th><th>Value</th></tr></thead><tbody>{rows}</tbody></table>"


def test_long_table_split_by_rows_repeats_header_and_caption() -> None:
    html = table_html(40)
    els = [
        el(0, "Table 3: Inventory by site", role="caption", page=2),
        el(1, "item0 | 0 ...", kind="table", role="table", html=html, page=2, bbox=(10, 20, 30, 40)),
    ]
    chunks = [c for c in chunk_elements(els, count_tokens, 60) if c.kind == "table"]
    assert len(chunks) > 2
    rows_seen = []
    for c in chunks:
        lines = c.text.split("\n")
        assert lines[1] == "Table 3: Inventory by site"
        assert lines[2] == "Name | Value"
        rows_seen += lines[3:]
        assert c.element_ids == (els[1].id,)
        assert c.pages == (2,) and c.boxes == ((2, 10, 20, 30, 40),)
    assert rows_seen == [f"item{i} | {i * 10}" for i in range(40)]
    assert max(count_tokens([c.text for c in chunks])) <= 60
    assert len({c.id for c in chunks}) == len(chunks)


def test_split_table_carries_its_summary_once() -> None:
    summary = "The table lists the value of each item; " + words(20, "detail") + "."
    table = el(1, "item0 | 0 ...", kind="table", role="table", html=table_html(40), page=2, summary=summary)
    chunks = [c for c in chunk_elements([table], count_tokens, 60) if c.kind == "table"]
    with_summary = [c for c in chunks if "Summary: The table lists" in c.text]
    assert with_summary == chunks[:1]  # the first part: summary and header, no rows
    assert "item0 | 0" not in chunks[0].text and "Name | Value" in chunks[0].text
    rows_seen = [ln for c in chunks[1:] for ln in c.text.split("\n") if ln.startswith("item")]
    assert rows_seen == [f"item{i} | {i * 10}" for i in range(40)]
    # without the summary in every part, each part holds several rows (it held 1-2 before)
    assert len(chunks) - 1 <= 40 // 5
    assert len({c.id for c in chunks}) == len(chunks)
    # a table that fits keeps summary and rows together
    small = el(2, "a | b", kind="table", role="table", html=table_html(2), page=2, summary="Two items.")
    (one,) = [c for c in chunk_elements([small], count_tokens, 60) if c.kind == "table"]
    assert "Summary: Two items." in one.text and "item1 | 10" in one.text


def test_stacked_header_rows_merge_per_column_and_rowspans_repeat() -> None:
    html = (
        "<table><tr><th rowspan='2'>Model</th><th colspan='2'>TEDs</th></tr>"
        "<tr><th>simple</th><th>complex</th></tr>"
        "<tr><td rowspan='2'>OTSL</td><td>0.96</td><td>0.93</td></tr><tr><td>0.97</td><td>0.93</td></tr></table>"
    )
    (chunk,) = chunk_elements([el(0, "t", kind="table", role="table", html=html)], count_tokens, 256)
    assert chunk.text.split("\n")[1:] == [
        "Model | TEDs simple | TEDs complex", "OTSL | 0.96 | 0.93", "OTSL | 0.97 | 0.93"
    ]


def test_table_and_image_are_own_chunks_with_their_context() -> None:
    els = [
        el(0, words(5, "p")),
        el(1, "a | b\n1 | 2", kind="table", role="table", summary="Costs rose.", meta={"caption_text": "Costs"}),
        el(2, "STOP", kind="image", role="picture", caption="A red octagonal sign.", meta={"alt_text": "stop sign"}),
        el(3, "", kind="image", role="picture"),  # nothing to embed: no chunk
        el(4, words(5, "q")),
    ]
    chunks = chunk_elements(els, count_tokens, 256)
    assert [c.kind for c in chunks] == ["table", "image", "text"]
    table, image, text = chunks
    assert table.text.split("\n")[1:] == ["Table: Costs", "Summary: Costs rose.", "a | b", "1 | 2"]
    assert image.text.split("\n")[1:] == [
        "Picture", "Description: A red octagonal sign.", "Alt text: stop sign", "Text in image: STOP"
    ]
    assert text.element_ids == (els[0].id, els[4].id)


def test_ids_pages_and_boxes_of_elements_are_kept() -> None:
    els = [
        el(0, "one.", page=3, bbox=(0, 0, 10, 10)),
        el(1, "two.", page=3, bbox=(5, 5, 20, 20)),
        el(2, "three.", page=None, bbox=None),
        el(3, "four.", kind="table", role="table", html=table_html(2), page=4, bbox=(1, 1, 9, 9),
           meta={"spans": [[4, 1, 1, 9, 9], [5, 0, 0, 9, 3]]}),
    ]
    table, chunk = chunk_elements(els, count_tokens, 256)  # a text chunk is emitted when it closes
    assert chunk.element_ids == tuple(e.id for e in els[:3])
    assert chunk.pages == (3,)
    assert chunk.boxes == ((3, 0, 0, 10, 10), (3, 5, 5, 20, 20))
    # a table joined over a page break holds two pages: it cites both, with a box on each
    assert table.pages == (4, 5) and table.boxes == ((4, 1, 1, 9, 9), (5, 0, 0, 9, 3))
    assert (chunk.doc_id, chunk.source, chunk.doc_sha256) == (SHA[:16], els[0].source, SHA)


def test_chunking_is_deterministic() -> None:
    els = [el(i, words(15, f"d{i}x") + ".", section=(f"S{i // 7}",)) for i in range(30)]
    first = chunk_elements(els, count_tokens, 50)
    shuffled = els[:]
    random.Random(3).shuffle(shuffled)
    assert chunk_elements(shuffled, count_tokens, 50) == first
    other_doc = [Element(**{**e.to_dict(), "doc_sha256": "cd" * 32, "bbox": e.bbox,  # type: ignore[arg-type]
                            "section": e.section}) for e in els]
    assert {c.id for c in chunk_elements(other_doc, count_tokens, 50)}.isdisjoint({c.id for c in first})


def test_empty_input() -> None:
    assert chunk_elements([], count_tokens, 256) == []


@pytest.mark.slow
def test_real_tokenizer_limit() -> None:
    from folio.config import EmbedSettings
    from index.embed import load_embedder

    emb = load_embedder(EmbedSettings())
    els = [el(i, "Revenue increased 12% to $4.2 billion in FY2022, driven by pricing. " * (i % 9 + 1))
           for i in range(40)]
    chunks = chunk_elements(els, emb.count_tokens, emb.max_tokens)
    assert max(emb.count_tokens([c.text for c in chunks])) <= emb.max_tokens


def test_text_chunks_end_at_a_page_break() -> None:
    els = [
        el(0, "Intro", role="heading", page=1),
        el(1, "first page text.", page=1),
        el(2, "Methods", role="heading", page=1, section=("Methods",)),  # at the foot of page 1
        el(3, "second page text.", page=2, section=("Methods",)),
        el(4, "more second page text.", page=2, section=("Methods",)),
    ]
    one, two = chunk_elements(els, count_tokens, 256)
    # the heading stays on its page (with the text before it), not travelling to page 2
    assert (one.element_ids, one.pages) == (tuple(e.id for e in els[:3]), (1,))
    assert (two.element_ids, two.pages) == ((els[3].id, els[4].id), (2,))
    # the page-2 chunk still names its section and says which page it is
    assert two.text.split("\n")[0] == "Annual Report-2022 | Methods | page 2"


def test_pptx_chunks_never_span_slides(tmp_path: Path) -> None:
    """A real deck through the real partitioner: a title-only slide, then slides with a
    text box and no title (so the section does not change between them)."""
    from pptx import Presentation
    from pptx.util import Inches

    from tests.office_fixtures import run_partition

    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Bike rentals 2025"
    for line in ("Lyon had the most rentals in March.", "Growth continues in April."):
        slide = deck.slides.add_slide(deck.slide_layouts[6])
        box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(5), Inches(1))
        box.text_frame.text = line
    deck.save(tmp_path / "rentals.pptx")
    els = run_partition(tmp_path / "rentals.pptx", tmp_path)
    chunks = chunk_elements(els, count_tokens, 256)
    by_id = {e.id: e for e in els}
    assert [c.pages for c in chunks] == [(1,), (2,), (3,)]
    for c in chunks:
        (page,) = c.pages
        assert {by_id[i].page for i in c.element_ids} == {page}  # held elements are all on it
        assert c.text.split("\n")[0].endswith(f"slide {page}")  # the label says that slide
        assert {b[0] for b in c.boxes} == {page}
    body = chunks[1].text.split("\n", 1)[1]
    assert body == "Lyon had the most rentals in March."
