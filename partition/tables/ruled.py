"""Ruled tables: PyMuPDF's line-based grid, with our own cell text and spans.

PyMuPDF finds the cell rectangles well on ruled tables, but its cell text drops spaces
on some fonts ("Columnname"), so text comes from page words assigned by centre point.
Spans come from the cell rectangles against the grid of all cell edges.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from typing import Any

from folio.element import BBox
from folio.table_grid import Cell
from partition.tables.columns import fill_grid
from partition.tables.words import Line, Seg, group_lines, is_number

log = logging.getLogger(__name__)

_THIN = 2.5  # pt: a filled rectangle this narrow is a drawn rule, not a shaded band


def rule_signal(page: Any) -> bool:
    """Cheap check (no table finder): does the page draw at least three vertical and two
    horizontal rules? Shaded row bands of ruling-less statements do not count."""
    vx: set[int] = set()
    hy: set[int] = set()
    for d in page.get_cdrawings():
        colour = d.get("fill") if d.get("type") == "f" else d.get("color")
        if colour and len(colour) == 3 and 0.3 * colour[0] + 0.59 * colour[1] + 0.11 * colour[2] > 0.75:
            continue  # light slivers at the edges of shaded bands are not rules
        for item in d.get("items", ()):
            if item[0] == "l":
                p, q = item[1], item[2]
                x0, y0, x1, y1 = min(p[0], q[0]), min(p[1], q[1]), max(p[0], q[0]), max(p[1], q[1])
            elif item[0] == "re":
                x0, y0, x1, y1 = item[1]
                if d.get("type") != "f" and (x1 - x0) > _THIN and (y1 - y0) > _THIN:
                    # a stroked box: its four sides are rules
                    vx.update((round(x0), round(x1)))
                    hy.update((round(y0), round(y1)))
                    continue
            else:
                continue
            w, h = x1 - x0, y1 - y0
            if w <= _THIN and h >= 8:
                vx.add(round(x0))
            elif h <= _THIN and w >= 8:
                hy.add(round(y0))
    return len(vx) >= 3 and len(hy) >= 2


def _snap(values: Sequence[float], tol: float = 2.0) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


def _index(edges: list[float], v: float) -> int:
    i = bisect.bisect_left(edges, v - 2.0)
    return min(i, len(edges) - 1)


def _cell_lines(words: Sequence[Seg], rect: BBox) -> list[Line]:
    x0, y0, x1, y1 = rect
    return group_lines([w for w in words if x0 <= (w.x0 + w.x1) / 2 <= x1 and y0 <= w.yc <= y1])


# grid row, grid column, row span, column span, text lines
_Entry = tuple[int, int, int, int, list[Line]]


def _sub_rows(entries: list[_Entry], r: int) -> int:
    """How many rows grid row ``r`` really holds. Tables ruled only at the top, under
    the header and at the bottom put every body row in one grid row; there each filled
    cell has the same number of text lines, aligned across the row. (A row whose cells
    differ in line count has wrapped or stacked cells: one row.)"""
    if any(e[0] < r < e[0] + e[2] or (e[0] == r and e[2] > 1) for e in entries):
        return 1
    filled = [e[4] for e in entries if e[0] == r and e[4]]
    n = len(filled[0]) if filled else 1
    if len(filled) < 2 or n < 2 or any(len(ls) != n for ls in filled):
        return 1
    for i in range(n):
        centres = [(ls[i].y0 + ls[i].y1) / 2 for ls in filled]
        if max(centres) - min(centres) > 0.5 * (filled[0][i].y1 - filled[0][i].y0):
            return 1
    return n


def table_cells(rects: Sequence[BBox], words: Sequence[Seg]) -> list[Cell]:
    """Cell rectangles (merged cells included once) -> cells with spans and text."""
    xs = _snap([r[0] for r in rects] + [r[2] for r in rects])
    ys = _snap([r[1] for r in rects] + [r[3] for r in rects])
    entries: list[_Entry] = []
    for rect in rects:
        c0, c1 = _index(xs, rect[0]), _index(xs, rect[2])
        r0, r1 = _index(ys, rect[1]), _index(ys, rect[3])
        if c1 > c0 and r1 > r0:
            entries.append((r0, c0, r1 - r0, c1 - c0, _cell_lines(words, rect)))
    offset = [0]
    for row in range(len(ys)):
        offset.append(offset[-1] + _sub_rows(entries, row))
    cells: list[Cell] = []
    for r0, c0, rs, cs, lines in entries:
        n = offset[r0 + 1] - offset[r0]
        if n > 1:
            cells.extend(Cell(offset[r0] + i, c0, ln.text, col_span=cs) for i, ln in enumerate(lines))
        else:
            text = " ".join(ln.text for ln in lines).strip()
            cells.append(Cell(offset[r0], c0, text, row_span=offset[r0 + rs] - offset[r0], col_span=cs))
    _mark_header(cells)
    return fill_grid(cells)


def _mark_header(cells: list[Cell]) -> None:
    """The first row is a header unless it is numeric data; rows that the first row's
    cells span into belong to the header too (a two-level header)."""
    first = [c for c in cells if c.row == 0]
    if not first or sum(is_number(c.text) for c in first if c.text) > len(first) / 2:
        return
    depth = max(c.row_span for c in first)
    for c in cells:
        if c.row < depth:
            c.header = True


def _looks_tabular(cells: list[Cell], filled: list[Cell], nrows: int, ncols: int) -> bool:
    """Framed paragraphs, cover-page colour blocks and diagrams of boxes also make line
    grids; their cells span a lot of the grid or hold whole paragraphs."""
    if nrows < 2 or ncols < 2 or len(filled) < 3 or len(filled) < 0.4 * len(cells):
        return False
    if len(cells) < 0.6 * nrows * ncols:
        return False
    words = sorted(len(c.text.split()) for c in filled)
    return words[len(words) // 2] <= 20


def ruled_tables(page: Any, words: Sequence[Seg], use_layout: bool) -> list[tuple[BBox, list[Cell]]]:
    try:
        found = page.find_tables(strategy="lines", use_layout=use_layout)
    except Exception:  # the finder fails on some malformed drawings; text path still runs
        log.debug("find_tables failed on page %s", page.number, exc_info=True)
        return []
    out: list[tuple[BBox, list[Cell]]] = []
    for tb in found.tables:
        rects = [tuple(c) for c in tb.cells if c is not None]
        cells = table_cells(rects, words)  # type: ignore[arg-type]
        filled = [c for c in cells if c.text]
        rows = {c.row for c in cells}
        cols = {c.col for c in cells}
        if not _looks_tabular(cells, filled, len(rows), len(cols)):
            continue
        out.append((tuple(tb.bbox), cells))  # type: ignore[arg-type]
    return out
