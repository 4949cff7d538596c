"""Which measure a question asks for, and whether it needs arithmetic at all.

The catalogue (answer/measures.toml, textbook definitions; a pipeline may add its own with
``answer.measures_file``) names each measure, its aliases, a formula over named operands
and the line items that usually hold them. When a question names a catalogued measure,
the model is only asked to fill the operands; the formula is fixed here, not improvised
by a small model. A question that states its own definition ("defined as ...") wins.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from answer.arith import ArithError, is_name, validate
from answer.definitions import question_definition as read_definition
from folio.errors import FolioError

CATALOGUE_FILE = Path(__file__).with_name("measures.toml")
UNITS = ("ratio", "percent", "days", "currency", "times", "number")
_KEYS = {"name", "aliases", "formula", "unit", "note", "operands", "generic", "reported", "sizes"}

if TYPE_CHECKING:
    from folio.config import AnswerSettings


class MeasureError(FolioError):
    """A catalogue file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Measure:
    name: str
    formula: str | None  # None: the model writes the expression (a question's own wording)
    operands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unit: str = "number"
    aliases: tuple[str, ...] = ()
    note: str = ""
    generic: bool = False  # a pattern (a - b, part / total): the model writes the expression
    reported: bool = False  # filings usually print it: a lookup unless a calculation is asked
    source: str = "catalogue"  # catalogue | question
    definition: str = ""  # the question's own words, when it defines the measure
    # Operands taken by their size: statements print outflows and expenses in parentheses.
    sizes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Catalogue:
    measures: tuple[Measure, ...]
    # (normalised phrase, measure) longest first: "net profit margin" before "profit margin".
    phrases: tuple[tuple[str, Measure], ...]

    def get(self, name: str) -> Measure | None:
        return next((m for m in self.measures if m.name == name), None)


def _norm(text: str) -> str:
    t = text.lower().replace("\u2019", "'").replace("-", " ")
    return " ".join(t.split())


def _measure(entry: dict[str, object], where: str) -> Measure:
    unknown = set(entry) - _KEYS
    if unknown:
        raise MeasureError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    name = entry.get("name")
    formula = entry.get("formula")
    if not isinstance(name, str) or not name.strip():
        raise MeasureError(f"{where}: 'name' must be a non-empty string")
    if not isinstance(formula, str):
        raise MeasureError(f"{where} ({name}): 'formula' must be a string")
    unit = entry.get("unit", "number")
    if unit not in UNITS:
        raise MeasureError(f"{where} ({name}): unit {unit!r} is not one of {', '.join(UNITS)}")
    raw_ops = entry.get("operands") or {}
    if not isinstance(raw_ops, dict):
        raise MeasureError(f"{where} ({name}): 'operands' must be a table of operand = [line items]")
    ops: dict[str, tuple[str, ...]] = {}
    for k, v in raw_ops.items():
        if not is_name(k):
            raise MeasureError(f"{where} ({name}): operand {k!r} is not a plain name (letters, digits, _)")
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise MeasureError(f"{where} ({name}): operand {k!r} must list line-item names")
        ops[k] = tuple(items)
    try:
        used = validate(formula)
    except ArithError as e:
        raise MeasureError(f"{where} ({name}): formula {formula!r}: {e}") from None
    if used != set(ops):
        raise MeasureError(f"{where} ({name}): formula uses {sorted(used)} but the operands are {sorted(ops)}")
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise MeasureError(f"{where} ({name}): 'aliases' must be a list of strings")
    sizes = entry.get("sizes") or []
    if not isinstance(sizes, list) or not set(sizes) <= set(ops):
        raise MeasureError(f"{where} ({name}): 'sizes' must list some of the operands {sorted(ops)}")
    return Measure(name.strip(), formula, ops, str(unit), tuple(aliases), str(entry.get("note") or ""),
                   bool(entry.get("generic")), bool(entry.get("reported")), sizes=frozenset(sizes))


def _read(path: Path) -> list[Measure]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise MeasureError(f"{path}: cannot read the measures catalogue: {e}") from None
    entries = data.get("measure", [])
    if set(data) - {"measure"} or not isinstance(entries, list):
        raise MeasureError(f"{path}: expected only [[measure]] entries")
    return [_measure(e, f"{path} measure #{i + 1}") for i, e in enumerate(entries)]


@lru_cache(maxsize=8)
def _load(path: Path | None, mtime: float) -> Catalogue:
    measures = {m.name: m for m in _read(CATALOGUE_FILE)}
    if path is not None:
        # The pipeline's own entries add to the built-in ones; the same name replaces.
        measures.update({m.name: m for m in _read(path)})
    # A generic measure's bare name ("average", "ratio") is in too many lookups ("weighted
    # average shares", "P/E ratio"); its aliases and the cues below are specific enough.
    phrases = [(_norm(p), m) for m in measures.values() for p in ((*m.aliases,) if m.generic else (m.name, *m.aliases))]
    phrases.sort(key=lambda pm: (-len(pm[0]), pm[1].generic))
    return Catalogue(tuple(measures.values()), tuple(phrases))


def catalogue_for(settings: AnswerSettings) -> Catalogue:
    """The catalogue a pipeline's answers use (read again only when its file changes)."""
    return load_catalogue(settings.measures_file)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The built-in catalogue, plus ``path``'s measures (answer.measures_file) when given."""
    mtime = path.stat().st_mtime if path is not None and path.exists() else 0.0
    return _load(path, mtime)


