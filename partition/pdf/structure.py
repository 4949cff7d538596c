"""Document-wide decisions over every page's records, then Elements.

- body font: the size (and weight) most characters are set in;
- running headers/footers and bare page numbers: text in the top or bottom margin that
  repeats at the same place across pages (digits masked, so "Page 7" matches "Page 8");
- headings: short blocks set larger than the body, or entirely bold; their level comes
  from their numbering ("2.1 Retrieval" -> 2) or, unnumbered, from their style's rank;
- the section path, list items, captions and footnotes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from folio.element import Element
from partition.context import PartitionContext
from partition.pdf.records import Item, PageRecord
from partition.pdf.text import BULLETS, starts_list_item

MARGIN_SHARE = 0.12  # top/bottom share of the page where running headers and footers live
ORDER_STRIDE = 10000  # order = page * ORDER_STRIDE + index within the page

_CAPTION = re.compile(r"^(figure|fig\.|table|exhibit|chart|plate)\s*[\dIVX]+[A-Za-z]?(\s*[:.\-–—]|\s+\S)", re.I)
_NUMBERED = re.compile(r"^((?:\d{1,2}|[A-Z])(?:\.\d{1,2})*)\.?\s+(?=[A-Za-z])")
_PART = re.compile(r"^part\s+[IVX]{1,4}\b", re.I)
_ITEM = re.compile(r"^item\s+\d{1,2}[A-C]?\b", re.I)
_PAGE_NUMBER = re.compile(
    # "7", "- 7 -", "Page 7 of 9", "vii", and chapter-page "7-45"
    r"^((page|p\.)\s*)?[-–—]?\s*(\d{1,4}|[ivxlcdm]{1,6}|\d{1,2}[-–]\d{1,4})\s*[-–—]?(\s*(of|/)\s*\d{1,4})?$",
    re.I,
)
_PRIVATE_BULLET = re.compile(r"^[\uf000-\uf0ff\u25aa\u25cf\u2023\u25e6]\s*")


def is_caption(text: str) -> bool:
    return bool(_CAPTION.match(text)) and len(text) < 600


def _size_key(size: float) -> float:
    return round(size * 2) / 2


@dataclass(frozen=True, slots=True)
class BodyFont:
    size: float


def body_font(pages: list[PageRecord]) -> BodyFont:
    weights: Counter[float] = Counter()
    for rec in pages:
        for it in rec.items:
            if it.kind == "text":
                weights[_size_key(it.size)] += len(it.text)
    return BodyFont(size=weights.most_common(1)[0][0] if weights else 10.0)


def _furniture_key(it: Item, rec: PageRecord, edge: str | None) -> tuple[str, str, int] | None:
    """What must repeat across pages for ``it`` to be a running header or footer: the
    same text (digits masked) at about the same height in the top or bottom margin, or
    as the first or last thing on the page (pages rendered from HTML put the footer
    right under the content, at a different height on every page)."""
    if it.lines > 2 or len(it.text) > 150:
        return None
    masked = re.sub(r"\d+", "#", " ".join(it.text.lower().split()))
    if it.bbox[3] <= rec.height * MARGIN_SHARE:
        # x is left out so centred and mirrored (odd/even page) headers still match.
        return masked, "top", round(it.bbox[1] / 6)
    if it.bbox[1] >= rec.height * (1 - MARGIN_SHARE):
        return masked, "bottom", round(it.bbox[1] / 6)
    if edge is not None:
        return masked, edge, 0
    return None


def running_furniture(pages: list[PageRecord]) -> set[tuple[int, int]]:
    """(page, item index) of running headers, footers and bare page numbers."""
    counts: Counter[tuple[str, str, int]] = Counter()
    keys: dict[tuple[int, int], tuple[str, str, int]] = {}
    drop: set[tuple[int, int]] = set()
    for rec in pages:
        text_idx = [n for n, it in enumerate(rec.items) if it.kind in ("text", "ocr")]
        edges = {text_idx[0]: "first", text_idx[-1]: "last"} if text_idx else {}
        seen: set[tuple[str, str, int]] = set()
        for n in text_idx:
            it = rec.items[n]
            key = _furniture_key(it, rec, edges.get(n))
            if key is None:
                continue
            if _PAGE_NUMBER.match(it.text.strip()):
                drop.add((rec.page, n))
                continue
            keys[(rec.page, n)] = key
            if key not in seen:
                seen.add(key)
                counts[key] += 1
    need = 2 if len(pages) <= 4 else 3
    texts = {(rec.page, n): rec.items[n].text for rec in pages for n in range(len(rec.items))}
    groups: dict[tuple[str, str, int], list[tuple[int, int]]] = {}
    for where, key in keys.items():
        if counts[key] >= need:
            groups.setdefault(key, []).append(where)
    for members in groups.values():
        if _repeats(members, texts):
            drop.update(members)
    return drop


def _repeats(members: list[tuple[int, int]], texts: dict[tuple[int, int], str]) -> bool:
    """Digits were masked to match "Page 7" with "Page 8"; but "Q1 2022 - Income by
    Segment" over "Q2 2023 - Income by Segment" is a title per page. Texts that differ are
    furniture only when some number in them counts the pages (number - page constant)."""
    raw = [" ".join(texts[m].split()) for m in members]
    if len(set(raw)) == 1:
        return True
    numbers = [[int(x) for x in re.findall(r"\d+", t)] for t in raw]
    width = min(len(ns) for ns in numbers)
    return any(len({ns[i] - page for ns, (page, _) in zip(numbers, members)}) == 1 for i in range(width)) or any(
        len({ns[-1 - i] - page for ns, (page, _) in zip(numbers, members)}) == 1 for i in range(width)
    )


def _heading_candidate(it: Item, body: BodyFont) -> bool:
    text = it.text
    if it.kind != "text" or it.lines > 3 or len(text) > 160 or len(text.split()) > 20:
        return False
    if it.meta.get("rotated"):
        return False
    if not any(c.isalpha() for c in text) or is_caption(text) or text.endswith((",", ";")):
        return False
    if it.size >= body.size * 1.12 and it.size >= body.size + 1.0:
        return True
    return it.bold and it.size >= body.size - 0.5 and len(text) <= 120 and not starts_list_item(text)


def numbering_depth(text: str) -> int | None:
    """Level from a heading's own numbering: "2.1 Retrieval" -> 2; in filings
    "PART II" -> 1 and "Item 7." -> 2."""
    if _PART.match(text):
        return 1
    if _ITEM.match(text):
        return 2
    m = _NUMBERED.match(text)
    if not m:
        return None
    label = m.group(1)
    if len(label) == 1 and label.isalpha() and not text[2:3].isupper():
        return None  # "A stronger..." is a sentence, not appendix "A Proofs"
    return label.count(".") + 1


class _Headings:
    """Heading styles of a document and the level each style stands for."""

    def __init__(self, pages: list[PageRecord], body: BodyFont, skip: set[tuple[int, int]]) -> None:
        self.body = body
        styles: Counter[tuple[float, bool]] = Counter()
        depths: dict[tuple[float, bool], Counter[int]] = {}
        self.title: tuple[int, int] | None = None
        best = 0.0
        for rec in pages:
            for n, it in enumerate(rec.items):
                if (rec.page, n) in skip or not _heading_candidate(it, body):
                    continue
                style = self.style(it)
                styles[style] += 1
                depth = numbering_depth(it.text)
                if depth is not None:
                    depths.setdefault(style, Counter())[depth] += 1
                if rec.page == pages[0].page and it.size >= body.size * 1.25 and it.size > best:
                    best, self.title = it.size, (rec.page, n)
        ranked = sorted(styles, key=lambda s: (-s[0], not s[1]))
        self.level: dict[tuple[float, bool], int] = {}
        for i, s in enumerate(ranked):
            numbered = depths.get(s)
            if not numbered:
                self.level[s] = i + 1  # bigger type, higher level
            elif sum(numbered.values()) * 2 >= styles[s]:
                # Mostly numbered (papers): "Abstract" sits beside "1 Introduction".
                self.level[s] = numbered.most_common(1)[0][0]
            else:
                # Mostly unnumbered (filings): "General" under "Item 1. Business".
                self.level[s] = max(numbered) + 1

    @staticmethod
    def style(it: Item) -> tuple[float, bool]:
        return _size_key(it.size), it.bold

    def level_of(self, it: Item) -> int:
        depth = numbering_depth(it.text)
        return depth if depth is not None else self.level.get(self.style(it), 1)


def _text_role(it: Item, body: BodyFont, rec: PageRecord) -> str:
    if is_caption(it.text):
        return "caption"
    if starts_list_item(it.text) or it.text[:1] in BULLETS or _PRIVATE_BULLET.match(it.text):
        return "list_item"
    marker = it.text[:1]
    if it.size <= body.size * 0.85 and it.bbox[1] >= rec.height * 0.7 and (marker.isdigit() or marker in "*†‡§"):
        return "footnote"
    return "paragraph"


def build_elements(ctx: PartitionContext, pages: list[PageRecord]) -> Iterator[Element]:
    body = body_font(pages)
    skip = running_furniture(pages)
    heads = _Headings(pages, body, skip)
    path: list[tuple[int, str]] = []
    for rec in pages:
        for n, it in enumerate(rec.items):
            if (rec.page, n) in skip:
                continue
            role = it.role
            text = it.text
            if it.kind == "text" and not any(c.isalnum() for c in text):
                continue  # rules drawn with characters ("_____", "* * *")
            if it.kind == "text":
                if (rec.page, n) == heads.title:
                    role = "title"
                elif _heading_candidate(it, body):
                    role = "heading"
                    level = heads.level_of(it)
                    while path and path[-1][0] >= level:
                        path.pop()
                    path.append((level, text))
                else:
                    role = _text_role(it, body, rec)
                    text = _PRIVATE_BULLET.sub("• ", text)
            elif it.kind == "table":
                role = "table"
            yield ctx.make(
                "text" if it.kind == "ocr" else it.kind,  # type: ignore[arg-type]
                text,
                role=role or "paragraph",
                page=rec.page,
                page_label=rec.label,
                bbox=it.bbox,
                section=tuple(t for _, t in path),
                html=it.html,
                image=it.image,
                order=rec.page * ORDER_STRIDE + n,
                meta=dict(it.meta),
            )
