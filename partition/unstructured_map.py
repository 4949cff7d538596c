"""unstructured Elements -> Folio Elements (shared by other.py and pdf_unstructured.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from folio.element import BBox, Element
from folio.table_grid import html_to_cells, to_html, to_text
from partition.context import PartitionContext

log = logging.getLogger(__name__)

# unstructured category -> our role; None = not content (page furniture, page breaks).
ROLES: dict[str, str | None] = {
    "Title": "heading",
    "NarrativeText": "paragraph",
    "UncategorizedText": "paragraph",
    "Text": "paragraph",
    "Address": "paragraph",
    "EmailAddress": "paragraph",
    "ListItem": "list_item",
    "FigureCaption": "caption",
    "Formula": "paragraph",
    "CodeSnippet": "code",
    "Image": "figure",
    "Header": None,
    "Footer": None,
    "PageNumber": None,
    "PageBreak": None,
}


def _bbox(metadata: Any) -> BBox | None:
    coords = getattr(metadata, "coordinates", None)
    points = getattr(coords, "points", None) if coords is not None else None
    if not points:
        return None
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


MAX_HEADING_WORDS = 15


def _is_heading(text: str) -> bool:
    # With the blank spaCy pipeline unstructured cannot see verbs, so short sentences and
    # table fragments come back as Title; a real heading is short and rarely ends with
    # sentence punctuation.
    words = text.split()
    return 0 < len(words) <= MAX_HEADING_WORDS and not text.rstrip().endswith((".", "!", "?", ";", ",", ":"))


class ElementMapper:
    """Stateful: tracks the heading path across elements."""

    def __init__(self, ctx: PartitionContext, base_section: tuple[str, ...] = ()) -> None:
        self.ctx = ctx
        self.base_section = base_section
        self.headings: list[tuple[int, str]] = []

    @property
    def section(self) -> tuple[str, ...]:
        return self.base_section + tuple(t for _, t in self.headings)

    def map(self, elements: Iterable[Any]) -> Iterator[Element]:
        for el in elements:
            out = self._one(el)
            if out is not None:
                yield out

    def _one(self, el: Any) -> Element | None:
        category = getattr(el, "category", "Text")
        text = (getattr(el, "text", "") or "").strip()
        md = el.metadata
        page = getattr(md, "page_number", None)
        page_label = getattr(md, "page_name", None)
        bbox = _bbox(md)
        common: dict[str, Any] = {"page": page, "page_label": page_label, "bbox": bbox}
        if category == "Table":
            return self._table(el, text, common)
        role = ROLES.get(category, "paragraph")
        if role is None or not text:
            return None
        if role == "heading" and not _is_heading(text):
            role = "paragraph"
        if role == "heading":
            depth = getattr(md, "category_depth", None) or 0
            self.headings = [(d, t) for d, t in self.headings if d < depth]
            self.headings.append((depth, " ".join(text.split())))
        return self.ctx.make("text", text, role=role, section=self.section, meta={"category": category}, **common)

    def _table(self, el: Any, text: str, common: dict[str, Any]) -> Element | None:
        raw_html = getattr(el.metadata, "text_as_html", None)
        # Round-trip through our grid: drops scripts, styles and attributes we do not render.
        cells = html_to_cells(raw_html) if raw_html else []
        if not cells:
            if not text:
                return None
            return self.ctx.make(
                "text", text, role="paragraph", section=self.section, meta={"category": "Table"}, **common
            )
        return self.ctx.make(
            "table",
            to_text(cells),
            role="table",
            html=to_html(cells),
            section=self.section,
            meta={"category": "Table"},
            **common,
        )
