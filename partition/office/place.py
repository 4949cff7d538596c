"""Where office elements sit on the rendered PDF (partition/office/render.py).

DOCX has no pages of its own: each element is found in the rendered PDF by its words,
in reading order (a cursor moves through the PDF's words as the elements do, so a
repeated heading is found where it comes next, not at its first occurrence). Its page
is the page where its first words land and its box the union of its matched words on
that page. A picture takes the next picture of the rendered PDF at or after the page of
the element before it. What cannot be found keeps no page and says why in
``meta["page_note"]``.

PPTX slides are pages already: boxes go from slide points (EMU / 12700, as the
partitioner wrote them) to the rendered page's points by the ratio of the two widths.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from folio.element import BBox, Element, element_id, id_content

_WORD = re.compile(r"\w+")
ANCHOR = 4  # words that must follow one another in the PDF to place an element
_SKIP_PDF = 12  # PDF words (list numbers, headers, footers) jumped over inside an element
_SKIP_PDF_TABLE = 60  # table cells, nested tables: their order differs more
_PAGE_TURN = 150  # PDF words of a page's footer and footnotes jumped over to the next page
NOT_FOUND = "text not found on the rendered pages"
_SCAN = 2000  # at most this many PDF words are scanned for a word broken over lines


@dataclass
class Word:
    page: int  # 1-based
    box: BBox


def tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


class PdfWords:
    """Every word of a PDF as one stream of (token, page, box), with an index by token."""

    def __init__(self, pdf: Path) -> None:
        import pymupdf

        self.toks: list[str] = []
        self.words: list[Word] = []
        self.pictures: list[Word] = []  # pictures of the PDF in page order
        with pymupdf.open(str(pdf), filetype="pdf") as doc:
            self.page_count = doc.page_count
            for i, page in enumerate(doc, 1):
                for x0, y0, x1, y1, text, *_ in page.get_text("words", sort=True):
                    for t in tokens(text):
                        self.toks.append(t)
                        self.words.append(Word(i, (x0, y0, x1, y1)))
                for info in sorted(page.get_image_info(), key=lambda d: (d["bbox"][1], d["bbox"][0])):
                    x0, y0, x1, y1 = info["bbox"]
                    if x1 - x0 > 4 and y1 - y0 > 4:
                        self.pictures.append(Word(i, (x0, y0, x1, y1)))
        self.pages = [w.page for w in self.words]  # ascending: bisect finds a page's words
        self.at: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(self.toks):
            self.at[t].append(i)

    def find(self, seq: list[str], start: int, limit: int) -> int | None:
        """First position >= start (and < start + limit) where ``seq`` follows in order."""
        positions = self.at.get(seq[0], [])
        for p in positions[bisect.bisect_left(positions, start):]:
            if p >= start + limit:
                break
            if self.toks[p:p + len(seq)] == seq:
                return p
        if limit > _SCAN:
            return None
        # A word LibreOffice broke over two lines (a narrow text box): pieces in a row.
        for p in range(start, min(len(self.toks), start + limit)):
            q = p
            for t in seq:
                n = self.match(q, t)
                if not n:
                    break
                q += n
            else:
                return p
        return None

    def match(self, q: int, t: str) -> int:
        """How many PDF words from ``q`` on spell the word ``t`` (1, or its pieces); 0 if none."""
        got = ""
        for n in range(1, 4):
            if q + n > len(self.toks):
                return 0
            got += self.toks[q + n - 1]
            if got == t:
                return n
            if not t.startswith(got):
                return 0
        return 0

    def walk(self, seq: list[str], p: int, skip: int) -> tuple[list[int], int]:
        """Match ``seq`` from position ``p`` on, jumping over up to ``skip`` PDF words
        between two matched ones (and over element words the PDF lacks)."""
        hits: list[int] = []
        for t in seq:
            end = min(len(self.toks), p + skip + 1)
            page_end = bisect.bisect_right(self.pages, self.pages[p]) if p < len(self.pages) else p
            if page_end - p <= _PAGE_TURN:
                # near a page break: the footer, footnotes and the next header lie between
                end = max(end, min(len(self.toks), page_end + skip + 1))
            for q in range(p, end):
                n = self.match(q, t)
                if n:
                    hits.extend(range(q, q + n))
                    p = q + n
                    break
        return hits, p


def place_docx(elements: list[Element], pdf: Path) -> list[Element]:
    words = PdfWords(pdf)
    found = _find_all(elements, words)
    # Each element's words stop where the next element starts: a word it repeats (a
    # merged cell's text in every row it spans) or lacks would otherwise pull its box
    # into the elements after it.
    starts = sorted(h[0] for h in found.values() if h)
    last_page, picture_cursor = 1, 0
    out: list[Element] = []
    for i, el in enumerate(elements):
        if el.kind == "image":
            placed, picture_cursor = _place_picture(el, words, picture_cursor, last_page)
        elif i not in found:
            placed = _unplaced(el, "no words to find" if not tokens(el.text) else NOT_FOUND)
        else:
            hits = found[i]
            nxt = bisect.bisect_right(starts, hits[0])
            stop = starts[nxt] if nxt < len(starts) else len(words.toks)
            hits = [h for h in hits if h < stop] or hits[:1]
            placed = _with_page(el, _page_boxes(words, hits))
        out.append(placed)
        last_page = placed.page or last_page
    return out


def _find_all(elements: list[Element], words: PdfWords) -> dict[int, list[int]]:
    """Element index -> PDF positions of its matched words (the first is where it
    starts), found in reading order with a cursor through the PDF's words."""
    cursor = 0
    found: dict[int, list[int]] = {}
    for i, el in enumerate(elements):
        seq = tokens(el.text) if el.kind != "image" else []
        if not seq:
            continue
        anchor = _anchor(words, seq, cursor)
        if anchor is None:
            continue
        start, offset = anchor
        hits, _ = words.walk(seq[offset:], start, _SKIP_PDF_TABLE if el.kind == "table" else _SKIP_PDF)
        hits = [h for h in hits if h < start + 2 * len(seq) + 16]
        found[i] = hits
        # Move on by most of what matched, not all: a stray match far ahead (a word the
        # element lacks in the PDF found in the next heading) must not skip the next one.
        cursor = start + max(1, int(0.8 * len(hits)))
    return found


