"""Pointers in a question (slide/page numbers, figure/table references, kinds) re-rank."""

from __future__ import annotations

from typing import Any

from index.query_hints import KIND_BONUS, PAGE_BONUS, REF_BONUS, parse
from index.search import fuse


def row(cid: str, kind: str = "text", pages: tuple[int, ...] = (), text: str = "doc | page 1\nbody") -> dict[str, Any]:
    return {"id": cid, "doc_id": "d", "source": "d.pdf", "kind": kind, "text": text, "section": [],
            "pages": list(pages), "boxes": "[]", "element_ids": [cid]}


def test_parse_pages_refs_and_kinds() -> None:
    h = parse("What colours are the square and the circle in the picture on slide 6?")
    assert h.pages == {6} and h.kinds == {"image"} and not h.refs
    h = parse("In Table 2-1 on page 8, what is the data type?")
    assert h.pages == {8} and h.kinds == {"table"}
    assert h.refs[0].search("Table 2-1: FUNCTION_USAGE view") and not h.refs[0].search("Table 2-10")
    h = parse("How did revenue change in 2022?")
    assert not (h.pages or h.refs or h.kinds)  # years are not pages
    assert h.statements == ("Statement: income statement (statement of operations / earnings)",)
    assert not parse("What is the boiling point of water?")
    h = parse("Per the consolidated statements of income, what were rewards expenses?")
    assert h.statements == ("Statement: income statement (statement of operations / earnings)",)
    h = parse("What was the quick ratio, and how much capex was spent?")
    assert {s.split(" (")[0] for s in h.statements} == {"Statement: balance sheet", "Statement: cash flow statement"}


def test_bonus_counts_each_pointer_once() -> None:
    h = parse("What is plotted on the x-axis of Figure 1 on page 5?")
    fig = row("a", "image", (5,), "paper | page 5\nFigure: Figure 1: Retrieval accuracy")
    assert h.bonus(fig) == PAGE_BONUS + KIND_BONUS + REF_BONUS
    assert h.bonus(row("b", "text", (4,))) == 0.0
    printed = row("c", "text", (57,), "10-K | Item 7 | page 57 (printed 55)\nbody")
    assert parse("see page 55").bonus(printed) == PAGE_BONUS
    chart = row("d", "table", (4,), "deck | slide 4\nChart: Sales")
    assert parse("the chart on slide 4").bonus(chart) == PAGE_BONUS + KIND_BONUS


def test_fusion_lifts_the_pointed_at_candidate_only_among_candidates() -> None:
    slide4_chart = row("chart", "table", (4,), "deck | slide 4\nChart: Sales by year")
    title_slide = row("title", "text", (1,), "other | slide 1\nTitle Slide")
    # The chart is first in FTS only; the title slide is second in both legs.
    vec = [row("v1"), title_slide]
    fts = [slide4_chart, title_slide]
    plain = fuse(vec, fts, 3, 60)
    assert plain[0].chunk_id == "title"
    hinted = fuse(vec, fts, 3, 60, parse("What is the title of the chart on slide 4?"))
    assert hinted[0].chunk_id == "chart"
    assert {h.chunk_id for h in hinted} == {h.chunk_id for h in plain}
