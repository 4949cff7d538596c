"""PPTX -> Elements with python-pptx, slide by slide (``page`` = slide number).

Per slide: the title (role "title", also the section), text frames (indented or bulleted
paragraphs are list items), tables with merged cells, pictures with alt text (PNG from the
embedded blob), charts as tables (role "chart"), group shapes recursed, speaker notes
(role "notes"). Date/footer/slide-number placeholders are running furniture and skipped;
slide masters and layouts are not slide content. A shape that fails to read is logged
and skipped so one broken picture never costs the slide its text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from folio.element import BBox, Element
from folio.table_grid import Cell, to_html, to_text
from partition.context import PartitionContext
from partition.office.charts import read_chart_xml
from partition.office.images import save_picture
from partition.office.package import open_package

log = logging.getLogger(__name__)

EMU_PER_POINT = 12700
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
C_CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}chart"
# Placeholders repeated on every slide from the layout, not content.
FURNITURE = {"dt", "ftr", "sldNum", "hdr"}
TITLES = {"title", "ctrTitle"}
# Placeholders whose paragraphs inherit bullets from the master ("obj" is the default type).
BULLETED = {"body", "obj"}


def _placeholder_type(shape: Any) -> str | None:
    ph = next(shape._element.iter(f"{P}ph"), None)
    if ph is None:
        return None
    return str(ph.get("type", "obj"))


def _bbox(shape: Any) -> BBox | None:
    try:
        left, top, width, height = shape.left, shape.top, shape.width, shape.height
    except Exception:  # a malformed xfrm
        return None
    if None in (left, top, width, height):
        return None
    return (left / EMU_PER_POINT, top / EMU_PER_POINT, (left + width) / EMU_PER_POINT, (top + height) / EMU_PER_POINT)


def _is_list_paragraph(para: Any, bulleted_placeholder: bool) -> bool:
    ppr = para._p.find(f"{A}pPr")
    if ppr is not None:
        if ppr.find(f"{A}buNone") is not None:
            return False
        if ppr.find(f"{A}buChar") is not None or ppr.find(f"{A}buAutoNum") is not None:
            return True
    return bool(para.level > 0 or bulleted_placeholder)


class _SlideReader:
    def __init__(self, ctx: PartitionContext, slide: Any, number: int) -> None:
        self.ctx = ctx
        self.slide = slide
        self.page = number
        self.section: tuple[str, ...] = ()

    def run(self) -> Iterator[Element]:
        title_shape = self._title_shape()
        if title_shape is not None:
            title = " ".join(title_shape.text_frame.text.split())
            if title:
                self.section = (title,)
                yield self._make("text", title, role="title", shape=title_shape)
        for shape in self.slide.shapes:
            if shape is title_shape or (title_shape is not None and shape.shape_id == title_shape.shape_id):
                continue
            yield from self._shape(shape)
        yield from self._notes()

    def _make(self, kind: Any, text: str, *, role: str, shape: Any = None, **kw: Any) -> Element:
        bbox = _bbox(shape) if shape is not None else None
        return self.ctx.make(kind, text, role=role, page=self.page, bbox=bbox, section=self.section, **kw)

    def _title_shape(self) -> Any:
        for shape in self.slide.shapes:
            if _placeholder_type(shape) in TITLES and shape.has_text_frame:
                return shape
        return None

    def _shape(self, shape: Any) -> Iterator[Element]:
        try:
            yield from self._dispatch(shape)
        except Exception as e:  # one malformed shape must not cost the slide its text
            log.warning(
                "%s: slide %d: skipping shape %r: %s: %s",
                self.ctx.source,
                self.page,
                getattr(shape, "name", "?"),
                type(e).__name__,
                e,
            )

    def _dispatch(self, shape: Any) -> Iterator[Element]:
        tag = shape._element.tag
        if tag == f"{P}grpSp":
            for child in shape.shapes:
                yield from self._shape(child)
        elif tag == f"{P}pic":
            element = self._picture(shape)
            if element is not None:
                yield element
        elif tag == f"{P}graphicFrame":
            if shape.has_table:
                yield self._table(shape)
            elif next(shape._element.iter(C_CHART), None) is not None:
                element = self._chart(shape)
                if element is not None:
                    yield element
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield from self._text_frame(shape)

    def _text_frame(self, shape: Any) -> Iterator[Element]:
        ph = _placeholder_type(shape)
        if ph in FURNITURE:
            return
        role_default = "title" if ph in TITLES else "paragraph"
        bulleted = ph in BULLETED
        for para in shape.text_frame.paragraphs:
            text = para.text.replace("\v", "\n").strip()
            if not text:
                continue
            if role_default == "paragraph" and _is_list_paragraph(para, bulleted):
                yield self._make("text", text, role="list_item", shape=shape, meta={"level": para.level})
            else:
                yield self._make("text", text, role=role_default, shape=shape)

    def _table(self, shape: Any) -> Element:
        table = shape.table
        first_row_header = bool(table.first_row)
        cells: list[Cell] = []
        for r, row in enumerate(table.rows):
            for k, cell in enumerate(row.cells):
                if cell.is_spanned:  # covered by a merge origin (hMerge/vMerge)
                    continue
                cells.append(
                    Cell(
                        row=r,
                        col=k,
                        text=cell.text.replace("\v", "\n"),
                        row_span=cell.span_height if cell.is_merge_origin else 1,
                        col_span=cell.span_width if cell.is_merge_origin else 1,
                        header=first_row_header and r == 0,
                    )
                )
        return self._make(
            "table", to_text(cells), role="table", shape=shape, html=to_html(cells), meta={"name": shape.name}
        )

    def _chart(self, shape: Any) -> Element | None:
        chart_ref = next(shape._element.iter(C_CHART))
        rid = chart_ref.get(f"{R}id")
        part = self.slide.part.related_part(rid)
        data = read_chart_xml(part.blob)
        if data is None:
            log.warning("%s: slide %d: chart %r has no series data", self.ctx.source, self.page, shape.name)
            return None
        meta = {
            "chart_title": data.title,
            "chart_type": data.chart_type,
            "name": shape.name,
            "series": [name for name, _ in data.series],
            "categories": data.categories,
        }
        return self._make("table", data.text(), role="chart", shape=shape, html=data.html(), meta=meta)

    def _picture(self, shape: Any) -> Element | None:
        ctx, el = self.ctx, shape._element
        name = shape.name
        c_nv_pr = next(el.iter(f"{P}cNvPr"), None)
        alt = " ".join(((c_nv_pr.get("descr") or c_nv_pr.get("title") or "") if c_nv_pr is not None else "").split())
        blip = next(el.iter(f"{A}blip"), None)
        rid = blip.get(f"{R}embed") if blip is not None else None
        if blip is None:
            reason = "it has no picture data (no blipFill)"
        elif rid is None:
            reason = "it is linked to an external file, not embedded"
        elif rid not in self.slide.part.rels:
            reason = f"its relationship {rid} is missing"
        else:
            part = self.slide.part.related_part(rid)
            content_type = getattr(part, "content_type", "")
            if not content_type.startswith("image/"):
                reason = f"its part has content type {content_type!r}, not an image"
            else:
                if not ctx.settings.images:
                    return None
                saved = save_picture(ctx, part.blob, f"{name} (slide {self.page})")
                if saved is None:
                    return None
                stored, width, height = saved
                meta = {"alt_text": alt, "name": name, "width": width, "height": height, "content_type": content_type}
                return self._make("image", alt, role="picture", shape=shape, image=stored, meta=meta)
        log.warning("%s: slide %d: skipping picture %r: %s", ctx.source, self.page, name, reason)
        return None

    def _notes(self) -> Iterator[Element]:
        if not self.slide.has_notes_slide:
            return
        frame = self.slide.notes_slide.notes_text_frame
        text = frame.text.replace("\v", "\n").strip() if frame is not None else ""
        if text:
            yield self._make("text", text, role="notes")


def partition(ctx: PartitionContext) -> Iterator[Element]:
    import pptx

    prs = open_package(ctx.path, "pptx", pptx.Presentation)
    for number, slide in enumerate(prs.slides, 1):
        yield from _SlideReader(ctx, slide, number).run()
