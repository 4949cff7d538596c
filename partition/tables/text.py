"""Ruling-less tables from text alignment alone (government and financial statements).

A table body is a run of "data lines": several cells with a number after the first
cell. Headers are the lines just above the body that put text over the value columns;
label-only lines ("Current assets:") between them stay as body rows. Candidates must
look like tables, not prose: short cells, mostly numeric value columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from folio.element import BBox
from folio.table_grid import Cell
from partition.tables.columns import Interval, build_cells, find_columns, numeric_share
from partition.tables.words import Line, is_number, median_line_height

# "Table 2: ...", "Table 3-1 Special registers", not a sentence ("Table 3-1 lists the ...")
CAPTION_RE = re.compile(r"^\s*(?i:table|exhibit|tab\.)\s*[\dA-Z][\w.\-–]*([:.]|\s+[^a-z\s]|\s*$)")
_YEAR_RE = re.compile(r"^(FY\s?)?(19|20)\d\d[A-Z]?$")


@dataclass
class TextTable:
    bbox: BBox
    cells: list[Cell]
    lines: list[Line]


def _is_year_line(ln: Line) -> bool:
    """Column headings made of years ("2022 2021 2020") look numeric but are headers."""
    nums = [s.text.strip() for s in ln.segs if is_number(s.text)]
    return bool(nums) and all(_YEAR_RE.match(n) for n in nums)


def _over_values(ln: Line, cols: Sequence[Interval]) -> bool:
    """Does the line put text over a value column (anything right of the label column)?"""
    return len(cols) > 1 and any(s.x1 > cols[1][0] for s in ln.segs)


def _intro_sentence(ln: Line, cols: Sequence[Interval]) -> bool:
    """ "The following table summarizes cost of sales:" - one phrase from the left edge
    into the value columns, ending like a sentence or long."""
    if len(ln.segs) != 1 or ln.x0 > cols[0][1]:
        return False
    text = ln.text.rstrip()
    return text.endswith((":", ".")) or len(text.split()) > 5


def _runs(lines: Sequence[Line], lh: float) -> list[list[int]]:
    """Indices of data lines grouped into runs; a few label lines may sit between them."""
    runs: list[list[int]] = []
    for i, ln in enumerate(lines):
        if not ln.is_data():
            continue
        if runs:
            j = runs[-1][-1]
            if i - j <= 4 and ln.y0 - lines[j].y1 < 3.5 * lh:
                runs[-1].append(i)
                continue
        runs.append([i])
    return runs


def _header_above(lines: Sequence[Line], first: int, cols: Sequence[Interval], lh: float) -> tuple[int, int]:
    """(index of the first header line, index of the first body line) above a run."""
    tx0, tx1 = cols[0][0], cols[-1][1]
    head = first
    j = first - 1
    pending = 0  # label-only lines seen since the last header line
    while j >= 0 and first - j <= 8:
        ln, below = lines[j], lines[j + 1]
        if below.y0 - ln.y1 > 1.2 * lh or ln.x1 < tx0 or ln.x0 > tx1 + lh:
            break
        if CAPTION_RE.match(ln.text):
            # a caption's wrapped lines sit tight under it: they are not headings
            while head < first and len(lines[head].segs) == 1 and lines[head].y0 - lines[head - 1].y1 < 0.3 * lh:
                head += 1
            break
        if ln.x0 < tx0 - 3 * lh or ln.x1 > tx1 + 3 * lh:
            break
        if _over_values(ln, cols):
            if any(len(s.text.split()) > 8 for s in ln.segs) or _intro_sentence(ln, cols):
                break  # a sentence running over the columns (the text introducing the table)
            head = j
            pending = 0
        elif ln.x1 <= cols[1][0] + lh and pending < 3:
            pending += 1
        else:
            break
        j -= 1
    body_start = first
    # label lines directly above the first data line (and below the header) are body rows
    k = first - 1
    while k >= head and not _over_values(lines[k], cols):
        body_start = k
        k -= 1
    return head, body_start


def find_text_tables(lines: Sequence[Line], min_rows: int = 3) -> list[TextTable]:
    lh = median_line_height(lines)
    out: list[TextTable] = []
    for run in _runs(lines, lh):
        if len(run) < min_rows:
            continue
        span = lines[run[0] : run[-1] + 1]
        data = [lines[i] for i in run]
        cols = find_columns(data + _label_lines(span))
        if len(cols) < 2 or not _plausible(data) or _code_share(span) >= 0.5:
            continue
        head, body_start = _header_above(lines, run[0], cols, lh)
        header = list(lines[head:body_start]) if head < body_start else []
        body = list(lines[body_start : run[0]]) + list(span)
        # leading year lines inside the run are column headings
        while len(body) > 2 and _is_year_line(body[0]):
            header.append(body.pop(0))
        cells = build_cells(header, body, cols)
        if numeric_share(cells) < 0.4:
            continue
        all_lines = header + body
        x0 = min(ln.x0 for ln in all_lines)
        x1 = max(ln.x1 for ln in all_lines)
        out.append(TextTable((x0, all_lines[0].y0, x1, all_lines[-1].y1), cells, all_lines))
    return out


def _label_lines(span: Sequence[Line]) -> list[Line]:
    """Label-only lines inside a run ("DP" set between its two rows) that stay left of
    every value: they may form a label column of their own."""
    first_value = min((s.x0 for ln in span if ln.is_data() for s in ln.segs[1:] if is_number(s.text)), default=0.0)
    return [ln for ln in span if not ln.is_data() and ln.x1 < first_value]


def wordy_share(lines: Sequence[Line]) -> float:
    """Share of lines holding a sentence-length phrase (> 6 words)."""
    return sum(1 for ln in lines if any(len(s.text.split()) > 6 for s in ln.segs)) / max(len(lines), 1)


_CODE_RE = re.compile(r"\s=\s|;\s*$|[{}]|\w_\w|<>|\s'\S")


def _code_share(lines: Sequence[Line]) -> float:
    """Share of lines that read like source code (a listing's "= 1" aligns like a value)."""
    return sum(1 for ln in lines if _CODE_RE.search(ln.text)) / max(len(lines), 1)


def _plausible(data: Sequence[Line]) -> bool:
    """Value cells are short: a line whose value side holds a sentence is prose (two
    aligned text columns, or a table row fused with the other page column's text)."""
    wordy = sum(1 for ln in data if any(len(s.text.split()) > 6 for s in ln.segs[1:]))
    return wordy <= 0.2 * len(data)
