"""PDF through unstructured's partition_pdf: the configurable alternative to PyMuPDF.

``settings.pdf_engine`` picks the strategy: "unstructured-fast" (pdfminer text layer) or
"unstructured-ocr_only" (page images through Tesseract; needs unstructured-inference,
pdf2image with poppler, and the tesseract binary). "hi_res" is not offered: it downloads a
layout model. Coordinates come from ``metadata.coordinates`` and are converted to PDF
points (top-left origin) so citations can be drawn like PyMuPDF's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from folio.element import Element
from folio.errors import DocumentError
from partition.context import PartitionContext
from partition.unstructured_compat import prepare_unstructured
from partition.unstructured_map import ElementMapper

log = logging.getLogger(__name__)

STRATEGIES = {"unstructured-fast": "fast", "unstructured-ocr_only": "ocr_only"}
# What each strategy imports beyond unstructured's base install, for the error message.
NEEDS = {
    "fast": "pdfminer.six and pi-heif",
    "ocr_only": "unstructured-inference, unstructured-pytesseract, pdf2image (+ poppler-utils) "
    "and the tesseract binary",
}


def partition(ctx: PartitionContext) -> Iterator[Element]:
    engine = ctx.settings.pdf_engine
    strategy = STRATEGIES.get(engine)
    if strategy is None:
        raise ValueError(f"pdf_unstructured handles {sorted(STRATEGIES)}, not {engine!r}")
    prepare_unstructured()
    if strategy == "ocr_only":
        _check_ocr_tools(ctx)
    try:
        from unstructured.partition.pdf import partition_pdf
    except ImportError as e:
        raise DocumentError(
            str(ctx.path),
            f"pdf_engine {engine!r} needs {NEEDS['fast']} (missing: {e.name})",
        ) from None
    kwargs: dict[str, Any] = {"strategy": strategy, "infer_table_structure": False}
    if ctx.settings.password:
        kwargs["password"] = ctx.settings.password
    try:
        elements = partition_pdf(filename=str(ctx.path), **kwargs)
    except ImportError as e:
        raise DocumentError(
            str(ctx.path), f"pdf_engine {engine!r} needs {NEEDS[strategy]} (missing: {e.name})"
        ) from None
    sizes = _page_sizes(ctx)
    yield from ElementMapper(ctx).map(_to_points(el, sizes) for el in elements)


def _check_ocr_tools(ctx: PartitionContext) -> None:
    """unstructured silently switches ocr_only to hi_res when Tesseract is missing, and
    hi_res downloads a layout model; refuse up front instead."""
    import importlib.util
    import shutil

    missing = [
        name
        for name in ("unstructured_pytesseract", "unstructured_inference", "pdf2image")
        if importlib.util.find_spec(name) is None
    ]
    missing += [tool for tool in ("tesseract", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        raise DocumentError(
            str(ctx.path),
            f"pdf_engine 'unstructured-ocr_only' needs {NEEDS['ocr_only']}; missing: {', '.join(missing)}",
        )


def _page_sizes(ctx: PartitionContext) -> dict[int, tuple[float, float]]:
    """Page sizes in points (1-based), to rescale pixel coordinates."""
    try:
        import pymupdf
    except ImportError:
        return {}
    try:
        with pymupdf.open(ctx.path) as doc:
            if doc.needs_pass and ctx.settings.password:
                doc.authenticate(ctx.settings.password)
            return {i + 1: (page.rect.width, page.rect.height) for i, page in enumerate(doc)}
    except Exception:  # only used to rescale boxes; unstructured reports real damage
        log.debug("cannot read page sizes of %s", ctx.path, exc_info=True)
        return {}


def _to_points(el: Any, sizes: dict[int, tuple[float, float]]) -> Any:
    """Rewrite ``metadata.coordinates`` in PDF points with a top-left origin.

    unstructured reports pdfminer boxes in points and OCR boxes in image pixels, each with
    its own coordinate system; ``convert_coordinates_to_new_system`` maps between them.
    """
    coords = getattr(el.metadata, "coordinates", None)
    page = getattr(el.metadata, "page_number", None)
    if coords is None or not coords.points or coords.system is None or page not in sizes:
        return el
    # PixelSpace has a top-left origin (y grows downwards), like PyMuPDF's page space.
    from unstructured.documents.coordinates import PixelSpace

    width, height = sizes[page]
    target = PixelSpace(width=width, height=height)
    try:
        points = tuple(coords.system.convert_coordinates_to_new_system(target, *pt) for pt in coords.points)
    except Exception:
        log.debug("cannot convert coordinates on page %s", page, exc_info=True)
        return el
    coords.points = points
    return el
