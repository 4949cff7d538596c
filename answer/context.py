"""Retrieved chunks -> numbered context blocks within a token budget.

On a CPU the prompt is the time to the first token (about 90 prompt tokens/s with the
1.5B default), so the budget is spent where the answer is likely to be:

- a block that fits its share is kept whole;
- a longer one keeps its head (a table's title, summary and header row; a picture's
  description) and then the sentences or rows that share the most words and figures
  with the question, in their original order;
- shares are water-filled: blocks smaller than an equal share give the rest to the
  larger ones.

Each unit (sentence, row) remembers the element it came from, so a citation can name
the exact element and its box, not the whole chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from answer.records import TableView, table_view, view_from_lines
from answer.text import overlap_scores, sentences
from folio.filetype import page_unit
from index.table_context import table_rows

if TYPE_CHECKING:
    from folio.element import Element
    from index.search import Hit

CountTokens = Callable[[str], int]
MIN_BLOCK_TOKENS = 24  # a block cut below this says nothing useful: left out
# Fewer, fuller blocks beat many slivers: with a small budget the lowest-ranked blocks go
# until each remaining one can have at least this many tokens.
MIN_SHARE = 64
TITLE_WORDS = 20  # a table's title line in the prompt at most
LABEL_WORDS = 8  # the section heading in a block's label at most
# A table block with no room for this many of its best rows is worth more than the
# lowest-ranked blocks: they go until it has it (a title and a header answer nothing; on
# the three question sets 87 of 277 table blocks reached the model with no row).
MIN_TABLE_ROWS = 2
# Shares by rank: the best-ranked block may take more of the budget than the fifth.
RANK_WEIGHTS = (1.6, 1.3, 1.0)
_HEAD_PREFIXES = ("table", "chart", "summary", "figure", "picture", "description", "alt text")
# The statement context line of a table chunk (index/table_context.py context_line).
_CONTEXT_RE = re.compile(r"^(?:statement:|in (?:thousands|millions|billions)\b|periods:)", re.IGNORECASE)
MAX_COLS = 6  # a wider table shows the columns the question names (when it names any)
# A row of the retrieved part of a table outranks a row sharing no word with the question,
# not one that shares a rare word (log 2 = 0.69).
CHUNK_BONUS = 0.5


@dataclass
class Unit:
    text: str
    element_id: str | None
    head: bool = False  # always kept (title, summary, header row)
    tokens: int = 0
    score: float = 0.0
    bonus: float = 0.0  # added to the question-overlap score when the budget is tight
    record: bool = False  # a table row as a record (answer/records.py)


@dataclass
class Block:
    n: int
    hit: Hit
    label: str
    units: list[Unit]
    elements: dict[str, Element] = field(default_factory=dict)
    trimmed: bool = False
    # Table element id -> its whole grid as records (the checks and the cell lookup read it).
    tables: dict[str, TableView] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(u.text for u in self.units)

    @property
    def tokens(self) -> int:
        return sum(u.tokens for u in self.units)

    @property
    def element_ids(self) -> list[str]:
        ids = [u.element_id for u in self.units if u.element_id]
        return list(dict.fromkeys(ids)) or list(self.hit.element_ids)


def where(source: str, page: int | None, page_label: str | None) -> str:
    """"slide 4" / "page 12 (printed 10)", the way people ask and read."""
    if page is None:
        return ""
    unit = page_unit(source)
    out = f"{unit} {page}"
    if page_label and page_label != str(page):
        out += f" (printed {page_label})"
    return out


def block_label(hit: Hit, elements: dict[str, Element]) -> str:
    els = [elements[i] for i in hit.element_ids if i in elements]
    first = els[0] if els else None
    page = first.page if first else (hit.pages[0] if hit.pages else None)
    parts = [hit.source]
    loc = where(hit.source, page, first.page_label if first else None)
    if loc:
        parts.append(loc)
    if hit.section:
        # The nearest heading only, cut: every block's label is paid for out of the same
        # budget as its rows, and "Item 2. Management's Discussion and Analysis of ... >"
        # cost five blocks 20 tokens each while saying little the last heading does not.
        parts.append(_cut(hit.section[-1], LABEL_WORDS))
    return ", ".join(parts)


def _units(hit: Hit, elements: dict[str, Element], query: str,
           tables: dict[str, TableView]) -> list[Unit]:
    """The chunk's body as units mapped to elements. The chunk's first line is its context
    (document | section | page, index/chunk.py), which the block label says better."""
    _, _, body = hit.text.partition("\n")
    lines = [ln.strip() for ln in (body or hit.text).splitlines() if ln.strip()]
    els = [elements[i] for i in hit.element_ids if i in elements]
    if hit.kind == "table":
        table = next((e for e in els if e.kind == "table"), None)
        return _table_units(lines, table, hit.element_ids[0] if hit.element_ids else None, query, tables)
    if hit.kind != "text" or len(els) <= 1:
        eid = els[0].id if els else (hit.element_ids[0] if hit.element_ids else None)
        out = []
        for i, ln in enumerate(lines):
            lower = ln.lower()
            out.append(Unit(ln, eid, head=i == 0 or lower.startswith(_HEAD_PREFIXES[2:])))
        if hit.kind == "image" and els:
            out += _ocr_units(els[0], hit.text)
        return out
    norm = {e.id: " ".join(e.text.split()) for e in els}
    out = []
    for ln in lines:
        eid = next((i for i, t in norm.items() if ln[:60] in t), None)
        for s in sentences(ln) if len(ln) > 200 else [ln]:
            out.append(Unit(s, eid))
    return out


def _table_units(lines: list[str], el: Element | None, eid: str | None, query: str,
                 tables: dict[str, TableView]) -> list[Unit]:
    """A table chunk as a head (title, units, statement context; always kept) and one
    record per row, so the budget keeps whole rows that each read on their own. The
    records come from the whole element's grid (the chunk may hold a part of a table
    split by rows); the chunk's own rows get a bonus for when the budget is tight."""
    header = table_rows(el)[0] if el is not None and el.html else []
    if el is not None and el.html:
        view = table_view(el)
        rows = set(view.lines)
        # Every grid line (header, value rows, section label rows) is read from the
        # records below, which repeat the headers: the chunk's own copies only cost tokens.
        body = {ln for ln in lines if ln in rows or " | " in ln or ln.startswith("|")}
    else:
        # No grid: the chunk's own lines, title lines first, then the header row.
        at = next((i for i, ln in enumerate(lines)
                   if not ln.lower().startswith(_HEAD_PREFIXES) and not _CONTEXT_RE.match(ln)), len(lines))
        view = view_from_lines(lines[at:])
        header, body = lines[at : at + 1], set(lines[at + 1 :])
    head = [ln for ln in lines if ln not in body and ln not in header]
    title = [ln for ln in head if not ln.lower().startswith("summary")]
    view.title = view.title or (title[0] if title else "")
    out = [Unit(_cut(ln) if _CONTEXT_RE.match(ln) is None else ln, eid, head=True) for ln in title]
    if view.units and not any(view.units in ln.lower() for ln in title):
        out.append(Unit(view.units.capitalize(), eid, head=True))
    # The summary competes with the rows for the budget.
    out += [Unit(ln, eid) for ln in head if ln.lower().startswith("summary")]
    if eid is not None:
        tables[eid] = view
    shown = view
    if len(view.columns) > MAX_COLS and any(overlap_scores(view.columns, query)):
        shown = view.select(query, len(view.rows), MAX_COLS)
    shared, shown = shown.shared_heading()
    if shared:
        out.append(Unit(f"Columns: {shared}", eid, head=True))
    for r in range(len(shown.rows)):
        if r in shown.label_rows:
            continue  # their text heads the labels of the rows below them
        in_chunk = bool(shown.lines) and shown.lines[r] in body
        out.append(Unit(shown.record(r), eid, bonus=CHUNK_BONUS if in_chunk else 0.0, record=True))
    return out


