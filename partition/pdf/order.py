"""Reading order of the boxes on a page: a recursive XY-cut that reads columns in full.

Plain XY-cut cuts horizontally wherever every column happens to have a gap at the same
height, which on a two-column page reads left-top, right-top, left-bottom... Here
consecutive horizontal bands that are themselves multi-column are merged before recursing,
so their columns are read top to bottom, one after the other. Full-width boxes (titles,
wide tables and figures) stay separators. A "column" must be wide: narrow runs of boxes
(row labels, numbers of an undetected table, "Item 1A." labels) are read row by row.
"""

from __future__ import annotations

from folio.element import BBox

MIN_GUTTER = 6.0  # points of empty space between two columns
MIN_COLUMN_SHARE = 0.2  # a column is at least this share of the page width


def reading_order(boxes: list[BBox], page_width: float) -> list[int]:
    """Indices of ``boxes`` in reading order."""
    min_col = MIN_COLUMN_SHARE * page_width
    return _order(list(range(len(boxes))), boxes, min_col)


def _order(idx: list[int], boxes: list[BBox], min_col: float) -> list[int]:
    if len(idx) <= 1:
        return idx
    cols = _columns(idx, boxes, min_col)
    if cols is not None:
        return [i for col in cols for i in _order(col, boxes, min_col)]
    bands = _bands(idx, boxes)
    if len(bands) == 1:
        return _rows(idx, boxes)
    groups: list[list[int]] = []
    multi_prev = False
    for band in bands:
        multi = _columns(band, boxes, min_col) is not None
        if groups and multi and multi_prev and _columns(groups[-1] + band, boxes, min_col) is not None:
            groups[-1] = groups[-1] + band
        else:
            groups.append(band)
        multi_prev = multi
    return [i for g in groups for i in _order(g, boxes, min_col)]


def _columns(idx: list[int], boxes: list[BBox], min_col: float) -> list[list[int]] | None:
    """Split at vertical gutters into columns at least ``min_col`` wide, or None."""
    spans = sorted(idx, key=lambda i: boxes[i][0])
    groups: list[list[int]] = []
    right = float("-inf")
    for i in spans:
        if groups and boxes[i][0] < right + MIN_GUTTER:
            groups[-1].append(i)
        else:
            groups.append([i])
        right = max(right, boxes[i][2]) if len(groups[-1]) > 1 else boxes[i][2]
    if len(groups) < 2:
        return None
    # Narrow runs are not columns: fold them into their left (or right) neighbour.
    merged: list[list[int]] = []
    for g in groups:
        if merged and (_width(merged[-1], boxes) < min_col or _width(g, boxes) < min_col):
            merged[-1] = merged[-1] + g
        else:
            merged.append(g)
    if len(merged) < 2 or any(_width(g, boxes) < min_col for g in merged):
        return None
    return merged


def _width(idx: list[int], boxes: list[BBox]) -> float:
    return max(boxes[i][2] for i in idx) - min(boxes[i][0] for i in idx)


def _bands(idx: list[int], boxes: list[BBox]) -> list[list[int]]:
    """Split at horizontal gaps (no box crosses the gap)."""
    spans = sorted(idx, key=lambda i: boxes[i][1])
    bands: list[list[int]] = []
    bottom = float("-inf")
    for i in spans:
        if bands and boxes[i][1] < bottom:
            bands[-1].append(i)
            bottom = max(bottom, boxes[i][3])
        else:
            bands.append([i])
            bottom = boxes[i][3]
    return bands


def _rows(idx: list[int], boxes: list[BBox]) -> list[int]:
    """Top to bottom; boxes whose vertical centre falls in the current row sit left to right."""
    rows: list[list[int]] = []
    top = bottom = 0.0
    for i in sorted(idx, key=lambda i: (boxes[i][1], boxes[i][0])):
        centre = (boxes[i][1] + boxes[i][3]) / 2
        if rows and top <= centre <= bottom:
            rows[-1].append(i)
        else:
            rows.append([i])
            top, bottom = boxes[i][1], boxes[i][3]
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]
