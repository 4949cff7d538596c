"""Checking a model's operand against the block it cites.

The model says "current assets = 4,120.5, from [2]"; this module finds that figure printed
in block 2 (as a number, after normalising: "4120.5", "$4,120.5" and "4,120.50" are the
same figure) and returns what the block prints, with its sign, percent sign and scale.
The block's own printing is the truth from then on, never the model's copy. In a table
the row whose label shares words with the operand's name is preferred, and a year in the
name is checked against the column header where the row lines up with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from answer.numbers import Number, find_numbers, parse_number
from answer.text import content_words

if TYPE_CHECKING:
    from answer.context import Block, Unit

QUESTION = 0  # the block number for a figure printed in the question itself (years, a rate)
_YEAR_RE = re.compile(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)")
# "(in millions, except per share data)": per-share amounts are in units; "except share
# and per share data": share counts too.
_EXCEPT_PER_RE = re.compile(r"\bexcept\b[^)\n]*\bper[ -]share", re.I)
_EXCEPT_SHARES_RE = re.compile(r"\bexcept\b[^)\n]*?(?<!per )(?<!per-)\bshares?\b", re.I)
_PER_SHARE_RE = re.compile(r"\bper[ _-]?share\b|\beps\b|\bearnings per\b|\bdividends? per\b", re.I)
_SHARES_RE = re.compile(r"\bshares?\b", re.I)


# Words that make a row a different line than the phrase it otherwise names.
_QUALIFIERS_RE = re.compile(r"\b(?:other|non-?current|noncurrent|excluding|except)\b", re.I)


@dataclass
class Located:
    number: Number  # as the block prints it, with the block's scale applied
    element_id: str | None
    row: str  # the unit (table row, sentence) that holds it
    row_match: bool  # the row shares a word with the operand's name (always True for text)
    column_ok: bool  # no year in the name, or the value sits under that year's column


def same_figure(a: Number, b: Number) -> bool:
    """Whether two printings are one figure: equal as printed (sign aside: a model often
    drops the parentheses), or equal as amounts when the model wrote the scale out."""
    def eq(x: float, y: float) -> bool:
        return x == y or (y != 0 and abs(x - y) / abs(y) < 1e-9)

    return eq(abs(a.value), abs(b.value)) or (a.scale != b.scale and eq(abs(a.amount), abs(b.amount)))


def block_scale_hint(block: Block) -> str:
    """The text that states a block's scale: its label and its head units (a table's
    title and header), then the rest ("in millions" is printed once, above the rows)."""
    head = [u.text for u in block.units if u.head]
    return "\n".join([block.label, *head, block.text])


def _words(name: str) -> set[str]:
    return {w for w in content_words(name.replace("_", " ")) if not w[0].isdigit()}


def _label(unit_text: str, kind: str) -> str:
    """The words that say what a row is: a table row's first cell, a sentence whole."""
    if kind == "table" and " | " in unit_text:
        return unit_text.split(" | ", 1)[0]
    return unit_text


def _column_ok(block: Block, unit: Unit, value: Number, name: str) -> bool:
    """A year in the operand's name must head the value's column, when the row and the
    header row have the same number of cells (spanned headers collapse, then it is not
    checked)."""
    years = set(_YEAR_RE.findall(name))
    if not years or block.hit.kind != "table":
        return True
    cells = [c.strip() for c in unit.text.split(" | ")]
    heads = [u for u in block.units if u.head and u is not unit and _YEAR_RE.search(u.text)]
    for head in heads:
        hcells = [c.strip() for c in head.text.split(" | ")]
        if len(hcells) != len(cells):
            continue
        for i, c in enumerate(cells):
            n = parse_number(c)
            if n is not None and same_figure(value, n):
                return bool(years & set(_YEAR_RE.findall(hcells[i])))
    return True


def _qualifiers(text: str) -> set[str]:
    return {m.lower().replace("-", "") for m in _QUALIFIERS_RE.findall(text)}


