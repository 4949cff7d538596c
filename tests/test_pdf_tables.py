"""PDF table detection and structure on PDFs built in code, plus the benchmark's scoring."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from bench.tables import adjacency_relations, prf
from folio.config import PartitionSettings
from folio.ocr import OcrBox
from folio.table_grid import Cell, html_to_cells, to_dense, to_html
from partition.pdf.tables import find_ocr_tables, find_page_tables

FAST = PartitionSettings(tables="fast")


def _page(tmp_path: Path, draw) -> pymupdf.Page:  # type: ignore[no-untyped-def]
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    draw(page)
    path = tmp_path / "t.pdf"
    doc.save(path)
    return pymupdf.open(path)[0]


def _ruled(page: pymupdf.Page) -> None:
    # Table 1 with a group heading "Scores" over two columns, ruled on every edge
    xs = [72, 200, 300, 400]
    ys = [100, 120, 140, 160, 180]
    for y in ys:
        # the label heading "Team" spans both header rows: no rule under its first row
        page.draw_line((xs[1] if y == ys[1] else xs[0], y), (xs[-1], y))
    for x in xs:
        # the rule between the two score columns stops under the group heading
        page.draw_line((x, ys[1] if x == 300 else ys[0]), (x, ys[-1]))
    page.insert_text((72, 92), "Table 1: Scores by team", fontsize=10)
    page.insert_text((76, 135), "Team", fontsize=10)
    page.insert_text((280, 115), "Scores", fontsize=10)
    page.insert_text((204, 135), "Home", fontsize=10)
    page.insert_text((304, 135), "Away", fontsize=10)
    for y, row in ((155, ("Red Lions", "12", "7")), (175, ("Blue Birds", "9", "14"))):
        page.insert_text((76, y), row[0], fontsize=10)
        page.insert_text((204, y), row[1], fontsize=10)
        page.insert_text((304, y), row[2], fontsize=10)


def test_ruled_table_with_spanning_header(tmp_path: Path) -> None:
    tables = find_page_tables(_page(tmp_path, _ruled), FAST)
    assert len(tables) == 1
    t = tables[0]
    cells = html_to_cells(to_html(t.cells))  # what users see
    scores = next(c for c in cells if c.text == "Scores")
    assert (scores.row, scores.col, scores.col_span) == (0, 1, 2)
    assert scores.header
    team = next(c for c in cells if c.text == "Team")
    assert team.header and team.row_span == 2  # label heading spans the two header rows
    assert to_dense(t.cells)[2:] == [["Red Lions", "12", "7"], ["Blue Birds", "9", "14"]]
    assert t.caption == "Table 1: Scores by team"


def _statement(page: pymupdf.Page) -> None:
    # A ruling-less income statement: label column, currency symbols set apart.
    page.insert_text((72, 80), "The company reported the following results for the year.", fontsize=10)
    page.insert_text((380, 120), "2022", fontsize=9)
    page.insert_text((480, 120), "2021", fontsize=9)
    rows = [
        ("Net sales", "$", "34,229", "$", "35,355"),
        ("Cost of sales", "", "19,232", "", "18,795"),
        ("Gain on divestitures", "", "(2,724)", "", "-"),
        ("Operating income", "", "6,539", "", "7,369"),
        ("Net income", "$", "5,777", "$", "5,921"),
    ]
    y = 140
    for label, c1, v1, c2, v2 in rows:
        page.insert_text((72, y), label, fontsize=9)
        for cur, val, right in ((c1, v1, 405), (c2, v2, 505)):
            if cur:
                page.insert_text((right - 60, y), cur, fontsize=9)
            w = pymupdf.get_text_length(val, fontsize=9)
            page.insert_text((right - w, y), val, fontsize=9)  # right-aligned numbers
        y += 14
    page.insert_text((72, y + 30), "Amounts are in millions of dollars and unaudited.", fontsize=10)


def test_rulingless_numeric_table_with_label_column(tmp_path: Path) -> None:
    tables = find_page_tables(_page(tmp_path, _statement), FAST)
    assert len(tables) == 1
    grid = to_dense(tables[0].cells)
    assert grid[0] == ["", "2022", "2021"]
    assert grid[1] == ["Net sales", "$34,229", "$35,355"]
    assert grid[3] == ["Gain on divestitures", "(2,724)", "-"]
    assert grid[-1] == ["Net income", "$5,777", "$5,921"]
    assert all(c.header for c in tables[0].cells if c.row == 0)
    assert not any(c.header for c in tables[0].cells if c.row > 0)
    # the prose above and below stays out of the table
    assert tables[0].bbox[1] > 100 and tables[0].bbox[3] < 215


_PROSE = (
    "Retrieval systems rank passages by similarity to the question. In 2019 we measured "
    "recall at 20 and 100 passages over 3 datasets, and the dense model improved 9 points "
    "over BM25 on 4 of 5 benchmarks while using 2 GPUs for 12 hours of training. "
)


def _two_columns(page: pymupdf.Page) -> None:
    page.insert_textbox(pymupdf.Rect(72, 72, 296, 720), _PROSE * 6, fontsize=10)
    page.insert_textbox(pymupdf.Rect(316, 72, 540, 720), _PROSE * 6, fontsize=10)


def test_two_column_prose_is_not_a_table(tmp_path: Path) -> None:
    assert find_page_tables(_page(tmp_path, _two_columns), FAST) == []


def _contents(page: pymupdf.Page) -> None:
    for i, (title, pg) in enumerate([("Business", 4), ("Risk Factors", 10), ("Properties", 21), ("Legal", 22)]):
        page.insert_text((72, 100 + 16 * i), f"Item {i + 1}", fontsize=10)
        page.insert_text((150, 100 + 16 * i), title, fontsize=10)
        page.insert_text((500, 100 + 16 * i), str(pg), fontsize=10)


def test_table_of_contents_is_not_a_table(tmp_path: Path) -> None:
    assert find_page_tables(_page(tmp_path, _contents), FAST) == []


def test_tables_off(tmp_path: Path) -> None:
    assert find_page_tables(_page(tmp_path, _ruled), PartitionSettings(tables="off")) == []


def test_ocr_boxes_make_a_table() -> None:
    def box(x: float, y: float, text: str) -> OcrBox:
        return OcrBox(text, (x, y, x + 8 * len(text), y + 14), 0.99)

    boxes = [box(40, 40, "VITAL SIGNS")]
    boxes += [box(40, 80, "Measurement"), box(200, 80, "Value"), box(320, 80, "Status")]
    for i, (m, v, s) in enumerate(
        [
            ("Heart Rate", "78 bpm", "NORMAL"),
            ("Temperature", "98.6°F", "NORMAL"),
            ("Blood Pressure", "142/88 mmHg", "ELEVATED"),
        ]
    ):
        y = 104 + 22 * i
        boxes += [box(40, y, m), box(200, y, v), box(320, y, s)]
    tables = find_ocr_tables(boxes, (0, 0, 600, 800))
    assert len(tables) == 1
    assert to_dense(tables[0].cells) == [
        ["Measurement", "Value", "Status"],
        ["Heart Rate", "78 bpm", "NORMAL"],
        ["Temperature", "98.6°F", "NORMAL"],
        ["Blood Pressure", "142/88 mmHg", "ELEVATED"],
    ]


def _grid(rows: list[list[str]]) -> list[Cell]:
    return [Cell(r, k, t) for r, row in enumerate(rows) for k, t in enumerate(row)]


def test_adjacency_f1_of_a_perturbed_grid() -> None:
    gt = _grid([["a", "b", "c"], ["d", "e", "f"]])
    # relations: a-b, b-c, d-e, e-f (right) and a-d, b-e, c-f (down): 7
    assert sum(adjacency_relations(gt).values()) == 7
    assert prf(adjacency_relations(gt), adjacency_relations(gt))[2] == 1.0
    # swap the last two columns of the second row: d-f, f-e (right) and c-e, b-f (down)
    pred = _grid([["a", "b", "c"], ["d", "f", "e"]])
    p, r, f1 = prf(adjacency_relations(pred), adjacency_relations(gt))
    assert (p, r) == (3 / 7, 3 / 7)
    assert f1 == pytest.approx(3 / 7)
    # empty cells are skipped: the nearest non-empty neighbour counts
    gapped = _grid([["a", "", "c"], ["d", "e", "f"]])
    assert ("a", "c", "R") in adjacency_relations(gapped)
    # a spanning cell relates to each neighbour along its edge
    span = [Cell(0, 0, "h", col_span=2), Cell(1, 0, "x"), Cell(1, 1, "y")]
    assert {k for k in adjacency_relations(span) if k[2] == "D"} == {("h", "x", "D"), ("h", "y", "D")}


def _code_listing(page: pymupdf.Page) -> None:
    code = [
        ("WHEN VERIFY_GROUP_FOR_USER ( SESSION_USER , 'HR' )", "= 3"),
        ("THEN EMPLOYEES . DATE_OF_BIRTH", ""),
        ("WHEN VERIFY_GROUP_FOR_USER ( SESSION_USER , 'MGR' )", "= 1"),
        ("AND SESSION_USER = EMPLOYEES . USER_ID", ""),
        ("WHEN VERIFY_GROUP_FOR_USER ( SESSION_USER , 'EMP' )", "= 1"),
        ("THEN ( 9999 || '-' || MONTH ( DATE_OF_BIRTH ) )", "= 2"),
    ]
    # the trailing "= 1" of each condition lines up like a value column
    for i, (stmt, tail) in enumerate(code):
        page.insert_text((72, 100 + 12 * i), stmt, fontsize=9)
        if tail:
            page.insert_text((400, 100 + 12 * i), tail[0], fontsize=9)
            page.insert_text((440, 100 + 12 * i), tail[-1], fontsize=9)


def test_code_listing_is_not_a_table(tmp_path: Path) -> None:
    assert find_page_tables(_page(tmp_path, _code_listing), FAST) == []
