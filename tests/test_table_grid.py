"""Cells with spans -> HTML -> cells again, and the plain-text rendering."""

from __future__ import annotations

from folio.table_grid import Cell, html_to_cells, html_to_grid, to_html, to_text


def sample() -> list[Cell]:
    return [
        Cell(0, 0, "Region", row_span=2, header=True),
        Cell(0, 1, "Revenue", col_span=2, header=True),
        Cell(1, 1, "2024", header=True),
        Cell(1, 2, "2025", header=True),
        Cell(2, 0, "North"),
        Cell(2, 1, "1 <2>"),
        Cell(2, 2, "3"),
    ]


def test_html_has_spans_header_and_escapes() -> None:
    html = to_html(sample())
    assert '<th rowspan="2">Region</th>' in html
    assert '<th colspan="2">Revenue</th>' in html
    assert "<thead>" in html and html.index("</thead>") < html.index("North")
    assert "1 &lt;2&gt;" in html


def test_round_trip_keeps_structure() -> None:
    cells = html_to_cells(to_html(sample()))
    got = {(c.row, c.col, c.row_span, c.col_span, c.text, c.header) for c in cells}
    want = {(c.row, c.col, c.row_span, c.col_span, c.text, c.header) for c in sample()}
    assert got == want
    assert html_to_grid(to_html(sample())) == [
        ["Region", "Revenue", "Revenue"],
        ["Region", "2024", "2025"],
        ["North", "1 <2>", "3"],
    ]


def test_text_rendering_reads_row_by_row() -> None:
    text = to_text(sample())
    assert text.splitlines() == ["Region | Revenue", "Region | 2024 | 2025", "North | 1 <2> | 3"]


def test_nested_table_kept_inside_its_cell() -> None:
    inner = to_html([Cell(0, 0, "a"), Cell(0, 1, "b")])
    outer = to_html([Cell(0, 0, "x", inner_html=inner), Cell(0, 1, "y")])
    cells = html_to_cells(outer)
    assert [c.text for c in cells] == ["x a b", "y"]


def test_nested_text_can_be_left_out() -> None:
    inner = to_html([Cell(0, 0, "a"), Cell(0, 1, "b")])
    outer = to_html([Cell(0, 0, "x", inner_html=inner), Cell(0, 1, "y")])
    assert html_to_grid(outer, nested=False) == [["x", "y"]]