def names_row(label: str, phrases: tuple[str, ...]) -> bool:
    """Whether a row label names one of an operand's phrases (its name, its line items):
    two thirds of the phrase's words at least ("Total current assets" names
    "current assets"; "Other assets" does not, though it shares a word)."""
    words = content_words(label)
    for p in phrases:
        want = {w for w in content_words(p.replace("_", " ")) if not w[0].isdigit()} - {"total"}
        # "Other current assets" names a different line than "current assets".
        extra = _qualifiers(label) - _qualifiers(p)
        if want and len(want & words) * 3 >= len(want) * 2 and not extra:
            return True
    return False


def locate(name: str, value_text: str, block: Block, phrases: tuple[str, ...] = ()) -> Located | None:
    """Where ``value_text`` (as the model copied it) is printed in ``block``, or None.

    Among several places, the one in a row that names the operand (``names_row`` over the
    name and ``phrases``) wins, then the one whose column matches a year in the name, then
    the first."""
    wanted = parse_number(value_text) or next(iter(find_numbers(value_text)), None)
    if wanted is None:
        return None
    # A table states its scale once for all rows; a sentence prints it with the figure.
    hint = block_scale_hint(block) if block.hit.kind == "table" else ""
    except_per, except_shares = bool(_EXCEPT_PER_RE.search(hint)), bool(_EXCEPT_SHARES_RE.search(hint))
    name_words = _words(name)
    best: tuple[tuple[int, int, int], Located] | None = None
    for pos, unit in enumerate(block.units):
        found = [n for n in find_numbers(unit.text, hint) if same_figure(wanted, n)]
        if not found:
            continue
        label = _label(unit.text, block.hit.kind)
        what = f"{label} {name.replace('_', ' ')}"
        per_share = bool(_PER_SHARE_RE.search(what))
        if (per_share and except_per) or (not per_share and except_shares and _SHARES_RE.search(what)):
            found = [Number(n.value, n.percent, 1.0, n.raw) if not re.search(r"[a-z]", n.raw, re.I) else n
                     for n in found]
        n = found[0]
        row_match = block.hit.kind != "table" or not name_words or names_row(label, (name, *phrases))
        col = _column_ok(block, unit, n, name)
        key = (int(row_match), int(col), -pos)
        if best is None or key > best[0]:
            eid = unit.element_id or (block.element_ids[0] if block.element_ids else None)
            best = (key, Located(n, eid, unit.text, row_match, col))
    return best[1] if best else None


def locate_in_question(value_text: str, question: str) -> Located | None:
    """A figure the question itself states (a year, a rate it gives)."""
    wanted = parse_number(value_text) or next(iter(find_numbers(value_text)), None)
    if wanted is None:
        return None
    for n in find_numbers(question):
        if same_figure(wanted, n):
            return Located(n, None, question, True, True)
    return None


_STATES_SCALE = re.compile(r"\b(?:thousands?|millions?|billions?)\b|\$\s?(?:000|mm|bn)\b", re.I)


def adopt_stated_scale(operands: list[Any], blocks: dict[int, Block]) -> None:
    """An amount from a block that states no scale anywhere (a balance-sheet part whose
    "in millions" heads another chunk) takes the one scale the other amounts are stated in:
    a filing prints its statements in one scale, and reading the bare figure as units would
    turn a ratio of millions into a million-fold error. ``operands`` have ``number``,
    ``block`` (0: the question) and are changed in place."""
    stated = {o.number.scale for o in operands
              if o.block in blocks and not o.number.percent and o.number.scale != 1.0}
    if len(stated) != 1:
        return
    scale = stated.pop()
    for o in operands:
        b = blocks.get(o.block)
        if b is None or o.number.percent or o.number.scale != 1.0 or _STATES_SCALE.search(
                "\n".join([b.label, b.text, o.number.raw])):
            continue
        if 1900 <= abs(o.number.value) <= 2100 and o.number.value.is_integer() and "," not in o.number.raw:
            continue  # a year
        o.number = replace(o.number, scale=scale)
        o.value = o.number.value