# ---- the question's own definition ---------------------------------------------------------

def question_definition(question: str) -> Measure | None:
    """The measure the question defines itself (answer/definitions.py), with its formula
    when the definition reads as one, else ``formula=None`` (the model writes the
    expression from the quoted definition)."""
    d = read_definition(question)
    if d is None:
        return None
    ops: dict[str, tuple[str, ...]] = {k: (v,) for k, v in d.operands.items()}
    # "operating cash flow minus capital expenditures": the words subtract an amount; the
    # statement prints the outflow in parentheses. What follows a minus is taken by size.
    subtracted = frozenset(re.findall(r"-\s*([A-Za-z_]\w*)", d.formula or ""))
    return Measure(d.name, d.formula, ops, "percent" if d.percent else "number", source="question",
                   definition=d.text, sizes=subtracted)


# ---- finding the measure --------------------------------------------------------------------

# Cues for generic arithmetic that aliases cannot say as one phrase.
_CUES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(rx, re.I), name) for rx, name in (
    # A gap in percentage points is a difference of two percentages, not a percent change.
    (r"\bpercentage points?\b|\bpp\b", "difference"),
    (r"\bhow many (?:more|fewer|less)\b", "difference"),
    (r"\bhow many times (?:faster|slower|larger|smaller|more|higher|lower|bigger|as)\b", "ratio"),
    (r"\bby what (?:percent|percentage|%)|\bhow many percent", "percent change"),
    (r"\b(?:grow|grew|grown|increas\w*|decreas\w*|declin\w*|rise|rose|fall|fell|drop\w*|chang\w*)\b[^?]*"
     r"\b(?:in|by|as a) (?:percent|percentage|%)", "percent change"),
    (r"\bhow much (?:did|has|have|does|do|was|were|is)\b[^?]*\b(?:increas|decreas|grow|grew|rise|rose|fall|fell|"
     r"declin|drop|chang|differ|exceed)", "difference"),
    (r"\bdifference (?:between|in)\b", "difference"),
    (r"\baverage\b[^?]*\b(?:over|across|between)\b", "average"),
))
# Words that make arithmetic likely without naming a catalogued measure.
_ARITH_WORDS = re.compile(
    r"\b(?:ratio|margins?|cagr|per (?!share\b|cent\b|annum\b|year\b|month\b|day\b|hour\b|week\b|the\b|a\b)\w+|"
    r"percentage of|percent of|how much more|how much less|how many more|how many fewer|percentage points?|"
    r"how many times|times as (?:much|many|large|high))\b",
    re.IGNORECASE,
)
_GROWTH = re.compile(r"\b(?:growth|grew|grow|increase[ds]?|decrease[ds]?|decline[ds]?|change[ds]?)\b", re.I)
_PERIODS = re.compile(r"\b(?:(?:fy|q[1-4]\s*)?'?\d{2,4}|year|quarter|period|prior|previous|last|from .+ to|"
                      r"compared|versus|vs\.?)\b", re.I)
# Questions that ask for reasons or descriptions are text questions, whatever words they use.
_NARRATIVE = re.compile(r"^\s*(?:why|how did|how does|how do|what drove|what caused|what factors|what were the "
                        r"(?:drivers|reasons|factors)|explain|describe|list|which|summari[sz]e|discuss)\b", re.I)
_CALC = re.compile(r"\b(?:calculate|compute|computed|calculated|derive|work out|using the|based on the)\b", re.I)


def find_measure(question: str, catalogue: Catalogue | None = None) -> Measure | None:
    """The measure the question asks for: its own definition first, then the longest
    catalogue phrase in it (a named measure before a generic one of the same length), then
    the generic cues ("by what percent", "how much did ... increase"). None otherwise."""
    own = question_definition(question)
    cat = catalogue or load_catalogue()
    q = f" {_norm(question)} "
    found = [m for phrase, m in cat.phrases if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", q)]
    named = next((m for m in found if not m.generic), None)
    if own is not None:
        # The question's formula, under the catalogue's name when it names a measure.
        return replace(own, name=named.name) if named is not None and own.name == "result" else own
    if named is not None:
        return named
    # The cues say more than a generic phrase: "change in ..., in percent" is a percent change.
    for rx, name in _CUES:
        if rx.search(question):
            return cat.get(name)
    if found:
        return found[0]
    if _GROWTH.search(question) and re.search(r"\bgrowth\b", question, re.I) and _PERIODS.search(question):
        return cat.get("year-over-year growth")
    return None


def needs_arithmetic(question: str, catalogue: Catalogue | None = None) -> bool:
    """Whether the answer has to be computed rather than read: a measure from the catalogue
    or the question's own definition, or arithmetic words (ratio, margin, per, percentage
    of, growth or change over periods, difference, average over, CAGR, days ratios).

    Not for simple lookups ("what was total revenue in 2022"), reasons ("why did the margin
    fall") or a measure filings print themselves (EPS, effective tax rate) unless the
    question asks for a calculation."""
    asks_calc = bool(_CALC.search(question))
    if _NARRATIVE.search(question) and not asks_calc:
        return False
    m = find_measure(question, catalogue)
    if m is not None:
        return asks_calc or not m.reported
    if _ARITH_WORDS.search(question):
        return True
    if _GROWTH.search(question) and _PERIODS.search(question) and re.search(r"\b(?:how much|what (?:was|is) the)\b",
                                                                             question, re.I):
        return True
    return asks_calc
