"""The rows a computation reads: each table block shown by the rows its operands name.

The answer's blocks are cut to the context budget by how well each row matches the whole
question, so a balance sheet asked for a quick ratio keeps "Cash and cash equivalents" and
loses "Total current liabilities" (seen on the 3M 10-K). A computation knows its operands
("current assets", "total current liabilities", or the phrases of the question's own
definition), so each table block is rebuilt here from its whole grid (``Block.tables``):
the head, the rows that best name each operand, then the rows the budget had kept. The
block count and numbering stay the same; the prompt stays about the same size.

And a statement prints every period side by side: when the question names one year and the
model's figure sits in a row under another year's column, the figure under the asked
year's column of the same row is taken (``in_period``). The model names the row; the grid
says which cell of it the period is.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from answer.numbers import find_numbers
from answer.operands import Located, block_scale_hint
from answer.records import SEP
from answer.text import overlap_scores

if TYPE_CHECKING:
    from answer.context import Block, Unit
    from answer.measures import Measure

log = logging.getLogger(__name__)
ROWS_PER_PHRASE = 2  # best rows for each operand phrase ("total revenue", "net sales")
MAX_ROWS = 8  # per table in the computation's prompt
MAX_COLS = 6
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
# Operand names that mean another period than the question's ("inventory_begin", "prior").
OTHER_PERIOD = re.compile(r"(?:^|_)(?:begin|beginning|start|opening|prior|previous|old|last_year|py)(?:_|$)")


def phrases(question: str, measure: Measure | None) -> list[str]:
    """What the rows must name: the operands' likeliest line items (two each), else the question."""
    if measure is None or measure.generic or not measure.operands:
        return [question]
    return [p for items in measure.operands.values() for p in items[:2]]


def focus(blocks: list[Block], question: str, measure: Measure | None) -> list[Block]:
    """``blocks`` with each table block's records re-chosen for the operands."""
    from answer.context import Unit

    wanted = phrases(question, measure)
    out = []
    for b in blocks:
        if not b.tables:
            out.append(b)
            continue
        kept_texts = {u.text for u in b.units if u.record}
        units: list[Unit] = [u for u in b.units if u.head]
        for eid, view in b.tables.items():
            shown = view.select(question, len(view.rows), MAX_COLS) if len(view.columns) > MAX_COLS else view
            _, shown = shown.shared_heading()  # as answer/context.py shows the records
            rows = [r for r in range(len(shown.rows)) if r not in shown.label_rows]
            labels = [shown.rows[r] for r in rows]
            picked: list[int] = []
            for phrase in wanted:
                scores = overlap_scores(labels, phrase)
                best = sorted(range(len(rows)), key=lambda i: (-scores[i], i))[:ROWS_PER_PHRASE]
                picked += [rows[i] for i in best if scores[i] > 0 and rows[i] not in picked]
            picked += [r for r in rows if shown.record(r) in kept_texts and r not in picked]
            for r in sorted(picked[:MAX_ROWS]):
                units.append(Unit(shown.record(r), eid, record=True))
        out.append(replace(b, units=units))
    return out


def asked_year(question: str, name: str) -> str | None:
    """The one year an operand is read for: a year in its name, else the question's only
    year (none for an operand of another period, or a question naming several)."""
    own = set(YEAR_RE.findall(name))
    if len(own) == 1:
        return own.pop()
    if own or OTHER_PERIOD.search(name.lower()):
        return None
    years = set(YEAR_RE.findall(question))
    return years.pop() if len(years) == 1 else None


def record_cells(text: str) -> list[tuple[str, str]]:
    """"Label · 2022: 3,655 · 2021: 4,564" -> [("2022", "3,655"), ("2021", "4,564")]."""
    out = []
    for part in text.split(SEP)[1:]:
        col, sep, value = part.rpartition(": ")
        if sep:
            out.append((col, value))
    return out


MONTH_RE = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d", re.I)
FISCAL_RE = re.compile(r"\bfiscal\b|\bFY\s?'?\d", re.I)


def in_period(record: str, value_raw: str, year: str | None, fiscal: bool = False) -> str | None:
    """The value under ``year``'s column in ``record`` (a table row as a record), when the
    model's figure (``value_raw``) sits under another column of it; None when nothing is
    to change."""
    if year is None:
        return None
    cells = record_cells(record)
    cols = [(c, v) for c, v in cells if set(YEAR_RE.findall(c)) == {year}]
    if len(cols) != 1:
        return None
    if fiscal and MONTH_RE.search(cols[0][0]):
        return None  # "fiscal 2022" may end on "January 28, 2023": a date column is not the year
    here = next((c for c, v in cells if value_raw in v), None)
    if here is None or here == cols[0][0]:
        return None
    return cols[0][1]



def align_period(loc: Located, name: str, question: str, block: Block) -> Located:
    """``loc`` moved to the same row's figure under the year the operand is read for."""
    if not loc.row_match:
        return loc  # a figure from a row that does not name the operand: nothing to align
    fixed = in_period(loc.row, loc.number.raw, asked_year(question, name), bool(FISCAL_RE.search(question)))
    if fixed is None:
        return loc
    found = find_numbers(fixed, block_scale_hint(block))
    if not found:
        return loc
    log.info("operand %s: %s is under another period's column; %s is under the asked one", name,
             loc.number.raw, found[0].raw)
    return replace(loc, number=found[0], column_ok=True)
