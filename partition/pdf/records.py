"""What a page worker hands back to the parent: plain, picklable records.

Workers do the expensive per-page work (text, tables, figure crops, OCR); the parent does
the cheap document-wide decisions that need every page (body font, headings and section
path, running headers and footers) and assigns ids. Records never hold image bytes:
crops are on disk by the time a record exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from folio.element import BBox


@dataclass(slots=True)
class Item:
    """One thing on a page, already in reading order within its page."""

    kind: str  # "text" | "table" | "image" | "ocr"
    text: str
    bbox: BBox
    size: float = 0.0  # dominant font size of a text block
    bold: bool = False  # every character of the block is bold
    lines: int = 1
    role: str | None = None  # set by the page worker when layout alone decides it
    html: str | None = None
    image: str | None = None  # asset reference of a crop
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PageRecord:
    page: int  # 1-based
    label: str | None
    width: float
    height: float
    items: list[Item] = field(default_factory=list)
    scanned: bool = False
    error: str | None = None


def union(a: BBox, b: BBox) -> BBox:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def area(b: BBox) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def overlap_area(a: BBox, b: BBox) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def centre_inside(b: BBox, region: BBox, pad: float = 0.0) -> bool:
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return region[0] - pad <= cx <= region[2] + pad and region[1] - pad <= cy <= region[3] + pad


def expand(b: BBox, pad: float) -> BBox:
    return (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)


def intersects(a: BBox, b: BBox) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
