"""A page's text layer -> lines with font facts -> paragraph-sized blocks.

MuPDF's own blocks are a good start but mix a heading with the paragraph under it, or run
list items together; blocks are split where the style changes, where a new list item
starts, and at large vertical gaps.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from folio.element import BBox
from partition.pdf.records import Item, union

BOLD_FLAG = 16  # MuPDF span flag
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.I)

# Glyphs PDFs use as list bullets (including Symbol/Wingdings private-use code points).
BULLETS = "•●▪■◦○‣⁃∙·–—-*\uf0b7\uf0a7\uf076\uf0d8\uf0fc\u25aa\u25cf\u2023"
_ENUM = re.compile(r"^(\(?[a-zA-Z]\)|\(?\d{1,2}\)|\(?[ivxIVX]{1,4}\)|[a-z]\.|\d{1,2}\.)\s+\S")
# Glyphs without a Unicode mapping come out as control characters: noise in an index.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BULLET_START = re.compile(rf"^[{re.escape(BULLETS)}](\s+|$)")


@dataclass(slots=True)
class Line:
    text: str
    bbox: BBox
    size: float
    bold: bool
    block: int  # MuPDF block number, the first grouping hint
    rotated: bool = False  # vertical margin stamps ("arXiv:..."), rotated table headers


def page_lines(page: Any) -> list[Line]:
    """Visible horizontal-ish text lines of a page (images are not loaded)."""
    import pymupdf

    flags = (pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES) | pymupdf.TEXT_MEDIABOX_CLIP
    data = page.get_text("dict", flags=flags, sort=False)
    out: list[Line] = []
    for bno, block in enumerate(data.get("blocks", ())):
        if block.get("type", 0) != 0:
            continue
        for line in block.get("lines", ()):
            spans = [s for s in line.get("spans", ()) if s.get("text", "").strip()]
            if not spans:
                continue
            text = _CONTROL.sub("", "".join(s["text"] for s in line["spans"])).strip()
            if not text:
                continue
            weights: Counter[float] = Counter()
            bold_chars = 0
            total = 0
            for s in spans:
                n = len(s["text"].strip())
                weights[round(float(s["size"]) * 2) / 2] += n
                total += n
                if s.get("flags", 0) & BOLD_FLAG or _BOLD_NAME.search(s.get("font", "")):
                    bold_chars += n
            x0 = min(s["bbox"][0] for s in spans)
            y0 = min(s["bbox"][1] for s in spans)
            x1 = max(s["bbox"][2] for s in spans)
            y1 = max(s["bbox"][3] for s in spans)
            out.append(
                Line(
                    text=" ".join(text.split()),
                    bbox=(x0, y0, x1, y1),
                    size=weights.most_common(1)[0][0],
                    # Mostly bold: a ligature or symbol often comes from another font.
                    bold=bold_chars >= 0.6 * total,
                    block=bno,
                    rotated=abs(float(line.get("dir", (1.0, 0.0))[1])) > 0.1,
                )
            )
    return _merge_same_row(out)


def _merge_same_row(lines: list[Line]) -> list[Line]:
    """Join pieces of one visual line: MuPDF splits lines at tab stops and font switches,
    and inline maths (sub/superscripts) even lands in blocks of its own."""
    out: list[Line] = []
    for ln in lines:
        prev = out[-1] if out else None
        if prev is not None and _same_row(prev.bbox, ln.bbox) and _joins(prev, ln):
            main = prev if len(prev.text) >= len(ln.text) else ln
            out[-1] = Line(
                text=f"{prev.text} {ln.text}",
                bbox=union(prev.bbox, ln.bbox),
                size=main.size,
                bold=prev.bold and ln.bold,
                block=prev.block,
                rotated=prev.rotated,
            )
        else:
            out.append(ln)
    return out


def _joins(prev: Line, ln: Line) -> bool:
    size = max(min(prev.size, ln.size), 1.0)
    gap = ln.bbox[0] - prev.bbox[2]
    if prev.block == ln.block:
        return 0 <= gap < 3 * size and abs(prev.size - ln.size) < 1.0
    # Across blocks only when nearly touching (a column gutter is wider than a font size)
    # and continuing to the right; a smaller piece is a sub- or superscript.
    small = _fragment(prev, ln.size) or _fragment(ln, prev.size)
    return ln.bbox[0] > prev.bbox[0] and -2 * size < gap < size and (small or abs(prev.size - ln.size) < 1.0)


def _same_row(a: BBox, b: BBox) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap > 0.5 * min(a[3] - a[1], b[3] - b[1])


def starts_list_item(text: str) -> bool:
    return bool(_BULLET_START.match(text) or _ENUM.match(text))


def is_bullet_only(text: str) -> bool:
    return len(text) <= 2 and all(c in BULLETS or c.isspace() for c in text)


def blocks_from_lines(lines: list[Line]) -> list[Item]:
    """Group lines (already filtered of table/figure text) into paragraph blocks."""
    blocks: list[list[Line]] = []
    for ln in lines:
        cur = blocks[-1] if blocks else None
        if cur is not None and _continues(cur, ln):
            cur.append(ln)
        else:
            blocks.append([ln])
    return _attach_bullets([_to_item(b) for b in blocks])


def _continues(block: list[Line], ln: Line) -> bool:
    last = block[-1]
    if ln.rotated != last.rotated:
        return False
    if ln.block != last.block and not _same_paragraph(block, ln):
        return _wrapped_heading(last, ln)
    # Sub- and superscripts of inline maths are short lines in a smaller size: not a
    # style change. A heading line and the paragraph under it are.
    ref = next((x for x in reversed(block) if not _fragment(x, block[0].size)), block[0])
    if not _fragment(ln, block[0].size) and (abs(ln.size - ref.size) >= 1.0 or ln.bold != ref.bold):
        return False
    height = max(last.bbox[3] - last.bbox[1], 1.0)
    if ln.bbox[1] - last.bbox[3] > 0.9 * height:
        return False  # paragraph gap
    left = min(x.bbox[0] for x in block)
    return not (starts_list_item(ln.text) and ln.bbox[0] <= left + 2 * max(ln.size, 1.0))


def _same_paragraph(block: list[Line], ln: Line) -> bool:
    """A paragraph MuPDF broke into blocks (inline maths does it): same style, no indent,
    line spacing, and the previous line ran to the right edge (it did not end a paragraph)."""
    last = block[-1]
    left = min(x.bbox[0] for x in block)
    right = max(x.bbox[2] for x in block)
    height = max(last.bbox[3] - last.bbox[1], 1.0)
    gap = ln.bbox[1] - last.bbox[3]
    return (
        len(block) >= 2
        and abs(ln.size - last.size) < 0.5
        and ln.bold == last.bold
        and abs(ln.bbox[0] - left) < 2.0
        and -2.0 <= gap <= 0.5 * height
        and last.bbox[2] >= right - 0.1 * (right - left)
        and not starts_list_item(ln.text)
    )


def _wrapped_heading(last: Line, ln: Line) -> bool:
    """A bold title wrapped over two lines that MuPDF put in separate blocks."""
    height = max(last.bbox[3] - last.bbox[1], 1.0)
    gap = ln.bbox[1] - last.bbox[3]
    x_overlap = min(last.bbox[2], ln.bbox[2]) - max(last.bbox[0], ln.bbox[0])
    return (
        last.bold and ln.bold and abs(last.size - ln.size) < 0.5 and -2.0 <= gap <= 0.5 * height and x_overlap > 0
    )


def _fragment(ln: Line, size: float) -> bool:
    return len(ln.text) < 15 and ln.size < size - 0.5


def _to_item(lines: list[Line]) -> Item:
    text = lines[0].text
    for ln in lines[1:]:
        # Re-join words hyphenated at a line break ("retrie-" + "val").
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and ln.text[:1].islower():
            text = text[:-1] + ln.text
        else:
            text = f"{text} {ln.text}"
    bbox = lines[0].bbox
    weights: Counter[float] = Counter()
    for ln in lines:
        bbox = union(bbox, ln.bbox)
        weights[ln.size] += len(ln.text)
    return Item(
        kind="text",
        text=text,
        bbox=bbox,
        size=weights.most_common(1)[0][0],
        bold=all(ln.bold for ln in lines),
        lines=len(lines),
        meta={"rotated": True} if lines[0].rotated else {},
    )


def _attach_bullets(items: list[Item]) -> list[Item]:
    """A bullet drawn as its own block joins the text block to its right on the same row."""
    out = [it for it in items if not is_bullet_only(it.text)]
    for b in (it for it in items if is_bullet_only(it.text)):
        target = None
        for it in out:
            if _same_row(b.bbox, (it.bbox[0], it.bbox[1], it.bbox[2], it.bbox[1] + (b.bbox[3] - b.bbox[1])))\
                    and 0 <= it.bbox[0] - b.bbox[2] < 40:
                target = it
                break
        if target is not None:
            target.text = f"• {target.text}"
            target.bbox = union(target.bbox, b.bbox)
    return out
