"""Table detection and structure for PDF pages.

Two detectors, cheapest signal first, so pages without tables cost only a word list:

- ruled tables: only when the page draws vertical and horizontal rules (a scan of the
  drawing list), PyMuPDF's line-based finder gives the cell grid (table_ruled);
- ruling-less tables: runs of lines with aligned numeric cells, columns from the
  whitespace between them (table_text), which also serves OCR'd scans.

``settings.tables`` = "layout" lets PyMuPDF's ONNX layout model gate the ruled finder;
it is ~20x slower and only worth it where drawn boxes are not tables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from folio.config import PartitionSettings
from folio.element import BBox
from folio.table_grid import Cell, grid_shape
from partition.tables.repair import delete_row, is_toc, repair
from partition.tables.ruled import rule_signal, ruled_tables
from partition.tables.text import CAPTION_RE, find_text_tables, wordy_share
from partition.tables.words import (
    Line,
    Seg,
    attach_symbols,
    group_lines,
    is_number,
    median_line_height,
    page_lines,
)

log = logging.getLogger(__name__)


@dataclass
class PageTable:
    bbox: BBox  # page coordinates, top-left origin (PyMuPDF's)
    cells: list[Cell]
    caption: str | None = None  # "Table 2: ..." text found next to the table, if any


def page_words(page: Any, textpage: Any = None) -> list[Seg]:
    """Words in display coordinates: text extraction reports unrotated coordinates, but
    rows and columns only line up as the page is shown (and find_tables works there)."""
    words = [w for w in page.get_text("words", textpage=textpage) if w[4].strip()]
    if not page.rotation:
        return [Seg(w[0], w[1], w[2], w[3], w[4]) for w in words]
    import pymupdf

    m = page.rotation_matrix
    out = []
    for w in words:
        r = pymupdf.Rect(w[:4]) * m
        out.append(Seg(r.x0, r.y0, r.x1, r.y1, w[4]))
    return out


def _unrotate(tables: list[PageTable], page: Any) -> list[PageTable]:
    """Table boxes back into the text extraction's (unrotated) coordinates."""
    if not page.rotation:
        return tables
    import pymupdf

    m = page.derotation_matrix
    for t in tables:
        r = pymupdf.Rect(t.bbox) * m
        t.bbox = (r.x0, r.y0, r.x1, r.y1)
    return tables


def find_page_tables(
    page: Any, settings: PartitionSettings, *, words: list[Seg] | None = None, textpage: Any = None
) -> list[PageTable]:
    """Tables on one text-layer page (``page`` is a pymupdf.Page, bbox in the same
    coordinates as page.get_text). A caller that already built the page's TextPage can
    pass it (saves ~half the cost), or the words from page_words."""
    if settings.tables == "off":
        return []
    if words is None:
        words = page_words(page, textpage)
    all_lines = page_lines(words)
    # Cheapest signal first: a table of any kind has lines with several separate cells.
    if sum(1 for ln in all_lines if len(ln.segs) > 1) < 2:
        return []
    tables: list[PageTable] = []
    if rule_signal(page):
        for bbox, cells in ruled_tables(page, words, use_layout=settings.tables == "layout"):
            tables.append(PageTable(bbox, cells))
    # Full-width first (a table spanning both columns of a paper), then per column of a
    # two-column page: a table inside one column fuses with the other column's prose on
    # full lines, so full-width candidates must hold numbers on both sides of the gutter.
    lines = _outside(all_lines, tables)
    gutter = find_gutter(lines, page.rect.width)
    for tt in find_text_tables(lines):
        if gutter is None or _numbers_both_sides(tt.lines, gutter) or wordy_share(tt.lines) <= 0.2:
            tables.append(PageTable(tt.bbox, tt.cells))
    if gutter is not None:
        for region in split_at(_outside(lines, tables), gutter):
            tables.extend(PageTable(tt.bbox, tt.cells) for tt in find_text_tables(region))
    tables = _finish(tables)
    if tables:
        _add_captions(tables, all_lines)
    return _unrotate(tables, page)


def find_ocr_tables(boxes: list[Any], page_rect: BBox) -> list[PageTable]:
    """Tables among OCR'd text boxes (folio.ocr.OcrBox) of a page with no text layer.

    RapidOCR boxes are already phrases (one per cell line), so they are the segments.
    """
    segs = [Seg(b.bbox[0], b.bbox[1], b.bbox[2], b.bbox[3], b.text) for b in boxes if b.text.strip()]
    lines = [Line(attach_symbols(sorted(ln.segs, key=lambda s: s.x0))) for ln in group_lines(segs)]
    tables = _finish([PageTable(tt.bbox, tt.cells) for tt in find_text_tables(lines, min_rows=2)])
    if tables:
        _add_captions(tables, lines)
    return tables


