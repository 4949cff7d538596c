"""Elements -> chunks: what gets embedded and full-text indexed.

- Text elements are packed in reading order within a section up to the token budget; a
  heading (or title) starts a new chunk and is never left alone as a chunk of its own.
- A text chunk never spans pages or slides: its label, citation and crop name one page, the
  one every element it holds is on (a title slide is not the first line of slide 2).
- A paragraph longer than the budget is split on sentence boundaries (words as a last resort).
- Tables (and charts) and images are chunks of their own; a long table is split by rows, header repeated.
- Every chunk's text starts with its context (document, section path, page), and tables
  and images add their caption, summary, alt text and OCR text: the words a question uses
  are often only there, never in the body.

Token counts of pieces are summed; each count includes the model's special tokens, so
the sum over-estimates the joined text and the packed chunk never exceeds ``max_tokens``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from folio.element import Element
from folio.filetype import page_unit
from folio.sanitize import too_little_text
from index.table_context import context_line, table_rows
from index.token_budget import CountTokens, Tokens, split_words

Box = tuple[int, float, float, float, float]

HEADING_ROLES = frozenset({"title", "heading"})
SECTION_LEVELS = 3  # deepest levels of the section path in the prefix: the rest is noise
MAX_CONTEXT_WORDS = 16  # per heading / title in the prefix
MAX_CAPTION_WORDS = 40  # repeated in every part of a split table: keep the budget for rows
MARGIN = 2  # tokens kept free for the separators added when joining
_LEADER = re.compile(r"(?:\s*[.·…_]){4,}\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    source: str
    doc_sha256: str
    kind: str  # "text" | "table" | "image"
    text: str  # exactly what is embedded and full-text indexed
    section: tuple[str, ...]
    element_ids: tuple[str, ...]
    pages: tuple[int, ...]
    boxes: tuple[Box, ...]
    order: int


@dataclass
class _Piece:
    """A whole element, or one part of a split one."""

    element: Element
    text: str
    tokens: int
    part: int = 0


@dataclass
class _Draft:
    kind: str
    prefix: str
    pieces: list[_Piece] = field(default_factory=list)

    @property
    def body_tokens(self) -> int:
        return sum(p.tokens for p in self.pieces)


def chunk_elements(elements: list[Element], count_tokens: CountTokens, max_tokens: int) -> list[Chunk]:
    """Group a document's elements into chunks (deterministic: same input, same ids)."""
    els = sorted(elements, key=lambda e: e.order)
    if not els:
        return []
    tokens = Tokens(count_tokens)
    tokens.many(_body(e) for e in els if e.kind == "text")
    ctx = _DocContext(els)
    drafts: list[_Draft] = []
    texts = _TextPacker(ctx, tokens, max_tokens, drafts)
    for i, e in enumerate(els):
        if e.kind == "text":
            texts.add(e)
        elif e.kind == "table":
            drafts.extend(_table_drafts(e, els, i, ctx, tokens, max_tokens))
        else:
            drafts.extend(_image_drafts(e, els, i, ctx, tokens, max_tokens))
    texts.finish()
    return [_to_chunk(d, n) for n, d in enumerate(drafts)]


# ---- context ----------------------------------------------------------------------------


# Bump when the chunk text changes: the nightly run then re-chunks and re-embeds stored
# elements (no re-partitioning).
# 3: a split table carries its summary once; 4: no chunk for a picture with nothing to say;
# 5: table parts carry their statement, units and periods; 6: pictures keep OCR beside alt text;
# 7: text chunks end at a page or slide break
CHUNKER_VERSION = 7


def _words(text: str, limit: int = MAX_CONTEXT_WORDS) -> str:
    w = text.split()
    return " ".join(w[:limit]) + (" …" if len(w) > limit else "")


class _DocContext:
    def __init__(self, els: list[Element]) -> None:
        self.slides = page_unit(els[0].source) == "slide"
        stem = PurePath(els[0].source).stem
        name = re.sub(r"[_\s]+", " ", stem).strip()
        title = next((e.text for e in els[:50] if e.role == "title" and e.text.strip()), "")
        if title.isupper():
            title = ""  # a letterhead ("UNITED STATES SECURITIES AND EXCHANGE ...") names no document
        self.doc = name if not title or title.lower() in name.lower() else f"{name} | {_words(title)}"

    def prefix(self, e: Element) -> str:
        """The first line of every chunk's text: document, section path, page label."""
        parts = [self.doc]
        if e.section:
            parts.append(" > ".join(_words(s) for s in e.section[-SECTION_LEVELS:]))
        if e.page is not None:
            # Say it the way people ask: "slide 4", "page 55" (and the printed label).
            where = f"{'slide' if self.slides else 'page'} {e.page}"
            if e.page_label and e.page_label != str(e.page):
                where += f" (printed {e.page_label})"
            parts.append(where)
        return " | ".join(parts)


def _body(e: Element) -> str:
    # Table-of-contents leaders (". . . . .") cost a token per dot and carry nothing.
    return _LEADER.sub(" … ", " ".join(e.text.split()))


# ---- text -------------------------------------------------------------------------------


