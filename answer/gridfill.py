"""Operands of a catalogue measure read from the table grids, without the model.

A measure from the catalogue (answer/measures.toml) names its operands and the line items
that hold them ("current_liabilities": "total current liabilities"); a statement's grid
has those lines as row labels and its periods as column headings. When every operand is
one row of a table block under the asked year's column, the computation needs no model
call: the cells are handed to the same checks a model's copy goes through
(``compute.from_output``: found in its block, scale, period, evaluated by the safe
evaluator). A small model copying six figures out of two statements drops a digit or
takes the neighbouring year; the grid does not, and it is seconds faster.

A measure asked for two years ("improved or declined between FY2023 and FY2022") is
computed once per year, each from its own column, and the two are compared in words.

Nothing is guessed: an operand no row names, a year with no single column, two rows of
equal standing with different figures: no fill, and the model is asked as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from answer.focus import FISCAL_RE, OTHER_PERIOD, YEAR_RE
from answer.numbers import parse_number
from answer.operands import names_row
from answer.records import NEST, NIL, is_number
from answer.text import content_words
from folio.errors import FolioError

if TYPE_CHECKING:
    from answer.context import Block
    from answer.measures import Measure
    from answer.records import TableView

# compute.from_output, passed in: compute.py calls this module, so it is not imported here;
# what it builds (a compute.Computed) is read here by its fields.
Computed = Any
Build = Callable[..., Computed]

log = logging.getLogger(__name__)

_EARLY_RE = re.compile(r"\b(?:jan|feb|mar)[a-z]*\.?\s+\d", re.IGNORECASE)
_COMPARE_RE = re.compile(
    r"\b(?:improv\w*|declin\w*|deteriorat\w*|chang\w*|compar\w*|vs\.?|versus|between|from\s+\S+\s+to|"
    r"increas\w*|decreas\w*|higher|lower|better|worse)\b", re.IGNORECASE)


def fill(blocks: list[Block], question: str, measure: Measure | None, year: str | None = None) -> dict[str, Any] | None:
    """``{"operands": {name: {"value": cell, "block": n}}}`` as the model's structured
    output would be, or None when any operand is not found in exactly one way."""
    if measure is None or not measure.formula or measure.generic or not measure.operands:
        return None
    fiscal = bool(FISCAL_RE.search(question))
    out: dict[str, Any] = {}
    loose: dict[str, bool] = {}
    for name, phrases in measure.operands.items():
        target = _year_for(name, question, year, blocks)
        if target is None:
            return None
        found = _cell(blocks, name, tuple(phrases), target, question, fiscal)
        if found is None:
            return None
        out[name] = {"value": found[1], "block": found[0]}
        loose[name] = not found[2]
    # A row that leaves out a word of its line item ("Net sales" for "segment net sales")
    # is taken only from a table that holds another operand: from elsewhere it is likely
    # the consolidated line, not the segment's (3M's Health Care margin over 3M's sales).
    for name, is_loose in loose.items():
        others = {v["block"] for k, v in out.items() if k != name}
        if is_loose and out[name]["block"] not in others:
            return None
    return {"operands": out}


def compared_years(question: str) -> list[str]:
    """The two years a question compares a measure between, oldest first; else []."""
    years = sorted(set(YEAR_RE.findall(question)))
    return years if len(years) == 2 and _COMPARE_RE.search(question) else []


def _year_for(name: str, question: str, year: str | None, blocks: list[Block]) -> str | None:
    """The year an operand is read for: the year given, else the question's one year, else
    (the question names none) the latest year the tables print; the year before it for
    an opening balance ("inventory_begin")."""
    prior = bool(OTHER_PERIOD.search(name.lower()))
    y = year
    if y is None:
        asked = set(YEAR_RE.findall(question))
        if len(asked) > 1:
            return None
        if asked:
            y = asked.pop()
        else:
            y = max((v for b in blocks for view in b.tables.values() for c in view.columns
                     for v in YEAR_RE.findall(c)), default=None)
    if y is None:
        return None
    return str(int(y) - 1) if prior else y


def _column(view: TableView, year: str, question: str, fiscal: bool) -> int | None:
    cols = [k for k, c in enumerate(view.columns) if set(YEAR_RE.findall(c)) == {year}]
    if fiscal:
        # A retailer's "fiscal 2022" may end on "January 28, 2023" (and another's "fiscal
        # 2024" on "February 3, 2024"): a column dated early in a year is not read as a
        # fiscal year; "June 30, 2023" is fiscal 2023 either way.
        cols = [k for k in cols if not _EARLY_RE.search(view.columns[k])]
    if len(cols) > 1:
        words = content_words(question)
        score = {k: len(content_words(view.columns[k]) & words) for k in cols}
        best = max(score.values())
        cols = [k for k in cols if score[k] == best]
    return cols[0] if len(cols) == 1 else None


def _cell(blocks: list[Block], name: str, phrases: tuple[str, ...], year: str, question: str,
          fiscal: bool) -> tuple[int, str, bool] | None:
    """(block number, cell text, whether the row holds every word of the line item) of the
    row that best names the operand, under ``year``."""
    found: list[tuple[tuple[int, int, int, int], int, str]] = []
    for rank, b in enumerate(blocks):
        for view in b.tables.values():
            k = _column(view, year, question, fiscal)
            if k is None:
                continue
            for r, label in enumerate(view.rows):
                value = view.cells.get((r, k), "").strip()
                if r in view.label_rows or not value or value.lower() in NIL or not is_number(value):
                    continue
                line = label.split(NEST)[-1]
                # the likeliest line item first (the catalogue's order), then the row that
                # leaves out fewest of its words ("operating" tells the operating line
                # from the investing one), an exact label, then the best-ranked block
                which = next((i for i, p in enumerate(phrases) if names_row(line, (p,))), None)
                if which is None:
                    continue
                want, have = content_words(phrases[which]) - {"total"}, content_words(line) - {"total"}
                found.append(((which, len(want - have), 0 if want == have else 1, rank), b.n, value))
    if not found:
        return None
    found.sort(key=lambda f: f[0])
    best = found[0]
    # the same figure printed twice ("(1,749)" in the statement, "$(1,749)" in a note) is one
    rivals = {_amount(v) for key, _, v in found if key[:3] == best[0][:3]}
    return (best[1], best[2], best[0][1] == 0) if len(rivals) == 1 else None


def _amount(cell: str) -> float | str:
    n = parse_number(cell)
    return n.value if n is not None else cell


def from_grid(blocks: list[Block], question: str, measure: Measure | None, build: Build) -> Computed | None:
    """The measure computed from the grid (``build`` is ``compute.from_output``), for the
    question's year or, when it compares two, for each; None when the model must read."""
    years = compared_years(question)
    if years and measure is not None and measure.formula and not measure.generic:
        done = [_built(blocks, question, measure, build, y) for y in years]
        if any(c is None for c in done):
            return None
        return _compared(measure, years, [c for c in done if c is not None])
    if years:
        return None
    return _built(blocks, question, measure, build, None)


