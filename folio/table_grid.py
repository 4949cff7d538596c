"""One table model for every format: cells with spans -> HTML and a plain-text rendering.

Partitioners build a list of ``Cell`` (row/col in the logical grid, spans, header flag);
this module renders it. ``html_to_grid`` reads our HTML back into a dense grid
(spanned cells repeated), which the table benchmark and row-wise chunking use.
"""

from __future__ import annotations

import html as html_lib
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(slots=True)
class Cell:
    row: int
    col: int
    text: str
    row_span: int = 1
    col_span: int = 1
    header: bool = False
    # A nested table, already rendered by to_html; placed after the cell's own text.
    inner_html: str | None = None


def normalize_cells(cells: list[Cell]) -> list[Cell]:
    """Drop cells fully covered by an earlier span and sort in reading order."""
    taken: set[tuple[int, int]] = set()
    out: list[Cell] = []
    for c in sorted(cells, key=lambda c: (c.row, c.col)):
        if (c.row, c.col) in taken:
            continue
        for r in range(c.row, c.row + c.row_span):
            for k in range(c.col, c.col + c.col_span):
                taken.add((r, k))
        out.append(c)
    return out


def grid_shape(cells: list[Cell]) -> tuple[int, int]:
    if not cells:
        return 0, 0
    rows = max(c.row + c.row_span for c in cells)
    cols = max(c.col + c.col_span for c in cells)
    return rows, cols


def to_dense(cells: list[Cell]) -> list[list[str]]:
    """A rows x cols grid of strings; a spanning cell's text fills every slot it covers."""
    rows, cols = grid_shape(cells)
    grid = [["" for _ in range(cols)] for _ in range(rows)]
    for c in cells:
        for r in range(c.row, c.row + c.row_span):
            for k in range(c.col, c.col + c.col_span):
                grid[r][k] = c.text
    return grid


def to_html(cells: list[Cell]) -> str:
    cells = normalize_cells(cells)
    rows, _ = grid_shape(cells)
    by_row: dict[int, list[Cell]] = {}
    for c in cells:
        by_row.setdefault(c.row, []).append(c)
    n_head = header_rows(cells, rows)
    parts = ["<table>"]
    for r in range(rows):
        if r == 0 and n_head:
            parts.append("<thead>")
        if r == n_head:
            parts.append("</thead><tbody>" if n_head else "<tbody>")
        parts.append("<tr>")
        for c in by_row.get(r, []):
            tag = "th" if c.header else "td"
            attrs = ""
            if c.row_span > 1:
                attrs += f' rowspan="{c.row_span}"'
            if c.col_span > 1:
                attrs += f' colspan="{c.col_span}"'
            text = html_lib.escape(c.text).replace("\n", "<br>")
            if c.inner_html:
                text += c.inner_html
            parts.append(f"<{tag}{attrs}>{text}</{tag}>")
        parts.append("</tr>")
    if rows and n_head == rows:
        parts.append("</thead>")
    elif rows:
        parts.append("</tbody>")
    parts.append("</table>")
    return "".join(parts)


def header_rows(cells: list[Cell], rows: int) -> int:
    """Number of leading rows whose cells are all headers (a <thead>)."""
    n = 0
    for r in range(rows):
        row_cells = [c for c in cells if c.row == r]
        if row_cells and all(c.header for c in row_cells):
            n = r + 1
        else:
            break
    return n


def to_text(cells: list[Cell]) -> str:
    """Plain-text rendering: one line per row, cells separated by ' | '.

    Spanned header text is repeated so every line can be read on its own.
    """
    grid = to_dense(normalize_cells(cells))
    lines = []
    for row in grid:
        vals = [v.replace("\n", " ").strip() for v in row]
        # Collapse a horizontally spanned value repeated across its columns.
        collapsed: list[str] = []
        for v in vals:
            if collapsed and v and v == collapsed[-1]:
                continue
            collapsed.append(v)
        if any(collapsed):
            lines.append(" | ".join(collapsed))
    return "\n".join(lines)


class _GridParser(HTMLParser):
    def __init__(self, nested: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self._nested = nested  # keep a nested table's text in its outer cell
        self.cells: list[Cell] = []
        self._row = -1
        self._cur: Cell | None = None
        self._buf: list[str] = []
        self._occupied: set[tuple[int, int]] = set()
        self._depth = 0  # nested tables are kept as text of their cell

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            return
        if self._depth > 1:
            if tag in ("td", "th", "tr") and self._cur is not None:
                self._buf.append(" ")  # keep nested cell texts apart
            return
        if tag == "tr":
            self._row += 1
        elif tag in ("td", "th"):
            a = dict(attrs)
            col = 0
            while (self._row, col) in self._occupied:
                col += 1
            rs = int(a.get("rowspan") or 1)
            cs = int(a.get("colspan") or 1)
            self._cur = Cell(self._row, col, "", rs, cs, tag == "th")
            for r in range(self._row, self._row + rs):
                for k in range(col, col + cs):
                    self._occupied.add((r, k))
            self._buf = []
        elif tag == "br" and self._cur is not None:
            self._buf.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth -= 1
            return
        if self._depth > 1:
            return
        if tag in ("td", "th") and self._cur is not None:
            text = "".join(self._buf)
            self._cur.text = "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()
            self.cells.append(self._cur)
            self._cur = None

    def handle_data(self, data: str) -> None:
        if self._cur is not None and (self._nested or self._depth <= 1):
            self._buf.append(data)


def html_to_cells(html: str, nested: bool = True) -> list[Cell]:
    """Cells of the outer table; ``nested=False`` leaves nested tables' text out."""
    p = _GridParser(nested)
    p.feed(html)
    return p.cells


def html_to_grid(html: str, nested: bool = True) -> list[list[str]]:
    return to_dense(html_to_cells(html, nested))
