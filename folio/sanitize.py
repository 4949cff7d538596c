"""Untrusted text from documents and models: a table-HTML allow-list cleaner, a parser back
to rows for prompts, and the checks for text that gives a model orders or says too little.

Table HTML comes from documents (unstructured's text_as_html, our own grid rendering)
and is shown in the UI, so only table structure survives: no scripts, styles, event
handlers, links, images or unknown attributes.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

TABLE_TAGS = frozenset(
    {"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col", "br"}
)
CELL_ATTRIBUTES = frozenset({"rowspan", "colspan", "scope"})
_ATTRIBUTES = {"th": set(CELL_ATTRIBUTES), "td": set(CELL_ATTRIBUTES), "col": {"span"}, "colgroup": {"span"}}


def sanitize_table_html(html: str) -> str:
    """Keep only table structure; text of dropped tags stays, script/style content goes."""
    import nh3

    return nh3.clean(
        html,
        tags=set(TABLE_TAGS),
        attributes=_ATTRIBUTES,
        url_schemes=set(),
        strip_comments=True,
        link_rel=None,
        clean_content_tags={"script", "style", "noscript", "template", "iframe", "object", "svg", "math"},
    ).strip()


class _RowParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.header_rows: set[int] = set()
        self.caption = ""
        self._cell: list[str] | None = None
        self._in_caption = False
        self._row_has_th = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
            self._row_has_th = False
        elif tag in ("td", "th"):
            if not self.rows:
                self.rows.append([])
            self._cell = []
            self._row_has_th |= tag == "th"
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row_has_th and self.rows:
            self.header_rows.add(len(self.rows) - 1)
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.caption += data


def table_rows(html: str) -> tuple[list[list[str]], int, str]:
    """(rows of cell texts, number of leading header rows, caption) from table HTML."""
    p = _RowParser()
    p.feed(html)
    p.close()
    n_header = 0
    while n_header in p.header_rows:
        n_header += 1
    keep = [i for i, r in enumerate(p.rows) if any(r)]
    rows = [p.rows[i] for i in keep]
    n_header = sum(1 for i in keep if i < n_header)
    # Without <th> the first row is the best guess at the header.
    return rows, max(n_header, 1 if rows else 0), " ".join(p.caption.split())


# --- text that addresses a model ---------------------------------------------------

_INSTRUCTION_RES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bignore (all |any |the )?(previous|prior|above|earlier|other)\b",
        r"\b(disregard|forget) (all |any |the |your )?(previous |prior |above )?(instructions|rules|prompt)",
        r"\bwhen (describing|summari[sz]ing|captioning|answering|reading)\b",
        r"\bbe sure to (mention|say|include|write|note|state)\b",
        r"\b(you are|act as|pretend to be) (now )?(an? )?(ai|assistant|chatbot|language model|llm)\b",
        r"\b(respond|reply|answer|output) (only )?with\b",
        r"\b(system prompt|new instructions?)\b",
        r"\binstead,? (say|write|output|print)\b",
        r"\b(dear|attention|note to) (ai|assistant|model|llm|chatgpt)\b",
    )
]


def looks_like_instructions(text: str) -> bool:
    """Text that addresses a model or gives it orders (a prompt injection, or just a
    document quoting one); such text must be described, not obeyed."""
    return any(r.search(text) for r in _INSTRUCTION_RES)


# Letters and digits a picture's OCR text needs before an LLM can say anything about the
# picture itself (a logo's name, a few stray glyphs of a photo are below it).
MIN_PICTURE_TEXT = 20


def too_little_text(text: str) -> bool:
    return sum(ch.isalnum() for ch in text) < MIN_PICTURE_TEXT
