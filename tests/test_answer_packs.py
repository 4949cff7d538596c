"""Statement packs: the hits a question asks for by name are never cut to make room."""

from __future__ import annotations

from answer.packs import merge, period_queries
from index.search import Hit


def _hit(cid: str) -> Hit:
    return Hit(chunk_id=cid, score=1.0, source="a.pdf", doc_id="d", kind="table", text=cid, section=(),
               pages=(1,), boxes=(), element_ids=(cid,))


def test_an_asked_statement_already_ranked_last_is_kept() -> None:
    first = [_hit(c) for c in ("t1", "t2", "t3", "t4", "income")]
    out = merge(first, [_hit("income"), _hit("balance")], 5)
    ids = [h.chunk_id for h in out]
    assert "income" in ids and "balance" in ids
    assert len(ids) == 5 and ids[0] == "t1"


def test_extra_hits_replace_the_lowest_ranked_others() -> None:
    first = [_hit(c) for c in ("t1", "t2", "t3")]
    ids = [h.chunk_id for h in merge(first, [_hit("x"), _hit("y")], 4)]
    assert ids == ["t1", "t2", "x", "y"]


def test_nothing_new_leaves_the_hits_alone() -> None:
    first = [_hit(c) for c in ("t1", "t2")]
    assert merge(first, [_hit("t2")], 5) == first


def test_one_query_per_compared_period() -> None:
    qs = period_queries("Revenue in FY2022 vs FY2021?")
    assert len(qs) == 2 and all(("FY2022" in q) != ("FY2021" in q) for q in qs)


def test_the_statement_itself_is_told_from_a_note_that_reads_like_one() -> None:
    from answer.packs import _titled

    def table(first_line: str, section: tuple[str, ...] = ()) -> Hit:
        return Hit(chunk_id="c", score=1.0, source="3m.pdf", doc_id="d", kind="table",
                   text=f"{first_line}\nStatement: income statement (statement of operations / earnings)",
                   section=section, pages=(1,), boxes=(), element_ids=())

    name = "income statement (statement of operations / earnings)"
    assert _titled(name, table("3M 10K | Item 8 > 3M Company and Subsidiaries Consolidated Statement of Income | p 48"))
    assert _titled(name, table("x | page 3", ("Consolidated Statements of Operations",)))
    assert not _titled(name, table("3M 10K | Item 8 > 2022 Restructuring Actions: | page 65"))
    assert _titled("balance sheet (statement of financial position)", table("Consolidated Balance Sheets | p 50"))
    assert not _titled("cash flow statement", table("Consolidated Balance Sheets | p 50"))
