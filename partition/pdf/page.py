"""One page -> a PageRecord: text blocks, tables and figures in reading order.

Runs in page workers. Figure crops are written to the asset store here, right away, so
no image is held in memory beyond the page being processed.
"""

from __future__ import annotations

import logging
from typing import Any

from folio.element import BBox
from folio.table_grid import to_html, to_text
from partition.pdf import tables as pdf_tables
from partition.pdf.figures import (
    Figure,
    combine,
    is_text_background,
    label_lines,
    raster_figures,
    render_crop,
    vector_figures,
)
from partition.pdf.order import reading_order
from partition.pdf.records import Item, PageRecord, area, centre_inside, overlap_area
from partition.pdf.scan import MIN_TEXT_CHARS, is_scanned, ocr_page
from partition.pdf.structure import is_caption
from partition.pdf.text import Line, blocks_from_lines, page_lines

log = logging.getLogger(__name__)

CAPTION_REACH = 36.0  # points between a figure or table and its caption


def extract_page(page: Any, ctx: Any) -> PageRecord:
    settings = ctx.settings
    rect = page.rect
    page_box: BBox = (rect.x0, rect.y0, rect.x1, rect.y1)
    rec = PageRecord(page=page.number + 1, label=_label(page), width=rect.width, height=rect.height)
    lines = page_lines(page)
    text_chars = sum(len(ln.text) for ln in lines)
    rasters, image_share = raster_figures(page, settings, page_box, has_text=text_chars >= MIN_TEXT_CHARS)
    if is_scanned(text_chars, image_share, len(rasters)):
        rec.scanned = True
        if settings.ocr:
            rec.items = _ordered(ocr_page(page, settings), rect.width)
        if rec.items or not settings.images:
            return rec
        # No text found in the images (a photo page, or OCR off): keep them as figures.

    items: list[Item] = []
    taken: list[BBox] = []  # regions whose text is not body text
    if settings.tables != "off":
        for t in pdf_tables.find_page_tables(page, settings):
            meta: dict[str, Any] = {}
            if t.caption:
                meta["caption_text"] = t.caption
            items.append(
                Item(kind="table", text=to_text(t.cells), html=to_html(t.cells), bbox=t.bbox, meta=meta)
            )
            taken.append(t.bbox)

    figure_text: set[int] = set()
    if settings.images:
        figures = [f for f in rasters if not is_text_background(f, lines)]
        figures = combine(figures, vector_figures(page, lines, taken, settings, page_box))
        figures = [f for f in figures if not any(overlap_area(f.bbox, t) > 0.5 * area(f.bbox) for t in taken)]
        for n, fig in enumerate(sorted(figures, key=lambda f: (f.bbox[1], f.bbox[0]))):
            inside = [ln for ln in label_lines(lines) if centre_inside(ln.bbox, fig.bbox)]
            items.append(_figure_item(page, ctx, fig, n, inside))
            figure_text.update(id(ln) for ln in inside)

    body = [
        ln for ln in lines if id(ln) not in figure_text and not any(centre_inside(ln.bbox, t) for t in taken)
    ]
    items.extend(blocks_from_lines(body))
    _link_captions(items)
    rec.items = _ordered(items, rect.width)
    return rec


def _label(page: Any) -> str | None:
    try:
        label = page.get_label()
    except Exception:  # a malformed /PageLabels tree: no printed label
        return None
    return str(label) if label else None


def _figure_item(page: Any, ctx: Any, fig: Figure, n: int, inside: list[Line]) -> Item:
    name = f"p{page.number + 1:04d}-fig{n:02d}.png"
    path, ref = ctx.asset_path(name)
    dpi = int(ctx.settings.image_dpi)
    width_px, height_px = render_crop(page, fig.bbox, dpi, path)
    text = " ".join(ln.text for ln in _rows(inside))
    return Item(
        kind="image",
        text=text,
        bbox=fig.bbox,
        role="figure",
        image=ref,
        meta={"source": fig.source, "dpi": dpi, "width_px": width_px, "height_px": height_px},
    )


def _rows(lines: list[Line]) -> list[Line]:
    order = reading_order([ln.bbox for ln in lines], 1e9)  # labels: row by row, no columns
    return [lines[i] for i in order]


def _link_captions(items: list[Item]) -> None:
    """Give each figure and table the caption printed just below or above it."""
    captions = [it for it in items if it.kind == "text" and is_caption(it.text)]
    for it in items:
        if it.kind not in ("image", "table") or "caption_text" in it.meta:
            continue
        best: tuple[float, Item] | None = None
        for cap in captions:
            x_overlap = min(it.bbox[2], cap.bbox[2]) - max(it.bbox[0], cap.bbox[0])
            if x_overlap <= 0:
                continue
            below = cap.bbox[1] - it.bbox[3]
            above = it.bbox[1] - cap.bbox[3]
            dist = min(d for d in (below, above, 1e9) if d >= -4.0)
            if dist <= CAPTION_REACH and (best is None or dist < best[0]):
                best = (dist, cap)
        if best is not None:
            it.meta["caption_text"] = best[1].text


def _ordered(items: list[Item], width: float) -> list[Item]:
    order = reading_order([it.bbox for it in items], width)
    return [items[i] for i in order]
