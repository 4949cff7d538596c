"""OCR with RapidOCR (ONNX models ship in its wheel) (stub: interface only, being written)."""

from __future__ import annotations

from dataclasses import dataclass

from folio.element import BBox


@dataclass
class OcrBox:
    text: str
    bbox: BBox  # in the coordinates of the image passed in, scaled by ``scale``
    score: float


def ocr_image(png: bytes, scale: float = 1.0) -> list[OcrBox]:
    """Text boxes in reading order; bbox coordinates are divided by ``scale``
    (so passing the render zoom gives page coordinates)."""
    raise NotImplementedError
