"""Pages with no text layer: render, OCR with RapidOCR, group boxes into paragraphs,
and hand the boxes to the table finder."""

from __future__ import annotations

import logging
from typing import Any

from folio.element import BBox
from folio.ocr import OcrBox, ocr_image
from folio.table_grid import to_html, to_text
from partition.pdf import tables as pdf_tables
from partition.pdf.records import Item, centre_inside, union

log = logging.getLogger(__name__)

OCR_DPI = 200.0
# RapidOCR shrinks its detector input to 2000 px on the long side; rendering bigger only
# costs time.
OCR_MAX_SIDE = 2000.0
SCANNED_IMAGE_SHARE = 0.5  # images cover at least this share of a page with no text
MIN_TEXT_CHARS = 10


def is_scanned(text_chars: int, image_share: float, figures: int) -> bool:
    """No text layer, and either a page-sized image or at least one real picture
    (a scanned table pasted on a blank page is a scan too)."""
    return text_chars < MIN_TEXT_CHARS and (image_share >= SCANNED_IMAGE_SHARE or figures > 0)


def ocr_page(page: Any, settings: Any) -> list[Item]:
    """OCR text blocks (role "ocr") and OCR tables of one page, unordered."""
    import pymupdf

    rect = page.rect
    zoom = min(OCR_DPI / 72.0, OCR_MAX_SIDE / max(rect.width, rect.height, 1.0))
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, colorspace=pymupdf.csRGB)
    png = pix.tobytes("png")
    del pix
    boxes = ocr_image(png, scale=zoom)
    del png
    page_box: BBox = (rect.x0, rect.y0, rect.x1, rect.y1)
    items: list[Item] = []
    table_boxes: list[BBox] = []
    if settings.tables != "off":
        for t in pdf_tables.find_ocr_tables(boxes, page_box):
            table_boxes.append(t.bbox)
            meta = {"source": "ocr"}
            if t.caption:
                meta["caption_text"] = t.caption
            items.append(
                Item(kind="table", text=to_text(t.cells), html=to_html(t.cells), bbox=t.bbox, meta=meta)
            )
    rest = [b for b in boxes if not any(centre_inside(b.bbox, tb) for tb in table_boxes)]
    items.extend(_paragraphs(rest))
    return items


def _paragraphs(boxes: list[OcrBox]) -> list[Item]:
    """Boxes (already in row order) -> lines -> paragraphs by vertical gap and alignment."""
    lines: list[tuple[str, BBox, list[float]]] = []
    for b in boxes:
        if lines:
            text, bb, scores = lines[-1]
            h = bb[3] - bb[1]
            same_row = min(bb[3], b.bbox[3]) - max(bb[1], b.bbox[1]) > 0.5 * min(h, b.bbox[3] - b.bbox[1])
            if same_row and 0 <= b.bbox[0] - bb[2] < 2.5 * h:
                lines[-1] = (f"{text} {b.text}", union(bb, b.bbox), [*scores, b.score])
                continue
        lines.append((b.text, b.bbox, [b.score]))
    paras: list[tuple[list[str], BBox, list[float]]] = []
    for text, bb, scores in lines:
        if paras:
            ptext, pbb, pscores = paras[-1]
            h = bb[3] - bb[1]
            gap = bb[1] - pbb[3]
            aligned = abs(bb[0] - pbb[0]) < 3 * h or (bb[0] < pbb[2] and pbb[0] < bb[2])
            if -0.3 * h <= gap < 0.8 * h and aligned:
                paras[-1] = ([*ptext, text], union(pbb, bb), [*pscores, *scores])
                continue
        paras.append(([text], bb, scores))
    return [
        Item(
            kind="ocr",
            text=" ".join(texts),
            bbox=bb,
            lines=len(texts),
            role="ocr",
            meta={"ocr_score": round(sum(scores) / len(scores), 3)},
        )
        for texts, bb, scores in paras
    ]