def _anchor(words: PdfWords, seq: list[str], cursor: int) -> tuple[int, int] | None:
    """(PDF position, element word offset) where the element starts. A few leading
    words may be missing in the PDF (a field, a symbol), so later starts are tried;
    a short element is only looked for close to the cursor (it matches anywhere)."""
    n = min(ANCHOR, len(seq))
    limit = 400 if len(seq) < ANCHOR else 20000
    for offset in range(0, min(4, len(seq) - n + 1)):
        p = words.find(seq[offset:offset + n], cursor, limit)
        if p is not None:
            return p, offset
    # A table whose merged cells repeat their text in the grid: two words, close by.
    for offset in range(0, min(4, len(seq) - 1)):
        p = words.find(seq[offset:offset + 2], cursor, 200)
        if p is not None:
            return p, offset
    return None


def _place_picture(el: Element, words: PdfWords, cursor: int, last_page: int) -> tuple[Element, int]:
    pics = words.pictures
    while cursor < len(pics) and pics[cursor].page < last_page:
        cursor += 1
    if cursor >= len(pics) or pics[cursor].page > last_page + 1:
        return _unplaced(el, "picture not found on the rendered pages"), cursor
    pic = pics[cursor]
    return _with_page(el, [(pic.page, pic.box)]), cursor + 1


