"""Format facts, in one place: a file's real type from its bytes (not its name), and what
a format's unit is (a page or a slide) and what kind of document it makes."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePath

# Formats we hand to unstructured when no native partitioner exists.
TEXT_SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".txt": "txt",
                 ".eml": "eml", ".xlsx": "xlsx"}
# Formats whose physical unit is a slide: citations say "slide 3", chunks never cross one.
SLIDE_SUFFIXES = frozenset({".pptx", ".ppt", ".odp"})
# What a file's suffix says about the document (routing describes documents with it).
DOC_KIND_BY_SUFFIX = {".pptx": "presentation", ".ppt": "presentation", ".odp": "presentation",
                      ".docx": "document", ".doc": "document"}


# An office document's pages as LibreOffice renders them (partition/office/render.py),
# kept at ``<assets>/<doc_id>/rendered.pdf``; page images come from it (index/pages.py).
RENDERED_PDF = "rendered.pdf"


def page_unit(source: str) -> str:
    """'slide' for a presentation, else 'page'."""
    return "slide" if PurePath(source).suffix.lower() in SLIDE_SUFFIXES else "page"


def doc_kind(source: str) -> str:
    """'presentation', 'document' or '' from the file's suffix."""
    return DOC_KIND_BY_SUFFIX.get(PurePath(source).suffix.lower(), "")


def sniff(path: Path) -> str | None:
    """Return 'pdf', 'docx', 'pptx', 'xlsx', 'html', 'md', 'txt', 'eml', 'empty' or None.

    Magic bytes win over the extension: a PDF named ``.docx`` is a PDF.
    """
    with path.open("rb") as f:
        head = f.read(2048)
    if not head:
        return "empty"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_ooxml(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        # Legacy OLE container: .doc/.ppt/.xls, or an encrypted OOXML package.
        return "ole"
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES and _looks_textual(head):
        return TEXT_SUFFIXES[suffix]
    return None


def _sniff_ooxml(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile:
        # Truncated zip: let the extension decide which partitioner reports the damage.
        suffix = path.suffix.lower().lstrip(".")
        return suffix if suffix in {"docx", "pptx", "xlsx"} else None
    if any(n.startswith("word/") for n in names):
        return "docx"
    if any(n.startswith("ppt/") for n in names):
        return "pptx"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    return None


def _looks_textual(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # A multi-byte character cut at the end of the sample is still text.
        return e.start >= len(head) - 4
    return True