class _TextPacker:
    def __init__(self, ctx: _DocContext, tokens: Tokens, max_tokens: int, out: list[_Draft]) -> None:
        self.ctx, self.tokens, self.max_tokens, self.out = ctx, tokens, max_tokens, out
        self.cur: _Draft | None = None
        self.section: tuple[str, ...] = ()
        self.page: int | None = None
        self.only_headings = False

    def _budget(self, prefix: str) -> int:
        return self.max_tokens - self.tokens.one(prefix) - MARGIN

    def _start(self, e: Element, carry: list[_Piece] | None = None) -> None:
        self.cur = _Draft("text", self.ctx.prefix(e), list(carry or []))
        self.section = e.section

    def _flush(self) -> None:
        if self.cur is not None and self.cur.pieces:
            self.out.append(self.cur)
        self.cur = None

    def add(self, e: Element) -> None:
        text = _body(e)
        if not text:
            return
        heading = e.role in HEADING_ROLES
        carry: list[_Piece] = []
        if self.cur is not None and None not in (e.page, self.page) and e.page != self.page:
            # Headings at the foot of a page do not travel to the next page's content: the
            # chunk would cite one page and hold two. That content still names them in its
            # prefix (the section path).
            self._close()
        if self.cur is not None:
            if self.only_headings and not heading:
                # Headings wait for their first content; the chunk takes that content's context.
                carry, self.cur = self.cur.pieces, None
            elif not self.only_headings and (heading or e.section != self.section):
                self._flush()
        if self.cur is None:
            self._start(e, carry)
        assert self.cur is not None
        budget = self._budget(self.cur.prefix)
        for piece in _split(e, text, self.tokens, budget - sum(p.tokens for p in carry)):
            if self.cur.pieces and self.cur.body_tokens + piece.tokens > budget:
                self._flush()
                self._start(e)
                budget = self._budget(self.cur.prefix)
            self.cur.pieces.append(piece)
        if e.page is not None:  # an element with no page (rare in a paged document) breaks nothing
            self.page = e.page
        self.only_headings = all(p.element.role in HEADING_ROLES for p in self.cur.pieces)

    def _close(self) -> None:
        """Trailing headings with no content join the previous text chunk if it is on their
        page and they fit; otherwise they are a chunk of their own (a title-only slide)."""
        if self.cur is not None and self.only_headings:
            prev = next((d for d in reversed(self.out) if d.kind == "text"), None)
            if (
                prev is not None
                and prev.pieces[-1].element.page == self.page
                and prev.body_tokens + self.cur.body_tokens <= self._budget(prev.prefix)
            ):
                prev.pieces.extend(self.cur.pieces)
                self.cur = None
        self._flush()

    def finish(self) -> None:
        self._close()


def _split(e: Element, text: str, tokens: Tokens, budget: int) -> list[_Piece]:
    """The element as one piece, or sentence-packed parts when it exceeds the budget."""
    budget = max(budget, 8)
    n = tokens.one(text)
    if n <= budget:
        return [_Piece(e, text, n)]
    units: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        units.extend(split_words(sentence, tokens, budget))
    pieces: list[_Piece] = []
    cur: list[str] = []
    cur_tokens = 0
    for u, t in zip(units, tokens.many(units)):
        if cur and cur_tokens + t > budget:
            pieces.append(_Piece(e, " ".join(cur), cur_tokens, len(pieces)))
            cur, cur_tokens = [], 0
        cur.append(u)
        cur_tokens += t
    if cur:
        pieces.append(_Piece(e, " ".join(cur), cur_tokens, len(pieces)))
    return pieces


# ---- tables and images ------------------------------------------------------------------


def _nearby_caption(els: list[Element], i: int) -> str:
    """The caption linked by the partitioner, else a caption or short title line next to it."""
    e = els[i]
    linked = e.meta.get("caption_text")
    if linked:
        return str(linked)
    for j in (i - 1, i + 1):
        if 0 <= j < len(els):
            n = els[j]
            if n.kind == "text" and n.page == e.page and (
                n.role == "caption" or (j == i - 1 and n.role != "list_item" and len(n.text.split()) <= 20)
            ):
                return " ".join(n.text.split())
    return ""


def _context_lines(*pairs: tuple[str, str | None]) -> list[str]:
    seen: set[str] = set()
    lines = []
    for label, value in pairs:
        v = " ".join((value or "").split())
        if v and v.lower() not in seen:
            seen.add(v.lower())
            # "Table: Table 3 ..." would only repeat the label
            lines.append(v if v.lower().startswith(label.lower()) else f"{label}: {v}")
    return lines


