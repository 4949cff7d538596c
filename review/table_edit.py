"""A reviewer's table edit -> checked, sanitized table HTML and its plain-text rendering.

Two ways in: a grid of cell texts (the review tab's editable DataFrame) or table HTML.
Both must describe a rectangular grid: every row covers the same number of columns, no
cell is covered twice, and no rowspan/colspan runs past the table's edge. An edit that
breaks this is refused with the reason (row, column, what is wrong).
"""

from __future__ import annotations

from folio.sanitize import sanitize_table_html
from folio.table_grid import Cell, grid_shape, header_rows, html_to_cells, normalize_cells, to_dense, to_html
from folio.table_grid import to_text as table_text

MAX_CELLS = 20_000
MAX_CELL_CHARS = 2_000


class TableEditError(ValueError):
    """An invalid table edit; the message says what and where."""


def table_from_html(html: str) -> tuple[str, str]:
    """(sanitized HTML, text) of an HTML table edit."""
    if not isinstance(html, str) or "<table" not in html.lower():
        raise TableEditError("html: must hold a <table> element")
    clean = sanitize_table_html(html)
    check_spans(clean)
    cells = html_to_cells(clean)
    return clean, table_text(cells)


def table_from_grid(grid: list[list[str]], original_html: str | None = None) -> tuple[str, str]:
    """(HTML, text) of a grid edit. When the grid has the shape of the original table's
    dense grid, the original's merged cells and header rows are kept: each cell takes the
    text at its top-left slot."""
    _check_grid(grid)
    rows = [[" ".join(str(v if v is not None else "").split()) for v in row] for row in grid]
    cells: list[Cell] = []
    if original_html:
        orig = normalize_cells(html_to_cells(original_html, nested=False))
        if orig and grid_shape(orig) == (len(rows), len(rows[0])):
            cells = [Cell(c.row, c.col, rows[c.row][c.col], c.row_span, c.col_span, c.header) for c in orig]
    if not cells:
        n_head = 0
        if original_html:
            orig = normalize_cells(html_to_cells(original_html, nested=False))
            n_head = header_rows(orig, grid_shape(orig)[0])
        n_head = n_head or 1  # the first row is the header, as the chunker assumes without <th>
        cells = [Cell(r, k, v, header=r < n_head) for r, row in enumerate(rows) for k, v in enumerate(row)]
    html = sanitize_table_html(to_html(cells))
    return html, table_text(cells)


def _check_grid(grid: object) -> None:
    if not isinstance(grid, list) or not grid or not all(isinstance(r, list) for r in grid):
        raise TableEditError("cells: must be a non-empty list of rows (lists of cell texts)")
    width = len(grid[0])
    if width == 0:
        raise TableEditError("cells: row 1 has no cells")
    for i, row in enumerate(grid, 1):
        if len(row) != width:
            raise TableEditError(f"cells: not a rectangular grid: row {i} has {len(row)} cells, row 1 has {width}")
        for k, v in enumerate(row, 1):
            if v is not None and not isinstance(v, str | int | float):
                raise TableEditError(f"cells: row {i}, column {k}: a cell must be text")
            if v is not None and len(str(v)) > MAX_CELL_CHARS:
                raise TableEditError(f"cells: row {i}, column {k}: over {MAX_CELL_CHARS} characters")
    if len(grid) * width > MAX_CELLS:
        raise TableEditError(f"cells: {len(grid) * width} cells, the limit is {MAX_CELLS}")


def check_spans(html: str) -> None:
    """Raise TableEditError unless the HTML's outer table is a rectangular grid whose spans fit."""
    from html.parser import HTMLParser

    class _Spans(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.rows: list[list[tuple[int, int]]] = []
            self.depth = 0
            self.bad: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "table":
                self.depth += 1
            elif self.depth == 1 and tag == "tr":
                self.rows.append([])
            elif self.depth == 1 and tag in ("td", "th"):
                a = dict(attrs)
                spans = []
                for name in ("rowspan", "colspan"):
                    raw = (a.get(name) or "1").strip()
                    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
                        self.bad = self.bad or f"row {max(len(self.rows), 1)}: {name}={raw!r} is not a span (1-1000)"
                        raw = "1"
                    spans.append(int(raw))
                if not self.rows:
                    self.rows.append([])
                self.rows[-1].append((spans[0], spans[1]))

        def handle_endtag(self, tag: str) -> None:
            if tag == "table":
                self.depth -= 1

    p = _Spans()
    p.feed(html)
    p.close()
    if p.bad:
        raise TableEditError(f"html: {p.bad}")
    rows = [r for r in p.rows if r]
    if not rows:
        raise TableEditError("html: the table has no cells")
    taken: dict[tuple[int, int], tuple[int, int]] = {}
    for r, row in enumerate(rows):
        col = 0
        for rs, cs in row:
            while (r, col) in taken:
                col += 1
            if r + rs > len(rows):
                raise TableEditError(f"html: row {r + 1}, column {col + 1}: rowspan={rs} runs past the last row "
                                     f"({len(rows)} rows)")
            for rr in range(r, r + rs):
                for cc in range(col, col + cs):
                    if (rr, cc) in taken:
                        raise TableEditError(f"html: row {r + 1}, column {col + 1}: its span overlaps the cell at "
                                             f"row {taken[(rr, cc)][0] + 1}, column {taken[(rr, cc)][1] + 1}")
                    taken[(rr, cc)] = (r, col)
            col += cs
    widths = [sum(1 for (rr, _c) in taken if rr == r) for r in range(len(rows))]
    if len(set(widths)) > 1:
        first = widths[0]
        bad = next(i for i, w in enumerate(widths) if w != first)
        raise TableEditError(f"html: not a rectangular grid: row {bad + 1} covers {widths[bad]} columns, "
                             f"row 1 covers {first}")


def dense_grid(html: str | None, text: str = "") -> list[list[str]]:
    """The table as a rectangular grid of strings for an editable grid (spans repeated)."""
    if html:
        grid = to_dense(normalize_cells(html_to_cells(html, nested=False)))
        if grid:
            return grid
    lines = [ln.split(" | ") for ln in text.splitlines() if ln.strip()]
    width = max((len(r) for r in lines), default=0)
    return [r + [""] * (width - len(r)) for r in lines]