def _cut(text: str, words: int = TITLE_WORDS) -> str:
    w = text.split()
    return text if len(w) <= words else " ".join(w[:words]) + " …"


def _ocr_units(el: Element, chunk_text: str) -> list[Unit]:
    """The picture's OCR text when the chunk left it out (a picture with alt text is
    indexed by its alt text; the words in the picture still belong in the prompt)."""
    ocr = " ".join(str(el.meta.get("ocr_text") or "").split())
    if not ocr or ocr[:40] in " ".join(chunk_text.split()):
        return []
    return [Unit(f"Text in image: {s}", el.id) for s in sentences(ocr)]


def _score(units: list[Unit], query: str) -> None:
    """Words and figures shared with the question, weighted by rarity among the block's
    units (answer/text.py ``overlap_scores``), plus a unit's own bonus (a table row that
    was in the retrieved part of its table)."""
    for u, s in zip(units, overlap_scores([u.text for u in units], query)):
        u.score = s + u.bonus


def _fit(block: Block, allowance: int, query: str) -> None:
    if block.tokens <= allowance:
        return
    block.trimmed = True
    head = [u for u in block.units if u.head]
    rest = [u for u in block.units if not u.head]
    budget = allowance - sum(u.tokens for u in head)
    while budget < 0 and head:  # a head alone over the allowance keeps its first lines
        budget += head.pop().tokens
    _score(rest, query)
    keep: set[int] = set()
    # Best first; ties keep document order (an earlier row is the likelier total/label).
    for i in sorted(range(len(rest)), key=lambda i: (-rest[i].score, i)):
        if rest[i].tokens <= budget:
            keep.add(i)
            budget -= rest[i].tokens
    kept_ids = {id(u) for u in head} | {id(rest[i]) for i in keep}
    block.units = [u for u in block.units if id(u) in kept_ids]


