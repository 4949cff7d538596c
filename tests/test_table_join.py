"""A table continued over a page break is one element (real PDFs through the real
partitioner); parallel tables with the same header stay apart; chunks cover both pages."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from folio.config import PartitionSettings
from folio.table_grid import html_to_grid
from index.chunk import chunk_elements
from partition import partition_file

HEADER = ("Region", "2022", "2021")
ROW_H = 20


def _draw_table(page: pymupdf.Page, y0: float, rows: list[tuple[str, str, str]]) -> None:
    xs = [72, 260, 380, 500]
    ys = [y0 + i * ROW_H for i in range(len(rows) + 2)]
    for y in ys:
        page.draw_line((xs[0], y), (xs[-1], y))
    for x in xs:
        page.draw_line((x, ys[0]), (x, ys[-1]))
    for r, row in enumerate([HEADER, *rows]):
        for c, text in enumerate(row):
            page.insert_text((xs[c] + 4, ys[r] + 14), text, fontsize=10)


def _pdf(path: Path, first: list[tuple[str, str, str]], second: list[tuple[str, str, str]], heading: str = "") -> Path:
    doc = pymupdf.open()
    p1 = doc.new_page(width=612, height=792)
    p1.insert_text((72, 60), "Table 7. Net sales by region (in millions)", fontsize=11)
    _draw_table(p1, 80, first)  # runs to the bottom margin of the page
    p2 = doc.new_page(width=612, height=792)
    y0 = 60
    if heading:
        p2.insert_text((72, 50), heading, fontsize=11)
        y0 = 80
    _draw_table(p2, y0, second)
    doc.save(path)
    return path


def _rows(prefix: str, n: int) -> list[tuple[str, str, str]]:
    return [(f"{prefix} {i}", f"{100 + i:,}", f"{90 + i:,}") for i in range(n)]


def _partition(path: Path) -> list:  # type: ignore[type-arg]
    return partition_file(path, PartitionSettings(), path.parent / "assets")


def test_a_table_continued_on_the_next_page_is_one_element(tmp_path: Path) -> None:
    first, second = _rows("District", 30), _rows("Province", 12)
    els = _partition(_pdf(tmp_path / "long.pdf", first, second))
    tables = [e for e in els if e.kind == "table"]
    assert len(tables) == 1, [t.text[:60] for t in tables]
    t = tables[0]
    grid = html_to_grid(t.html or "")
    labels = [row[0] for row in grid]
    assert labels[0] == "Region" and labels.count("Region") == 1  # the repeated header is dropped
    assert labels[1:] == [r[0] for r in first + second]  # every row, in order
    assert [int(s[0]) for s in t.meta["spans"]] == [1, 2]
    # the chunks of the joined table cover both pages, and its second-page rows carry the header
    chunks = [c for c in chunk_elements(els, lambda ts: [len(x.split()) for x in ts], 96) if c.kind == "table"]
    assert {p for c in chunks for p in c.pages} == {1, 2}
    last = next(c for c in chunks if "Province 11" in c.text)
    assert "Region | 2022 | 2021" in last.text
    assert {b[0] for b in chunks[0].boxes} == {1, 2}


def test_parallel_tables_with_the_same_rows_stay_apart(tmp_path: Path) -> None:
    # one table per year, same header and the same row labels: not a continuation
    rows = _rows("District", 30)
    els = _partition(_pdf(tmp_path / "parallel.pdf", rows, rows[:12]))
    assert len([e for e in els if e.kind == "table"]) == 2


def test_a_new_table_after_a_heading_is_not_joined(tmp_path: Path) -> None:
    els = _partition(_pdf(tmp_path / "two.pdf", _rows("District", 30), _rows("Province", 12),
                          heading="Table 8. Operating income by region and by quarter of the fiscal year"))
    assert len([e for e in els if e.kind == "table"]) == 2
