"""Blocks and checked citations -> the dicts every front end shows and sessions freeze.

A citation names the exact elements that say what the sentence says (checks.pick_elements),
their document, page, printed page label and boxes, the element's own text, sanitized
table HTML and caption, and asset paths of its crop and of its page (pages.py). The UI
and the API turn asset paths into URLs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from index.pages import crop_path, page_path

if TYPE_CHECKING:
    from answer.context import Block
    from folio.element import Element

MAX_TEXT_CHARS = 4000  # an element's text in a citation (a 500-row table stays readable)


def _clean_html(html: str | None) -> str | None:
    if not html:
        return None
    from folio.sanitize import sanitize_table_html

    return sanitize_table_html(html)


def _join(values: list[str | None]) -> str | None:
    vals = list(dict.fromkeys(v for v in values if v))
    return "\n".join(vals) if vals else None


def source_card(block: Block) -> dict[str, Any]:
    """What the UI shows for a retrieved block before the answer is written."""
    els = [block.elements[i] for i in block.element_ids if i in block.elements]
    first = els[0] if els else None
    return {
        "n": block.n,
        "label": block.label,
        "source": block.hit.source,
        "kind": block.hit.kind,
        "page": first.page if first else (block.hit.pages[0] if block.hit.pages else None),
        "page_label": first.page_label if first else None,
        "element_ids": [e.id for e in els] or list(block.hit.element_ids),
        "text": block.text,
        "image": crop_path(first) if first and first.kind != "text" else None,
    }


def citation(block: Block, element_ids: list[str]) -> dict[str, Any]:
    """A checked citation of ``block`` narrowed to ``element_ids`` (in reading order)."""
    els: list[Element] = [block.elements[i] for i in element_ids if i in block.elements]
    if not els:
        els = [block.elements[i] for i in block.element_ids if i in block.elements]
    first = els[0] if els else None
    page = first.page if first else (block.hit.pages[0] if block.hit.pages else None)
    on_page = [e for e in els if e.page == page and e.bbox is not None]
    text = _join([e.text for e in els]) or block.text
    if len(text) > MAX_TEXT_CHARS:
        text = text[: MAX_TEXT_CHARS - 3] + "..."
    return {
        "n": block.n,
        "element_ids": [e.id for e in els] or list(block.hit.element_ids),
        "source": block.hit.source,
        "doc_id": first.doc_id if first else block.hit.doc_id,
        "doc_sha256": first.doc_sha256 if first else "",
        "label": block.label,
        "page": page,
        "page_label": first.page_label if first else None,
        "bbox": list(first.bbox) if first and first.bbox else None,
        "boxes": [list(e.bbox) for e in on_page if e.bbox],
        "kind": first.kind if first else block.hit.kind,
        "section": list(first.section) if first else list(block.hit.section),
        "text": text,
        "html": _clean_html(_join([e.html for e in els])),
        "caption": _join([e.caption for e in els]),
        "summary": _join([e.summary for e in els]),
        "image": crop_path(first) if first else None,
        "page_image": page_path(first.doc_id, page) if first and page is not None and first.bbox else None,
    }
