"""What a question says about where its answer is: "on slide 4", "page 12", "Figure 3",
"in the table", "what colour is the circle in the picture".

People point at places in documents; plain BM25 and embeddings treat those words as
ordinary terms ("slide" and "4" are everywhere in a deck collection). Hybrid search adds
a bonus, on the RRF scale, to candidates that match such a pointer. The bonus only
re-orders candidates the two legs already found; it never adds or removes any.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from index.table_context import statements_asked

_PAGE = re.compile(r"\b(?:slide|page|p\.|pg\.?)\s*(\d{1,4})\b", re.IGNORECASE)
# "Table 3", "Figure 4-68", "Exhibit 2.3.59-10" (manuals number exhibits by section)
_REF = re.compile(r"\b(figure|fig\.?|table|exhibit|chart)\s+(\d{1,3}(?:[.-]\d{1,3}){0,3})\b", re.IGNORECASE)
_VISUAL = re.compile(
    r"\b(chart|figure|picture|image|diagram|plot(?:ted)?|graph|photo|screenshot|x-axis|y-axis|axis|"
    r"colou?rs?|logo|illustration|drawing)\b",
    re.IGNORECASE,
)
_TABLE = re.compile(r"\btables?\b", re.IGNORECASE)
_REF_NAMES = {"fig": "figure", "fig.": "figure"}

# Bonuses in units of a first-place RRF vote (1 / (rrf_k + 1)); chosen on the dev set
# (bench/retrieval.py) and robust there to halving or doubling.
PAGE_BONUS = 1.0
KIND_BONUS = 0.5
REF_BONUS = 1.0
# A question about a financial measure ("gross margin", "quick ratio", "capex") and a table
# chunk of the statement that holds its inputs (index/table_context.py labels them). A
# quarter vote re-orders close candidates only: at a full vote, statement tables overtook
# the text that ranked first in both legs (bench/retrieval.py, dev and own sets: 0.25
# gained on both, 0.5 and 1.0 lost recall on the own set).
STATEMENT_BONUS = 0.25
_HEAD_CHARS = 600  # a reference counts where the chunk names it: its context and caption


@dataclass(frozen=True)
class QueryHints:
    pages: frozenset[int] = frozenset()
    kinds: frozenset[str] = frozenset()  # "image" (figures, pictures, charts) and/or "table"
    refs: tuple[re.Pattern[str], ...] = field(default_factory=tuple)
    statements: tuple[str, ...] = ()  # "Statement: ..." labels of the statements it asks about

    def __bool__(self) -> bool:
        return bool(self.pages or self.kinds or self.refs or self.statements)

    def bonus(self, row: dict[str, Any]) -> float:
        """Bonus for one candidate chunk row (columns kind, pages, text)."""
        b = 0.0
        head = str(row.get("text") or "")[:_HEAD_CHARS]
        if self.pages and (set(row.get("pages") or ()) & self.pages or _printed(head) & self.pages):
            b += PAGE_BONUS
        kind = row.get("kind")
        if self.kinds and (kind in self.kinds or ("image" in self.kinds and _is_chart(kind, head))):
            b += KIND_BONUS
        if any(p.search(head) for p in self.refs):
            b += REF_BONUS
        if self.statements and kind == "table" and any(s in head for s in self.statements):
            b += STATEMENT_BONUS
        return b


def parse(query: str) -> QueryHints:
    pages = frozenset(int(m.group(1)) for m in _PAGE.finditer(query))
    refs = []
    for m in _REF.finditer(query):
        name = _REF_NAMES.get(m.group(1).lower(), m.group(1).lower())
        refs.append(re.compile(rf"\b{name}\.?\s*{re.escape(m.group(2))}\b", re.IGNORECASE))
    kinds = set()
    if _VISUAL.search(query):
        kinds.add("image")
    if _TABLE.search(query):
        kinds.add("table")
    return QueryHints(pages, frozenset(kinds), tuple(refs), statements_asked(query))


_PRINTED = re.compile(r"\(printed ([^)]+)\)")


def _printed(head: str) -> set[int]:
    """Printed page labels named in the chunk's context line ("page 57 (printed 55)")."""
    first = head.split("\n", 1)[0]
    return {int(m.group(1)) for m in _PRINTED.finditer(first) if m.group(1).isdigit()}


def _is_chart(kind: Any, head: str) -> bool:
    return kind == "table" and "\nChart" in head
