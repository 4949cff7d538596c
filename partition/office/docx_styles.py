"""DOCX paragraph styles resolved once per document: heading level and list membership.

Reading ``paragraph.style`` through python-docx costs a lookup per paragraph; a big
document has thousands, so the style table is flattened into a dict up front. Style ids
are localized (``1`` is "heading 1" in a Chinese Word), so decisions use style names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from docx.oxml.ns import qn

W_VAL = qn("w:val")
_HEADING_RE = re.compile(r"^heading\s*(\d)$", re.I)


@dataclass(frozen=True, slots=True)
class StyleInfo:
    name: str
    heading_level: int | None  # 0 = Title, 1.. = Heading n
    numbered: bool  # the style itself carries list numbering


def _own_props(style: Any) -> tuple[str, str | None, int | None, bool | None]:
    name_el = style.find(qn("w:name"))
    name = name_el.get(W_VAL, "") if name_el is not None else ""
    based = style.find(qn("w:basedOn"))
    ppr = style.find(qn("w:pPr"))
    outline: int | None = None
    numbered: bool | None = None
    if ppr is not None:
        ol = ppr.find(qn("w:outlineLvl"))
        if ol is not None and (ol.get(W_VAL) or "").isdigit():
            outline = int(ol.get(W_VAL))
        num = ppr.find(qn("w:numPr"))
        if num is not None:
            num_id = num.find(qn("w:numId"))
            # numPr without numId (Subtitle in some templates) only sets a level.
            numbered = num_id is not None and num_id.get(W_VAL) != "0"
    return name, based.get(W_VAL) if based is not None else None, outline, numbered


def heading_level_for(name: str, outline: int | None) -> int | None:
    lowered = name.strip().lower()
    if lowered == "title":
        return 0
    m = _HEADING_RE.match(lowered)
    if m:
        return int(m.group(1))
    if outline is not None and outline < 9:  # 9 means "body text"
        return outline + 1
    return None


def load_styles(doc: Any) -> dict[str, StyleInfo]:
    raw: dict[str, tuple[str, str | None, int | None, bool | None]] = {}
    for style in doc.styles.element.iterchildren(qn("w:style")):
        if style.get(qn("w:type")) not in (None, "paragraph"):
            continue
        style_id = style.get(qn("w:styleId"))
        if style_id:
            raw[style_id] = _own_props(style)

    def resolve(style_id: str) -> StyleInfo:
        name = raw[style_id][0]
        level: int | None = None
        numbered: bool | None = None
        seen: set[str] = set()
        current: str | None = style_id
        # Walk basedOn: a custom "My Heading" based on Heading 2 is a level-2 heading.
        while current in raw and current not in seen:
            seen.add(current)
            own_name, based, outline, own_numbered = raw[current]
            if level is None:
                level = heading_level_for(own_name, outline)
            if numbered is None:
                numbered = own_numbered
            current = based
        lowered = name.lower()
        if numbered is None:
            numbered = lowered.startswith(("list bullet", "list number"))
        return StyleInfo(name=name, heading_level=level, numbered=bool(numbered))

    return {style_id: resolve(style_id) for style_id in raw}