def _union(boxes: list[BBox]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _page_boxes(words: PdfWords, hits: list[int]) -> list[tuple[int, BBox]]:
    """(page, union of the matched words there) for each page the words are on, in order."""
    by_page: dict[int, list[BBox]] = {}
    for h in hits:
        by_page.setdefault(words.words[h].page, []).append(words.words[h].box)
    return [(page, _union(boxes)) for page, boxes in by_page.items()]


def _with_page(el: Element, boxes: list[tuple[int, BBox]]) -> Element:
    meta: dict[str, Any] = {k: v for k, v in el.meta.items() if k != "page_note"}
    meta["page_source"] = "rendered"
    rounded = [(page, tuple(round(v, 2) for v in box)) for page, box in boxes]
    if len(rounded) > 1:
        # A paragraph or table over a page break: a box on each page, as for a PDF table
        # joined over pages (partition/tables/join.py); chunks and citations draw them all.
        meta["spans"] = [[page, *box] for page, box in rounded]
    page, box = rounded[0]
    return _replace(el, page, box, meta)  # type: ignore[arg-type]


def _unplaced(el: Element, why: str) -> Element:
    return _replace(el, None, None, {**el.meta, "page_note": why})


def _replace(el: Element, page: int | None, box: BBox | None, meta: dict[str, Any]) -> Element:
    # The id names the page (folio/element.py): a page found now makes a new id, the
    # same one every night for the same bytes.
    new_id = element_id(el.doc_sha256, page, el.order, el.kind, id_content(el.kind, el.text, el.html, el.image))
    return dataclasses.replace(el, id=new_id, page=page, page_label=str(page) if page else None, bbox=box, meta=meta)


def place_pptx(elements: list[Element], pdf: Path, slide_width_pt: float, slides: int) -> list[Element]:
    """Slide boxes scaled to the rendered pages; the elements unchanged (and the caller
    warned) when the PDF does not have one page per slide."""
    import pymupdf

    with pymupdf.open(str(pdf), filetype="pdf") as doc:
        if doc.page_count != slides:
            raise ValueError(f"rendered PDF has {doc.page_count} pages for {slides} slides")
        width = doc[0].rect.width if doc.page_count else slide_width_pt
    k = width / slide_width_pt if slide_width_pt else 1.0
    words = PdfWords(pdf)
    out = []
    for el in elements:
        meta = {**el.meta, "page_source": "rendered"}
        box = tuple(round(v * k, 2) for v in el.bbox) if el.bbox and abs(k - 1) > 1e-3 else el.bbox
        if box is not None and el.page is not None and el.kind != "image" and el.role != "chart":
            box = _text_box(words, el, box)  # type: ignore[arg-type]
        out.append(dataclasses.replace(el, bbox=box, meta=meta))  # type: ignore[arg-type]
    return out


def _text_box(words: PdfWords, el: Element, shape: BBox) -> BBox:
    """A slide text's (or table's) box as rendered: its shape's box, widened to the words
    LibreOffice drew for it (text that overflows its shape, table rows grown taller), or
    those words alone when the shape box misses them (a shape inside a group)."""
    seq, page = tokens(el.text), el.page or 0
    lo = bisect.bisect_left(words.pages, page)
    hi = bisect.bisect_right(words.pages, page)
    if not seq or lo == hi:
        return shape
    n = min(ANCHOR, len(seq))
    start = words.find(seq[:n], lo, hi - lo)
    if start is None:
        return shape
    hits = [h for h in words.walk(seq, start, _SKIP_PDF)[0] if h < hi]
    if len(hits) < len(seq) / 2:
        return shape
    boxes = [words.words[h].box for h in hits]
    inside = sum(1 for b in boxes if _centre_in(b, shape))
    got = _union(boxes)
    if inside < len(boxes) / 2:
        return tuple(round(v, 2) for v in got)  # type: ignore[return-value]
    return tuple(round(v, 2) for v in _union([shape, got]))  # type: ignore[return-value]


def _centre_in(b: BBox, box: BBox) -> bool:
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
