"""Office elements onto the pages LibreOffice renders (after the DOCX/PPTX partitioner).

Runs inside the partitioning child (partition/isolate.py), so a conversion is bounded by
the document's time limit too; its own, shorter limit (``partition.office_timeout_s``)
leaves the document indexed without page images when LibreOffice hangs. The outcome is
written on the first element's ``meta["office_render"]`` ("rendered", "off" or the
failure) for the run report (pipeline/report.render_note).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from folio.element import Element
from partition.context import PartitionContext
from partition.office.render import RenderError, convert, rendered_path, soffice

log = logging.getLogger(__name__)

RENDER_KEY = "office_render"  # meta of the first element: how the pages were made


def with_pages(ctx: PartitionContext, kind: str, elements: list[Element]) -> list[Element]:
    program = soffice(ctx.settings.office_render)
    if program is None or not elements:
        return _mark(elements, {"status": "off"})
    t0 = time.time()
    try:
        # Scratch beside the assets, under the index (the run's tmp folder): /tmp/folio-*
        # is cleaned behind running jobs on some machines.
        pdf = convert(ctx.path, rendered_path(ctx.assets_root, ctx.doc_id), kind,
                      ctx.settings.office_timeout_s, program, ctx.assets_root.parent / "tmp")
        placed = _place(ctx, kind, elements, pdf)
    except RenderError as e:
        log.warning("%s: %s", ctx.source, e)
        return _mark(elements, {"status": "failed", "error": str(e)})
    except Exception as e:  # a PDF we cannot read back: the document still indexes
        log.warning("%s: placing on rendered pages failed", ctx.source, exc_info=True)
        rendered_path(ctx.assets_root, ctx.doc_id).unlink(missing_ok=True)
        return _mark(elements, {"status": "failed", "error": f"{type(e).__name__}: {e}"})
    unplaced = sum(1 for e in placed if e.meta.get("page_note"))
    return _mark(placed, {"status": "rendered", "seconds": round(time.time() - t0, 2), "unplaced": unplaced})


def _place(ctx: PartitionContext, kind: str, elements: list[Element], pdf: Path) -> list[Element]:
    from partition.office.place import place_docx, place_pptx

    if kind == "docx":
        return place_docx(elements, pdf)
    import pptx

    from partition.office.package import open_package

    prs = open_package(ctx.path, "pptx", pptx.Presentation)
    width = (prs.slide_width or 0) / 12700
    return place_pptx(elements, pdf, width, len(prs.slides))


def _mark(elements: list[Element], state: dict[str, object]) -> list[Element]:
    if not elements:
        return elements
    first = elements[0]
    return [dataclasses.replace(first, meta={**first.meta, RENDER_KEY: state}), *elements[1:]]
