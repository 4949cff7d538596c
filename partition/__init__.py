"""Documents -> Elements. One module per format, imported only when needed.

``partition_file`` is the single entry point: it sniffs the real type from the bytes,
picks the partitioner, and turns every failure into a DocumentError naming the file.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from folio.config import PartitionSettings
from folio.element import Element
from folio.errors import DocumentError, UnsupportedFormat
from folio.filetype import sniff
from partition.context import PartitionContext, file_sha256

log = logging.getLogger(__name__)

# Bump when partitioning changes what it returns: the nightly run then re-partitions
# (1: the first version; 2: tables continued over a page break are one element).
PARTITIONER_VERSION = 2

class Partitioner(Protocol):
    """The contract of a partitioner module: one document in, its Elements out, in reading
    order; raise DocumentError (naming the file and the reason) for what cannot be read."""

    def partition(self, ctx: PartitionContext) -> Iterable[Element]: ...


@dataclass(frozen=True)
class Format:
    """One supported format: the module that partitions it (a ``Partitioner``) and the
    library that does the work (recorded with exported documents)."""

    module: str
    library: str


# Detected type (folio.filetype.sniff) -> its partitioner. Adding a format is a module
# under partition/ and one line here.
FORMATS: dict[str, Format] = {
    "pdf": Format("partition.pdf", "pymupdf"),
    "docx": Format("partition.office.docx", "python-docx"),
    "pptx": Format("partition.office.pptx", "python-pptx"),
    "html": Format("partition.other", "unstructured"),
    "md": Format("partition.other", "unstructured"),
    "txt": Format("partition.other", "unstructured"),
    "eml": Format("partition.other", "unstructured"),
    "xlsx": Format("partition.other", "unstructured"),
}
PARTITIONERS: dict[str, str] = {kind: f.module for kind, f in FORMATS.items()}


def load_partitioner(kind: str) -> Partitioner:
    return cast(Partitioner, importlib.import_module(FORMATS[kind].module))


def detect(path: Path) -> str:
    kind = sniff(path)
    if kind == "empty":
        raise DocumentError(str(path), "empty file (0 bytes)")
    if kind == "ole":
        raise UnsupportedFormat(
            str(path),
            "legacy or encrypted Office file (OLE container): save it as .docx/.pptx without a password",
        )
    if kind is None or kind not in PARTITIONERS:
        known = ", ".join(sorted(set(PARTITIONERS)))
        raise UnsupportedFormat(str(path), f"unsupported format (supported: {known})")
    return kind


def partition_file(
    path: Path,
    settings: PartitionSettings,
    assets_root: Path,
    source: str | None = None,
    doc_sha256: str | None = None,
) -> list[Element]:
    """Partition one document in this process. Raises DocumentError on any failure."""
    path = Path(path)
    if not path.is_file():
        raise DocumentError(str(path), "no such file")
    kind = detect(path)
    ctx = PartitionContext(
        path=path,
        source=source or path.name,
        doc_sha256=doc_sha256 or file_sha256(path),
        settings=settings,
        assets_root=Path(assets_root),
    )
    module = load_partitioner(kind)
    try:
        elements = list(module.partition(ctx))
    except DocumentError:
        raise
    except MemoryError:
        raise DocumentError(str(path), "out of memory while partitioning") from None
    except Exception as e:  # a library failing on a malformed file
        log.debug("partition failed", exc_info=True)
        raise DocumentError(str(path), f"cannot read {kind.upper()}: {type(e).__name__}: {e}") from e
    if not elements:
        raise DocumentError(str(path), f"no content found in this {kind.upper()} (nothing to index)")
    if kind in ("docx", "pptx"):
        from partition.office.pages import with_pages

        # Pages and boxes from LibreOffice's rendering, when it is installed.
        elements = with_pages(ctx, kind, elements)
    return elements
