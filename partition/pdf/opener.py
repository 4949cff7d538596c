"""Open a PDF with PyMuPDF and turn every way that fails into a DocumentError.

MuPDF repairs damaged files (truncated downloads, broken xref tables) on open; a repaired
document is read as far as it goes, and that is logged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from folio.errors import DocumentError

log = logging.getLogger(__name__)


def open_pdf(path: Path, password: str | None = None) -> Any:
    import pymupdf

    # MuPDF prints repair warnings on stderr; keep cron logs clean and log them instead.
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    try:
        # filetype="pdf": the extension must not decide (a PDF named .docx is a PDF).
        doc = pymupdf.open(str(path), filetype="pdf")
    except Exception as e:  # FileDataError, EmptyFileError, RuntimeError from MuPDF
        raise DocumentError(str(path), f"cannot open PDF: damaged or not a PDF ({e})") from None
    try:
        if doc.needs_pass:
            if not password:
                raise DocumentError(str(path), "encrypted: password required")
            if not doc.authenticate(password):
                raise DocumentError(str(path), "encrypted: the configured password is wrong")
        if doc.page_count == 0:
            raise DocumentError(str(path), "PDF has no pages (zero pages)")
    except BaseException:
        doc.close()
        raise
    if doc.is_repaired:
        log.warning("%s: damaged PDF repaired by MuPDF; content may be incomplete", path)
    warnings = pymupdf.TOOLS.mupdf_warnings()
    if warnings:
        log.debug("%s: MuPDF warnings: %s", path, warnings)
    return doc