def _built(blocks: list[Block], question: str, measure: Measure | None, build: Build,
           year: str | None) -> Computed | None:
    data = fill(blocks, question, measure, year)
    if data is None:
        return None
    try:
        c = build(data, blocks, question, measure)
    except FolioError as e:  # compute.ComputeError: an operand the checks refuse
        log.info("grid operands not used: %s", e)
        return None
    return c if c.ok else None


def _compared(measure: Measure, years: list[str], done: list[Computed]) -> Computed:
    """"2022: Quick ratio = ... = 0.67. 2023: Quick ratio = ... = 0.69. The quick ratio
    rose from 0.67 in 2022 to 0.69 in 2023." (oldest first, as the years run)."""
    from answer.numbers import format_number

    old, new = done
    shown = [format_number(c.result, c.decimals, c.unit == "percent") for c in done]
    if shown[0] == shown[1]:
        verb = f"was {shown[1]} in both {years[0]} and {years[1]}"
    else:
        moved = "rose" if new.result > old.result else "fell"
        verb = f"{moved} from {shown[0]} in {years[0]} to {shown[1]} in {years[1]}"
    text = " ".join(f"{y}: {c.text}" for y, c in zip(years, done)) + f" The {measure.name} {verb}."
    operands = [replace(o, name=f"{o.name}_{y}") for y, c in zip(years, done) for o in c.operands]
    return replace(new, text=text, operands=operands, expression="; ".join(f"{c.expression} ({y})" for y, c in
                                                                               zip(years, done)),
                   warnings=old.warnings + new.warnings)
