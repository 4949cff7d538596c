"""Clean-ups on a detected grid, whichever detector built it.

Financial statements drawn from HTML (SEC filings) put the currency symbol in its own
column, leave spacer columns and rows, and set a column heading in a grid column of its
own next to the values it heads. Tables of contents (a text column and a page-number
column) are not tables for retrieval purposes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

from folio.table_grid import Cell, grid_shape, normalize_cells
from partition.tables.columns import fill_grid
from partition.tables.words import is_number

_CURRENCY_RE = re.compile(r"^(US)?[$€£¥]$")
_PAGE_RE = re.compile(r"^\d{1,4}$")


def _starting_in_col(cells: Iterable[Cell], k: int) -> list[Cell]:
    return [c for c in cells if c.col == k and c.col_span == 1]


def _covering(cells: Iterable[Cell], r: int, k: int) -> Cell | None:
    for c in cells:
        if c.row <= r < c.row + c.row_span and c.col <= k < c.col + c.col_span:
            return c
    return None


def delete_column(cells: list[Cell], k: int) -> list[Cell]:
    out = []
    for c in cells:
        if c.col == k and c.col_span == 1:
            continue
        if c.col <= k < c.col + c.col_span:
            c.col_span -= 1
        elif c.col > k:
            c.col -= 1
        out.append(c)
    return out


def delete_row(cells: list[Cell], r: int) -> list[Cell]:
    out = []
    for c in cells:
        if c.row == r and c.row_span == 1:
            continue
        if c.row <= r < c.row + c.row_span:
            c.row_span -= 1
        elif c.row > r:
            c.row -= 1
        out.append(c)
    return out


def merge_currency_columns(cells: list[Cell]) -> list[Cell]:
    """A column holding only currency symbols joins the values to its right ("$34,229")."""
    k = 0
    while k < grid_shape(cells)[1] - 1:
        own = [c for c in _starting_in_col(cells, k) if c.text]
        if own and all(_CURRENCY_RE.match(c.text) for c in own):
            for c in own:
                nxt = _covering(cells, c.row, k + 1)
                if nxt is not None and nxt is not c and nxt.text and not nxt.text.startswith(c.text):
                    nxt.text = c.text + nxt.text
            cells = delete_column(cells, k)
            continue
        k += 1
    return cells


def merge_header_only_columns(cells: list[Cell]) -> list[Cell]:
    """A column with text only in header rows, next to a column whose header slots in
    those rows are empty: the heading belongs over the neighbour's values."""
    k = 0
    while k < grid_shape(cells)[1]:
        own = [c for c in _starting_in_col(cells, k) if c.text]
        if own and all(c.header for c in own):
            for j in (k + 1, k - 1):
                if j < 0 or j >= grid_shape(cells)[1] or j == 0:
                    continue
                target = {c.row: c for c in _starting_in_col(cells, j)}
                body = [c for c in target.values() if c.text and not c.header]
                if body and all(c.row in target and not target[c.row].text for c in own):
                    for c in own:
                        target[c.row].text = c.text
                    cells = delete_column(cells, k)
                    k -= 1
                    break
        k += 1
    return cells


def drop_empty(cells: list[Cell]) -> list[Cell]:
    """Spacer rows and columns: no text in any cell that starts there."""
    rows, cols = grid_shape(cells)
    for k in reversed(range(cols)):
        if not any(c.text for c in cells if c.col <= k < c.col + c.col_span):
            cells = delete_column(cells, k)
    for r in reversed(range(rows)):
        if not any(c.text for c in cells if c.row <= r < c.row + c.row_span):
            cells = delete_row(cells, r)
    return cells


def is_toc(cells: list[Cell]) -> bool:
    """Entries with page numbers: the only numbers are small integers in one column,
    mostly increasing down the page."""
    nums = [c for c in cells if not c.header and c.col > 0 and is_number(c.text)]  # col 0: section numbers
    if len(nums) < 3 or len({c.col for c in nums}) != 1 or not all(_PAGE_RE.match(c.text) for c in nums):
        return False
    vals = [int(c.text) for c in sorted(nums, key=lambda c: c.row)]
    rising = sum(b >= a for a, b in itertools.pairwise(vals))
    return rising >= 0.8 * (len(vals) - 1)


def repair(cells: list[Cell]) -> list[Cell]:
    cells = normalize_cells(cells)
    cells = merge_currency_columns(cells)
    cells = merge_header_only_columns(cells)
    cells = drop_empty(cells)
    return fill_grid(normalize_cells([c for c in cells if c.row_span > 0 and c.col_span > 0]))
