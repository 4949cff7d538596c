"""Page images and crops: rendered on demand for citations into the index's asset folder,
and moved where a run needs them (from a Ray worker to the driver, to an object store).

Paths (relative to ``<index>/assets``, the only folder the app serves):

- ``<doc_id>/...png``: crops written at ingest (pictures, vector figures);
- ``pages/<doc_id>/p<page>.png``: a whole page rendered by PyMuPDF from the PDF, or for
  DOCX/PPTX from the PDF LibreOffice made at ingest (``<doc_id>/rendered.pdf``); a slide
  indexed without LibreOffice is drawn as a schematic of its elements' boxes and text;
- ``crops/<doc_id>/<element_id>.png``: the region of a table or text element.

Assets are keyed by the document's content hash (doc_id), so a file once rendered never
goes out of date; the engine renders what an answer cites right after it, which keeps old
answers' images after their document changes or is deleted. A box is drawn per request
(``with_boxes``) on top of the cached page.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from folio.config import Pipeline
    from folio.element import Element
    from folio.storage import Blobs
    from index.store import Store

log = logging.getLogger(__name__)

DPI = 110  # page renders: readable on screen, ~100-300 kB a page
SCALE = DPI / 72.0  # page points -> pixels, for every page image (PDF and schematic)
_PAGE_RE = re.compile(r"^pages/([0-9a-f]{16})/p(\d{1,5})\.png$")
_CROP_RE = re.compile(r"^crops/([0-9a-f]{16})/([0-9a-f]{24})\.png$")
_MARGIN = 4.0  # points around a cropped region


def page_path(doc_id: str, page: int) -> str:
    return f"pages/{doc_id}/p{page}.png"


def crop_path(el: Element) -> str | None:
    """The crop of an element: its own PNG (pictures), else its region of the page."""
    if el.image:
        return el.image
    if el.bbox is not None and el.page is not None:
        return f"crops/{el.doc_id}/{el.id}.png"
    return None


class Renderer:
    def __init__(self, assets_dir: Path, store: Store, remote: Blobs | None = None) -> None:
        self.root = Path(assets_dir)
        self.store = store
        # An index on an object store: its pictures are fetched from there into the local
        # assets folder on first use (the nightly run uploads them, pipeline/engines/).
        self.remote = remote
        # Re-entrant: a crop renders its page first, under the same lock.
        self._lock = threading.RLock()

    def ensure(self, rel: str) -> Path | None:
        """The file for an asset path, rendered if it is a page or crop that can be made
        (its document is still indexed with the same bytes); None otherwise."""
        target = self.root / rel
        if target.is_file():
            return target
        if self.remote is not None and ".." not in rel.split("/"):
            data = self.remote.read(f"assets/{rel}")
            if data is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(".part")
                tmp.write_bytes(data)
                tmp.replace(target)
                return target
        page = _PAGE_RE.match(rel)
        crop = _CROP_RE.match(rel)
        if not page and not crop:
            return None
        with self._lock:  # one render at a time: PyMuPDF pages are CPU-bound anyway
            if target.is_file():
                return target
            try:
                png = self._render_page(page.group(1), int(page.group(2))) if page else \
                    self._render_crop(crop.group(1), crop.group(2)) if crop else None
            except Exception as e:  # a moved or broken file: no image, the citation stays
                log.warning("cannot render %s: %s", rel, e)
                return None
            if png is None:
                return None
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(png)
            tmp.replace(target)
        return target

    def _document(self, doc_id: str) -> tuple[Path, str] | None:
        """(file, source) of an indexed document whose file is still as it was indexed.

        The same cheap test as the nightly run (size and mtime equal to the documents row):
        a changed file's pages are not the cited ones, and hashing a 500-page filing for
        every page rendered would cost more than the render."""
        for d in self.store.documents().values():
            if d.doc_id == doc_id and d.status != "error" and d.path:
                try:
                    st = Path(d.path).stat()
                except OSError:
                    return None
                return (Path(d.path), d.source) if (st.st_size, st.st_mtime) == (d.size, d.mtime) else None
        return None

    def _render_page(self, doc_id: str, page: int) -> bytes | None:
        from folio.filetype import RENDERED_PDF, sniff

        # An office document LibreOffice rendered at ingest: its PDF is keyed by the
        # document's content hash, so it holds the cited pages even after the file moved.
        rendered = self.ensure(f"{doc_id}/{RENDERED_PDF}")
        if rendered is not None:
            return _pdf_page(rendered, page)
        found = self._document(doc_id)
        if found is None:
            return None
        path, source = found
        if sniff(path) == "pdf":
            return _pdf_page(path, page)
        els = [e for e in self.store.elements(source) if e.page == page and e.doc_id == doc_id]
        return _schematic(els) if any(e.bbox for e in els) else None

    def _render_crop(self, doc_id: str, element_id: str) -> bytes | None:
        el = self.store.elements_by_id([element_id]).get(element_id)
        if el is None or el.doc_id != doc_id or el.bbox is None or el.page is None:
            return None
        page = self.ensure(page_path(doc_id, el.page))
        if page is None:
            return None
        from PIL import Image

        img = Image.open(page)
        x0, y0, x1, y1 = el.bbox
        box = (max(0, int((x0 - _MARGIN) * SCALE)), max(0, int((y0 - _MARGIN) * SCALE)),
               min(img.width, int((x1 + _MARGIN) * SCALE)), min(img.height, int((y1 + _MARGIN) * SCALE)))
        if box[2] <= box[0] or box[3] <= box[1]:
            return None
        return _png(img.crop(box))


def _pdf_page(path: Path, page: int) -> bytes | None:
    import pymupdf

    with pymupdf.open(str(path), filetype="pdf") as doc:
        if not 1 <= page <= doc.page_count:
            return None
        pix = doc[page - 1].get_pixmap(dpi=DPI)
        return bytes(pix.tobytes("png"))


def _schematic(els: list[Element]) -> bytes:
    """A slide drawn from its elements: boxes with their first words (indexed without
    LibreOffice); enough to see where on the slide the cited element sits."""
    from PIL import Image, ImageDraw

    boxes = [e.bbox for e in els if e.bbox]
    w = max(720.0, max(b[2] for b in boxes)) * SCALE
    h = max(405.0, max(b[3] for b in boxes)) * SCALE
    img = Image.new("RGB", (int(w), int(h)), "white")
    d = ImageDraw.Draw(img)
    for e in els:
        if not e.bbox:
            continue
        x0, y0, x1, y1 = (v * SCALE for v in e.bbox)
        d.rectangle((x0, y0, x1, y1), outline="#b8bcc4", fill="#f4f5f7" if e.kind != "text" else None)
        label = {"table": "[table] ", "image": "[picture] "}.get(e.kind, "") + " ".join(e.text.split())
        d.text((x0 + 4, y0 + 3), label[: max(8, int((x1 - x0) / 6))], fill="#30343b")
    return _png(img)


def _png(img: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)  # type: ignore[attr-defined]
    return buf.getvalue()


def with_boxes(png: Path, boxes: list[tuple[float, float, float, float]]) -> bytes:
    """The page image with the cited boxes drawn (page points, scaled like the render)."""
    from PIL import Image, ImageDraw

    img = Image.open(png).convert("RGB")
    d = ImageDraw.Draw(img)
    for x0, y0, x1, y1 in boxes:
        r = (x0 * SCALE - 3, y0 * SCALE - 3, x1 * SCALE + 3, y1 * SCALE + 3)
        d.rectangle(r, outline="#e4572e", width=3)
    return _png(img)


# --- pictures cut out at ingest, moved where the run needs them -----------------------

def upload_assets(pipe: Pipeline, blobs: Blobs, doc_id: str) -> None:
    """An index on an object store keeps the document's pictures beside its tables."""
    if pipe.remote is None:
        return
    folder = pipe.assets_dir / doc_id
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file():
            blobs.write(f"assets/{path.relative_to(pipe.assets_dir).as_posix()}", path.read_bytes())


def save_assets(pipe: Pipeline, assets: dict[str, bytes]) -> None:
    """Pictures a worker (maybe on another node) cut out: into this machine's assets folder."""
    for rel, data in assets.items():
        target = pipe.assets_dir / rel
        if ".." in rel.split("/") or target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