def shares(sizes: list[int], budget: int, weights: list[float] | None = None) -> list[int]:
    """Weighted water-filling: each block gets min(its size, its weight's part of what is
    left); what a small block does not need goes to the others."""
    w = weights or [1.0] * len(sizes)
    out = [0] * len(sizes)
    left = float(budget)
    todo = sorted(range(len(sizes)), key=lambda i: sizes[i] / w[i])
    for pos, i in enumerate(todo):
        rest = sum(w[j] for j in todo[pos:])
        out[i] = min(sizes[i], int(left * w[i] / rest))
        left -= out[i]
    return out


def _merge(blocks: list[Block]) -> list[Block]:
    """Parts of one split table (a summary card, row parts) become one block: apart,
    each repeats the title and header and none has room left for rows."""
    out: list[Block] = []
    for b in blocks:
        into = next((o for o in out if b.hit.kind != "text" and o.hit.kind == b.hit.kind
                     and set(b.hit.element_ids) <= set(o.hit.element_ids)), None)
        if into is None:
            out.append(b)
            continue
        seen = {u.text for u in into.units}
        into.units += [u for u in b.units if u.text not in seen]
        into.tables.update(b.tables)
    return out


def _table_need(block: Block, query: str) -> int:
    """Tokens a table block needs to show its head and its MIN_TABLE_ROWS best rows."""
    if block.hit.kind != "table":
        return 0
    rows = [u for u in block.units if u.record]
    if not rows:
        return 0
    _score(rows, query)
    best = sorted(rows, key=lambda u: -u.score)[:MIN_TABLE_ROWS]
    return sum(u.tokens for u in block.units if u.head) + sum(u.tokens for u in best)


def _allowances(blocks: list[Block], label_cost: list[int], budget: int, query: str) -> list[int]:
    """Each block's share of the budget. While a table block (that could fit at all) gets
    too little to show its best rows, the lowest-ranked block that is not a table goes
    (``blocks`` and ``label_cost`` are cut in place)."""
    needs = [_table_need(b, query) for b in blocks]
    while True:
        room = max(0, budget - sum(label_cost))
        weights = [RANK_WEIGHTS[i] if i < len(RANK_WEIGHTS) else 1.0 for i in range(len(blocks))]
        allowances = shares([b.tokens for b in blocks], room, weights)
        short = [i for i, (need, a) in enumerate(zip(needs, allowances)) if a < need <= room // 2]
        if not short or len(blocks) <= 2:
            return allowances
        # The lowest-ranked block that is not a table (another table may be a statement
        # the question's measure needs), never the best-ranked one.
        drop = next((i for i in range(len(blocks) - 1, 0, -1) if not needs[i]), None)
        if drop is None:
            return allowances
        for seq in (blocks, label_cost, needs):
            del seq[drop]


_WS = re.compile(r"[ \t]+")


def build_blocks(
    hits: list[Hit], elements: dict[str, Element], query: str, budget: int, count_tokens: CountTokens
) -> list[Block]:
    """Numbered blocks (1-based, in retrieval order) whose texts fit ``budget`` tokens
    together with their labels."""
    blocks: list[Block] = []
    for hit in hits:
        tables: dict[str, TableView] = {}
        units = _units(hit, elements, query, tables)
        for u in units:
            u.text = _WS.sub(" ", u.text)
            u.tokens = count_tokens(u.text) + 1  # + the newline
        if not units:
            continue
        label = block_label(hit, elements)
        els = {i: elements[i] for i in hit.element_ids if i in elements}
        blocks.append(Block(0, hit, label, units, els, tables=tables))
    blocks = _merge(blocks)
    if not blocks:
        return []
    label_cost = [count_tokens(f"[{i + 1}] {b.label}") + 8 for i, b in enumerate(blocks)]  # + fences
    while len(blocks) > 1 and (budget - sum(label_cost)) < MIN_SHARE * len(blocks):
        blocks.pop()
        label_cost.pop()
    allowances = _allowances(blocks, label_cost, budget, query)
    for b, allowance in zip(blocks, allowances):
        _fit(b, allowance, query)
    # A whole small block is kept; one cut to a sliver by the budget is left out.
    kept = [b for b in blocks if b.units and (not b.trimmed or b.tokens >= MIN_BLOCK_TOKENS)]
    for n, b in enumerate(kept, 1):
        b.n = n
    return kept
