"""Table detection and structure for PDF pages (stub: interface only, being written)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from folio.config import PartitionSettings
from folio.element import BBox
from partition.table_grid import Cell


@dataclass
class PageTable:
    bbox: BBox  # page coordinates, top-left origin (PyMuPDF's)
    cells: list[Cell]
    caption: str | None = None  # "Table 2: ..." text found next to the table, if any


def find_page_tables(page: Any, settings: PartitionSettings) -> list[PageTable]:
    """Tables on one text-layer page (``page`` is a pymupdf.Page)."""
    return []


def find_ocr_tables(boxes: list[Any], page_rect: BBox) -> list[PageTable]:
    """Tables among OCR'd text boxes (partition.ocr.OcrBox) of a page with no text layer."""
    return []
