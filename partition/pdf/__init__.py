"""PDF -> Elements with PyMuPDF (or unstructured, when the pipeline asks for it).

Flow: open (errors become DocumentError: encrypted, no pages, not a PDF) -> per-page
records from page workers (text blocks, tables, figure crops, OCR of scanned pages; see
pdf_pool for the worker count: ``set_workers(n)`` or FOLIO_PDF_WORKERS, default 2) ->
document-wide structure in this process (headings and section path, running headers and
footers, roles) -> Elements with ids and order that do not depend on the worker count
(order = page * 10000 + index within the page).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable

from folio.element import Element
from folio.errors import DocumentError
from partition.context import PartitionContext
from partition.pdf.opener import open_pdf
from partition.pdf.pool import extract_pages, set_workers, worker_count
from partition.pdf.structure import build_elements
from partition.tables.join import join_continued

log = logging.getLogger(__name__)

__all__ = ["partition", "set_workers", "worker_count"]


def partition(ctx: PartitionContext) -> Iterable[Element]:
    engine = ctx.settings.pdf_engine
    if engine.startswith("unstructured-"):
        module = importlib.import_module("partition.pdf.unstructured")
        return module.partition(ctx)  # type: ignore[no-any-return]
    doc = open_pdf(ctx.path, ctx.settings.password)
    try:
        pages = extract_pages(ctx, doc)
    finally:
        doc.close()
    failed = [p for p in pages if p.error]
    if failed and len(failed) == len(pages):
        raise DocumentError(str(ctx.path), f"no page could be read (first error: {failed[0].error})")
    if failed:
        log.warning("%s: %d of %d pages could not be read", ctx.path, len(failed), len(pages))
    scanned = sum(1 for p in pages if p.scanned)
    if scanned and not ctx.settings.ocr:
        log.info("%s: %d scanned pages left out (ocr is off)", ctx.path, scanned)
    return join_continued(list(build_elements(ctx, pages)))