def _pack_lines(
    e: Element, head: list[str], lines: list[str], prefix: str, kind: str, tokens: Tokens, max_tokens: int
) -> list[_Draft]:
    """Parts of at most max_tokens, each repeating the ``head`` lines (context, header row)."""
    head_text = "\n".join(head)
    budget = max_tokens - tokens.one(prefix) - (tokens.one(head_text) if head else 0) - MARGIN
    if budget < 16 and len(head) > 1:  # a huge header: keep its first line only
        return _pack_lines(e, head[:1], lines, prefix, kind, tokens, max_tokens)
    units: list[str] = []
    for ln in lines:
        units.extend(split_words(ln, tokens, max(budget, 8)))
    drafts: list[_Draft] = []
    cur: list[str] = []
    cur_tokens = 0
    for u, t in zip(units, tokens.many(units)):
        if cur and cur_tokens + t > budget:
            drafts.append(_Draft(kind, prefix, [_Piece(e, "\n".join([*head, *cur]), 0, len(drafts))]))
            cur, cur_tokens = [], 0
        cur.append(u)
        cur_tokens += t
    if cur or not drafts:
        drafts.append(_Draft(kind, prefix, [_Piece(e, "\n".join([*head, *cur]), 0, len(drafts))]))
    return drafts


def _table_drafts(
    e: Element, els: list[Element], i: int, ctx: _DocContext, tokens: Tokens, max_tokens: int
) -> list[_Draft]:
    header, rows = table_rows(e)
    if not header and not rows:
        return []
    label = "Chart" if e.role == "chart" else "Table"
    caption = _words(_nearby_caption(els, i), MAX_CAPTION_WORDS)  # the full caption is in a text chunk
    title = _context_lines((label, caption))
    if e.role != "chart" and (context := context_line(caption, header, rows, e.section)):
        title.append(context)
    summary = _context_lines((label, caption), ("Summary", e.summary))[len(title) :]
    prefix = ctx.prefix(e)
    whole = _pack_lines(e, [*title, *summary, *header], rows, prefix, "table", tokens, max_tokens)
    if len(whole) == 1 or not summary:
        return whole
    # Split across chunks, a summary repeated in every part would crowd out the rows (a
    # long summary left room for one row a chunk): it goes once, into a first part with the
    # title and header, and the row parts repeat only those.
    card = _Draft("table", prefix, [_Piece(e, "\n".join([*title, *summary, *header]), 0)])
    parts = [card, *_pack_lines(e, [*title, *header], rows, prefix, "table", tokens, max_tokens)]
    return [_Draft(d.kind, d.prefix, [dataclasses.replace(p, part=n) for p in d.pieces]) for n, d in enumerate(parts)]


def _image_drafts(
    e: Element, els: list[Element], i: int, ctx: _DocContext, tokens: Tokens, max_tokens: int
) -> list[_Draft]:
    described = (_nearby_caption(els, i), e.caption, e.meta.get("alt_text"))
    # "Figure" / "Picture" is how questions name them ("the picture on slide 6").
    label = "Figure" if e.role == "figure" else "Picture"
    head = _context_lines((label, described[0]), ("Description", described[1]), ("Alt text", described[2]))
    # The picture's own words (OCR, kept in meta when alt text is the element's text) are
    # often the answer, alt text or not.
    ocr = " ".join(str(e.meta.get("ocr_text") or e.text).split())
    if ocr.lower() in {" ".join(str(v or "").split()).lower() for v in described}:
        ocr = ""  # the alt text is also stored as the element's text
    if not any(described) and too_little_text(ocr):
        # Nothing to search by (no caption, alt text or text of its own): a chunk of just
        # "Picture" and its page would only match every question that says "figure". The
        # element stays in the index for citations and review.
        return []
    lines = [f"Text in image: {s}" for s in _SENTENCE_END.split(ocr)] if ocr else []
    if not head or not head[0].lower().startswith(label.lower()):
        head = [label, *head]
    return _pack_lines(e, head, lines, ctx.prefix(e), "image", tokens, max_tokens)


# ---- assembly ---------------------------------------------------------------------------


def _to_chunk(d: _Draft, order: int) -> Chunk:
    els: list[Element] = []
    for p in d.pieces:
        if not els or els[-1].id != p.element.id:
            els.append(p.element)
    ids = tuple(dict.fromkeys(e.id for e in els))
    first = d.pieces[0]
    h = hashlib.sha256()
    for part in (first.element.doc_sha256, *ids, str(first.part)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    body = "\n".join(p.text for p in d.pieces)
    content = [e for e in els if e.role not in HEADING_ROLES] or els
    section = content[0].section
    boxes = _boxes(els)
    return Chunk(
        id=h.hexdigest()[:24],
        doc_id=first.element.doc_id,
        source=first.element.source,
        doc_sha256=first.element.doc_sha256,
        kind=d.kind,
        text=f"{d.prefix}\n{body}",
        section=section,
        element_ids=ids,
        pages=tuple(sorted({int(b[0]) for b in boxes} | {e.page for e in els if e.page is not None})),
        boxes=boxes,
        order=order,
    )


def _boxes(els: list[Element]) -> tuple[Box, ...]:
    """Every element's box; a table joined over a page break has one per page (meta spans)."""
    out: list[Box] = []
    for e in els:
        spans = e.meta.get("spans")
        if spans:
            out.extend((int(s[0]), *map(float, s[1:5])) for s in spans)  # type: ignore[misc]
        elif e.page is not None and e.bbox:
            out.append((e.page, *e.bbox))
    return tuple(dict.fromkeys(out))