def _finish(tables: list[PageTable]) -> list[PageTable]:
    """Repair grids, drop what is not a table after all, order top to bottom."""
    out = []
    for t in tables:
        cells = repair(t.cells)
        cells, title = _title_row(cells)
        t.caption = t.caption or title
        rows, cols = grid_shape(cells)
        if rows < 2 or cols < 2 or is_toc(cells):
            continue
        out.append(PageTable(t.bbox, cells, t.caption))
    return sorted(out, key=lambda t: (t.bbox[1], t.bbox[0]))


def _title_row(cells: list[Cell]) -> tuple[list[Cell], str | None]:
    """A title or caption inside the table's frame: a first row of one cell across the
    whole table, label column included (a group heading leaves the label column out)."""
    first = [c for c in cells if c.row == 0 and c.text]
    _, cols = grid_shape(cells)
    if len(first) == 1 and first[0].col == 0 and first[0].col_span == cols:
        return delete_row(cells, 0), first[0].text
    return cells, None


def _outside(lines: Sequence[Line], tables: Sequence[PageTable]) -> list[Line]:
    """The lines with the pieces that no table so far has taken."""
    if not tables:
        return list(lines)
    out = []
    for ln in lines:
        segs = [s for s in ln.segs if not any(_inside(s, t.bbox) for t in tables)]
        if segs:
            out.append(Line(segs))
    return out


def _inside(w: Seg, bbox: BBox) -> bool:
    cx, cy = (w.x0 + w.x1) / 2, w.yc
    return bbox[0] <= cx <= bbox[2] and bbox[1] <= cy <= bbox[3]


def find_gutter(lines: Sequence[Line], width: float) -> float | None:
    """x of the gutter of a two-column page: few phrases cross it and both sides carry
    prose (long phrases ending/starting near it). None on single-column pages."""
    segs = [s for ln in lines for s in ln.segs]
    if len(segs) < 20:
        return None
    lo, hi = int(0.35 * width), int(0.65 * width)
    # phrases crossing each x (difference array: one pass over the phrases)
    diff = [0] * (hi - lo + 2)
    for s in segs:
        a, b = max(int(s.x0) + 1, lo), min(int(s.x1), hi)
        if a <= b:
            diff[a - lo] += 1
            diff[b - lo + 1] -= 1
    best_x, best_n, run = float(lo), len(segs) + 1, 0
    for i in range(hi - lo + 1):
        run += diff[i]
        if run < best_n:
            best_x, best_n = float(lo + i), run
    near = 0.25 * width
    left = sum(1 for s in segs if best_x - near < s.x1 <= best_x and len(s.text.split()) >= 6)
    right = sum(1 for s in segs if best_x <= s.x0 < best_x + near and len(s.text.split()) >= 6)
    if best_n > 0.03 * len(segs) or left < 5 or right < 5:
        return None
    return best_x


def split_at(lines: Sequence[Line], gutter: float) -> list[list[Line]]:
    out: list[list[Line]] = [[], []]
    for ln in lines:
        for side in (0, 1):
            part = [s for s in ln.segs if ((s.x0 + s.x1) / 2 < gutter) == (side == 0)]
            if part:
                out[side].append(Line(part))
    return out


def _numbers_both_sides(lines: Sequence[Line], gutter: float) -> bool:
    nums = [s for ln in lines for s in ln.segs if is_number(s.text)]
    return any(s.x1 < gutter for s in nums) and any(s.x0 > gutter for s in nums)


def _add_captions(tables: list[PageTable], lines: Sequence[Line]) -> None:
    """The nearest "Table N ..." phrase within a few lines above or below a table, with
    the lines that continue it in the same column (phrases, so a two-column page's other
    column stays out)."""
    lh = median_line_height(lines)
    for t in tables:
        x0, y0, x1, y1 = t.bbox
        best: tuple[float, int, Seg] | None = None
        for i, ln in enumerate(lines):
            for s in ln.segs:
                if s.x1 < x0 or s.x0 > x1 or not CAPTION_RE.match(s.text):
                    continue
                gap = y0 - s.y1 if s.y1 <= y0 + 1 else s.y0 - y1
                if -1 <= gap <= 4 * lh and (best is None or gap < best[0]):
                    best = (gap, i, s)
        if best is not None:
            t.caption = _caption_text(lines, best[1], best[2], t.bbox, lh)


def _caption_text(lines: Sequence[Line], i: int, first: Seg, bbox: BBox, lh: float) -> str:
    """The caption phrase, the rest of its line and the lines continuing it, within the
    horizontal extent of the table and caption."""
    left, right = min(first.x0, bbox[0]) - 2, max(first.x1, bbox[2])
    parts = [" ".join(s.text for s in lines[i].segs if first.x0 <= s.x0 < right)]
    bottom = first.y1
    for ln in lines[i + 1 : i + 8]:
        segs = [s for s in ln.segs if left <= s.x0 < right and not _inside(s, bbox)]
        if not segs or segs[0].y0 - bottom > 0.6 * lh:
            break
        parts.append(" ".join(s.text for s in segs))
        bottom = max(s.y1 for s in segs)
    return " ".join(parts).strip()
