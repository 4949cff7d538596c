"""The cell lookup: for a question that asks for one value, the model names a table, a row
and a column, and the value is read from the grid, never written by the model.

A small model copying a figure out of a linearised table picks the neighbouring cell; the
same model choosing among labels does much better, and a JSON-schema grammar (llama.cpp)
limits its answer to the real labels: each table is one ``anyOf`` branch whose ``enum``s
hold its row and column labels (duplicates numbered "#1", "#2", as the prompt shows
them), plus a "none" row for "no cell holds it". The prompt shows the records of the top
table blocks only (a few hundred tokens), under the answers' own system message (the
same prefix keeps llama.cpp's KV cache warm).

``lookup`` returns None when the pick is unusable (the "none" row, an empty or nil cell, a
row and column the question names neither of): the engine then takes the text path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from answer.prompts import _data, _label, answer_messages
from answer.records import NEST, SEP, Similarity, TableView, is_number, named
from answer.text import content_words

if TYPE_CHECKING:
    from answer.backends import Backend
    from answer.context import Block
    from folio.element import BBox

MAX_TABLES = 3  # table blocks offered, in retrieval order
MAX_ROWS = 12  # rows and columns per table in the prompt (the ones the question matches best)
MAX_COLS = 6
MAX_LABEL_WORDS = 14  # a label the model must copy: long ones cost output tokens
MAX_TOKENS = 96
NONE = "none"
INSTRUCTION = (
    "Which table cell holds the value the question asks for? Give the source number, the "
    f'row label and the column label exactly as written; row "{NONE}" if no cell holds it.'
)
_NIL = frozenset({"-", "–", "—", "n/a", "na", "nm", "n.m.", "*"})

# Question forms that ask for one value, and forms that ask for something else.
_ASKS = re.compile(
    r"\b(?:what|which)\s+(?:was|were|is|are|'s|will be)\b"
    r"|\bwhat\s+(?:amount|value|number|percentage|percent|share|proportion|rate|price|level|total|figure|"
    r"[a-z\-]+\s+(?:in|of)\s+[a-z$%]+)\b"
    r"|\bwhat\s+[\w\s\-()]{1,60}?\b(?:did|does|do|was|were|is|are)\b"
    r"|\bhow\s+(?:much|many|long|large|big|high|low|old)\b",
    re.IGNORECASE,
)
_NOT_ONE_VALUE = re.compile(
    r"\b(?:why|explain|describe|summari[sz]e|list|discuss|outline|compare|compared|versus|vs\.?"
    r"|how\s+(?:did|does|do|has|have|can|could|should|would|will)\b(?!\s+(?:much|many))"
    r"|what\s+(?:drove|caused|led|factors|reasons|drivers|risks)|(?:main|key|primary)\s+(?:drivers|factors|reasons)"
    r"|calculate|compute|difference|change[ds]?|growth|grew|increase[ds]?\s+by|decrease[ds]?\s+by|average"
    r"|what\s+(?:are|were)\s+(?:the\s+)?(?:main|key|primary|major|principal|biggest|largest|most)"
    r"|numerator|denominator|divided|formula|title|names?|colou?rs?|plotted|depicted|meaning|purpose"
    r"|combined|sum\s+of|each|every|breakdown|trend)\b",
    re.IGNORECASE,
)
_DATE_RE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|^\s*(?:as of|at)\b", re.IGNORECASE
)
_PERIOD_RE = re.compile(
    r"^\s*(?:three|six|nine|twelve|\d+)\s+(?:months|weeks)|^\s*(?:fiscal\s+)?(?:years?|quarters?)\s+ended",
    re.IGNORECASE,
)
_YEARISH_RE = re.compile(r"\b(?:(?:19|20)\d\d|fy\s?'?\d{2,4}|q[1-4])\b", re.IGNORECASE)


def asks_for_value(question: str) -> bool:
    """True for a question that asks for one value ("What was X in 2022?", "How many Y
    were there in Z?"); False for explanations, lists, comparisons and arithmetic, which
    other paths answer."""
    return bool(_ASKS.search(question)) and not _NOT_ONE_VALUE.search(question)


@dataclass
class Lookup:
    n: int  # the block cited
    element_id: str
    row: str
    column: str
    value: str
    answer: str  # "Inventories (in millions) at December 31, 2022 was 5,372 [2]."
    units: str = ""
    page: int | None = None
    # The table's box: the partitioners keep no per-cell boxes (el.meta has none), so a
    # citation draws the whole table.
    bbox: BBox | None = None


@dataclass
class _Candidate:
    block: Block
    element_id: str
    view: TableView  # the selected rows and columns, labels made unique


def lookup(backend: Backend, system: str, blocks: list[Block], question: str,
           similarity: Similarity | None = None, shared_prefix: bool = False) -> Lookup | None:
    """Ask the model for the block, row and column holding the value; read the value.

    ``shared_prefix``: show the answer prompt's own sources (all blocks) instead of the
    short table-only prompt; the lookup then costs a longer prompt, but when it fails the
    text answer that follows reuses the whole prefix from llama.cpp's KV cache."""
    from answer.backends import BackendError

    words = content_words(question)
    # A pick must be of a row the question names (``resolve``): a table with none is no
    # candidate, and with no candidate the model is not asked at all.
    cands = [c for c in candidates(blocks, question, similarity) if named(c.view.rows, words, strict=True)]
    cands = _of_the_named_object(cands, question)
    if not cands:
        return None
    if shared_prefix:
        messages = answer_messages(system, blocks, question)
        messages[-1]["content"] += "\n\n" + INSTRUCTION
    else:
        messages = lookup_messages(system, cands, question)
    prompt = backend.prompt(messages)
    try:
        pick = backend.complete_json(prompt, schema(cands), MAX_TOKENS)
    except BackendError:
        return None
    return resolve(pick, cands, question)


def candidates(blocks: list[Block], question: str, similarity: Similarity | None = None) -> list[_Candidate]:
    """The ``MAX_TABLES`` tables the question names best, best first (ties in the blocks' order).

    Named best: the most question words in one row label plus in the table's title and
    heading. Retrieval order alone let three restructuring notes, each with an "R&D" row,
    crowd out the "Consolidated Statement of Income" a question named."""
    words = content_words(question)
    found: list[tuple[_Candidate, int, set[str]]] = []
    for b in blocks:
        for eid, view in b.tables.items():
            sel = view.select(question, MAX_ROWS, MAX_COLS, similarity)
            if sel.rows and sel.columns and sel.cells:
                view_ = replace(sel, rows=_unique(sel.rows, "row"), columns=_unique(sel.columns, "column"))
                rows = max((len(content_words(r) & words) for r in sel.rows), default=0)
                # the document's own title and heading; not the statement label Folio adds
                title = "" if view.title.startswith("Statement:") else view.title
                found.append((_Candidate(b, eid, view_), rows, content_words(f"{title} {b.label}") & words))
    # words every title shares (the file name, its year) tell no table from another
    common = set.intersection(*(t for _, _, t in found)) if found else set()
    score = [rows + len(title - common) for _, rows, title in found]
    # best named first: a small model leans to the first table it reads
    return [found[i][0] for i in sorted(range(len(found)), key=lambda i: (-score[i], i))[:MAX_TABLES]]


_KIND = {"figure": r"fig(?:ure|\.)?", "fig": r"fig(?:ure|\.)?", "fig.": r"fig(?:ure|\.)?"}
_OBJECT_RE = re.compile(r"\b(table|figure|fig\.?|exhibit|chart)\s+([A-Z]?\d+(?:[.-]\d+)*)\b", re.IGNORECASE)


def _of_the_named_object(cands: list[_Candidate], question: str) -> list[_Candidate]:
    """A question about "Figure 1" or "Table 2" reads that object. Tables whose title or
    heading carries the label are the only candidates when there are any; a figure no
    table is titled after is answered from its caption and text, not from a table (the
    DPR paper's "how many training examples ... Figure 1" was read off Table 2). A named
    table whose caption the partitioner did not attach keeps every candidate."""
    named_objects = _OBJECT_RE.findall(question)
    if not named_objects:
        return cands

    def carries(c: _Candidate) -> bool:
        text = f"{c.view.title} {c.block.label}".lower()
        pats = [rf"\b{_KIND.get(k.lower(), re.escape(k.lower()))}\s*{re.escape(n.lower())}\b" for k, n in named_objects]
        return any(re.search(p, text) for p in pats)

    titled = [c for c in cands if carries(c)]
    if titled:
        return titled
    asks_table = any(kind.lower() in ("table", "exhibit") for kind, _ in named_objects)
    return cands if asks_table else []


def _unique(labels: list[str], kind: str) -> list[str]:
    """Labels the model can name: cut to a few words, empty ones named by position,
    repeated ones numbered, none equal to the "none" option."""
    cut = [_cut(lb) or f"{kind} {i + 1}" for i, lb in enumerate(labels)]
    cut = [f"{c} ({kind} {i + 1})" if c.lower() == NONE else c for i, c in enumerate(cut)]
    seen: dict[str, int] = {}
    total = {c: cut.count(c) for c in cut}
    out = []
    for c in cut:
        if total[c] > 1:
            seen[c] = seen.get(c, 0) + 1
            c = f"{c} #{seen[c]}"
        out.append(c)
    return out


def _cut(label: str) -> str:
    w = label.split()
    return label if len(w) <= MAX_LABEL_WORDS else " ".join(w[:MAX_LABEL_WORDS]) + " …"


def lookup_messages(system: str, cands: list[_Candidate], question: str) -> list[dict[str, str]]:
    """The answers' system message; the records fenced as data, as answer/prompts.py does."""
    parts = []
    for c in cands:
        lines = [c.view.head()] if c.view.head() else []
        lines += [c.view.record(r, compact=False) for r in range(len(c.view.rows))]  # the labels to copy
        parts.append(f"[{c.block.n}]\n<source>\n{_label(c.block.label)}\n{_data(chr(10).join(lines))}\n</source>")
    user = "Sources:\n\n" + "\n\n".join(parts) + f"\n\nQuestion: {_data(question)}\n\n{INSTRUCTION}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def schema(cands: list[_Candidate]) -> dict[str, Any]:
    """One branch per table. Keys sort as the model should decide (the grammar is built
    from the schema with sorted keys): block, then row, then column."""
    branches = [{
        "type": "object",
        "properties": {
            "block": {"type": "integer", "enum": [c.block.n]},
            "row_label": {"type": "string", "enum": [*c.view.rows, NONE]},
            "value_column": {"type": "string", "enum": c.view.columns},
        },
        "required": ["block", "row_label", "value_column"],
    } for c in cands]
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def resolve(pick: dict[str, Any], cands: list[_Candidate], question: str) -> Lookup | None:
    """The model's pick -> the grid's value, or None when it is not usable."""
    row, col = pick.get("row_label"), pick.get("value_column")
    cand = next((c for c in cands if c.block.n == pick.get("block")), None)
    if cand is None or row == NONE or row not in cand.view.rows or col not in cand.view.columns:
        return None
    view = cand.view
    words = content_words(question)
    # A row pick the question names nothing of is a guess and stays refused below; a
    # column is often left unnamed by the model's pick but named by the question's year.
    r = _most_named(view.rows, words, view.rows.index(row), from_nothing=False)
    k = _most_named(view.columns, words, view.columns.index(col), from_nothing=True)
    row, col = view.rows[r], view.columns[k]
    value = view.cells.get((r, k), "").strip()
    if not value or value.lower() in _NIL:
        return None
    # A cell is the answer only when the question names its row and, where there is a
    # choice, its column: a pick of a neighbouring row or another period is a guess (on
    # the own set, 9 of 13 lookups named one of the two and gave a neighbour's value).
    if r not in named(view.rows, words, strict=True):
        return None
    cols = named(view.columns, words, strict=True)
    if len(view.columns) > 1 and k not in cols and (cols or k != 0):
        return None  # another column than the one named; or, none named, not the first (latest) one
    el = cand.block.elements.get(cand.element_id)
    units = view.units if is_number(value) and "%" not in value else ""
    return Lookup(
        n=cand.block.n, element_id=cand.element_id, row=row, column=col, value=value,
        answer=answer_sentence(row, col, units, value, cand.block.n), units=units,
        page=el.page if el else None, bbox=el.bbox if el else None,
    )


def _most_named(labels: list[str], words: set[str], picked: int, from_nothing: bool) -> int:
    """The label the question names most, when one does so more than the model's pick.

    The grammar keeps the pick to real labels, but a small model still takes a label
    that shares one word with the question over the one that shares three: the
    "Fulfillment" of a table's "Year-over-year Percentage Growth" section for "fulfillment
    operating expenses", whose "Operating expenses › Fulfillment" row is two lines up.
    Section and stacked headings count (they are part of the label); a tie keeps the pick."""
    score = [len(content_words(re.sub(r" #\d+$", "", lb)) & words) for lb in labels]
    best = max(score, default=0)
    top = [i for i, v in enumerate(score) if v == best]
    if score[picked] == 0 and not from_nothing:
        return picked
    return top[0] if len(top) == 1 and score[picked] < best else picked


def answer_sentence(row: str, column: str, units: str, value: str, n: int) -> str:
    """"Inventories (in millions) at December 31, 2022 was 5,372 [2]." """
    row = re.sub(r" #\d+$", "", row).replace(NEST, ", ").replace(SEP, ", ")
    column = re.sub(r" #\d+$", "", column)
    subject = f"{row} ({units})" if units else row
    if re.fullmatch(r"column \d+", column):
        return f"{subject} was {value} [{n}]."
    if _PERIOD_RE.search(column):
        return f"{subject} for the {column[0].lower()}{column[1:]} was {value} [{n}]."
    if _DATE_RE.search(column):
        prep = "" if re.match(r"\s*(?:as of|at)\b", column, re.IGNORECASE) else "at "
        return f"{subject} {prep}{column} was {value} [{n}]."
    if _YEARISH_RE.fullmatch(column.strip()) or (_YEARISH_RE.search(column) and len(column.split()) <= 3):
        return f"{subject} in {column} was {value} [{n}]."
    return f"{column} for {subject} was {value} [{n}]."
