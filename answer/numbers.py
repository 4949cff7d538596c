"""Numbers as documents print them -> values, and results -> text rounded as asked.

Statements print "(1,234.5)" for a negative, "—" for nothing, "$4.1 billion", "12.5%",
and put the scale once in a caption ("in millions, except per share data"). A computed
answer is only as right as this reading, so it is strict: anything it cannot read is
None, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Scales by word and abbreviation. "m"/"M" alone is left out: "5 m" is as often metres.
_SCALE_WORDS = {
    "thousand": 1e3, "thousands": 1e3, "k": 1e3, "000s": 1e3, "000's": 1e3,
    "million": 1e6, "millions": 1e6, "mm": 1e6, "mn": 1e6, "mln": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "trillions": 1e12, "tn": 1e12,
}
SCALE_NAMES = {1e3: "thousand", 1e6: "million", 1e9: "billion", 1e12: "trillion"}
_CURRENCY = "$€£¥"
_MINUS = "\u2212\u2013\u2012\ufe63\uff0d"  # unicode minus, en dash, figure dash, small/full-width hyphen
_SPACES = "\u00a0\u202f\u2009\u2007"  # thousands separators in some typesetting
_EMPTY = {"", "-", "—", "–", "−", "n/a", "na", "nm", "n.m.", "none", "nil", "*"}

# The number itself: digits with optional thousands groups and decimals (or a leading ".").
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_SCALE_ALT = "|".join(sorted((re.escape(w) for w in _SCALE_WORDS), key=len, reverse=True))
# A whole token: sign, parentheses, currency, number, percent or a scale word, in the
# orders documents use ("-$5", "$(5)", "($5)", "5%", "$4.1 billion", "12bn", "(3.2)%").
_TOKEN_RE = re.compile(
    rf"^(?P<cur0>[{_CURRENCY}])?\s*(?P<neg1>-)?\s*(?P<open>\()?\s*(?P<neg2>-)?\s*(?P<cur>[{_CURRENCY}]|US\$|USD|EUR|GBP)?\s*"
    rf"(?P<neg3>-)?\s*(?P<num>{_NUM})\s*(?P<pct>%|percent\b|per cent\b|pct\b)?\s*"
    rf"(?P<scale>(?:{_SCALE_ALT})\b)?\s*(?P<close>\))?\s*(?P<pct2>%)?$",
    re.IGNORECASE,
)
# Numbers inside running text, for finding an operand where it is printed. The scale
# word must follow directly ("$4.1 billion"), a percent sign may too.
FIND_RE = re.compile(
    rf"(?<![\w.])(?:[{_CURRENCY}]\s?)?(?P<o>\()?-?(?:[{_CURRENCY}]\s?)?(?:{_NUM})"
    rf"(?:\s?%|\s?(?:{_SCALE_ALT})\b)?(?(o)\))",
    re.IGNORECASE,
)
_HINT_RE = re.compile(
    r"\b(?:in|of|amounts? in|expressed in|\$|€|£|usd|eur|gbp)\s*(?:\$|€|£|us\$|usd|eur|gbp)?\s*"
    r"(thousands|millions|billions|trillions|000s|000's|mm|mn|bn)\b",
    re.IGNORECASE,
)
_HINT_BARE_RE = re.compile(r"\(\s*(000s|000's)\s*\)", re.IGNORECASE)


@dataclass(frozen=True)
class Number:
    """One printed number. ``value`` is the figure as printed with its sign (12.5 for
    "12.5%", -1234.5 for "(1,234.5)"); ``scale`` is what multiplies it (1e6 for
    "4.1 million" or a table "in millions"); ``amount`` is both together."""

    value: float
    percent: bool
    scale: float
    raw: str

    @property
    def amount(self) -> float:
        return self.value * self.scale

    @property
    def decimals(self) -> int:
        """Decimals as printed ("2,861.0" -> 1): the precision the document claims."""
        m = re.search(r"\.(\d+)", self.raw)
        return len(m.group(1)) if m else 0


def scale_from_context(text: str) -> float:
    """The scale a caption or header states: "(in millions, except per share data)" -> 1e6.
    The first statement wins; 1 when none."""
    m = _HINT_RE.search(text or "") or _HINT_BARE_RE.search(text or "")
    if not m:
        return 1.0
    return _SCALE_WORDS.get(m.group(1).lower(), 1.0)


def _clean(text: str) -> str:
    t = text.strip()
    for ch in _MINUS:
        t = t.replace(ch, "-")
    for ch in _SPACES:
        # A space between digit groups is a thousands separator; elsewhere a space.
        t = re.sub(rf"(?<=\d){ch}(?=\d{{3}}\b)", ",", t).replace(ch, " ")
    return t


def parse_number(text: str, scale_hint: str | None = None) -> Number | None:
    """One printed figure -> Number, None for an empty cell ("—", "-", "n/a") or text
    that is not exactly one number. ``scale_hint`` is the table's or sentence's context
    ("in thousands") or a scale word; a scale printed with the figure wins over it, and a
    percentage has none."""
    if text is None:
        return None
    raw = text.strip()
    t = _clean(raw)
    if t.lower() in _EMPTY:
        return None
    m = _TOKEN_RE.match(t)
    if not m:
        return None
    if bool(m.group("open")) != bool(m.group("close")):
        return None  # "(5" is a cut-off cell, not a negative
    negs = sum(1 for g in ("neg1", "neg2", "neg3") if m.group(g))
    if negs > 1:
        return None
    value = float(m.group("num").replace(",", ""))
    if negs or m.group("open"):
        value = -value
    percent = bool(m.group("pct") or m.group("pct2"))
    if percent:
        scale = 1.0
    elif m.group("scale"):
        word = m.group("scale").lower()
        if word == "b" and not (m.group("cur") or m.group("cur0")):
            return None  # "5b" is a footnote or a label more often than five billion
        scale = _SCALE_WORDS[word]
    elif scale_hint:
        scale = _SCALE_WORDS.get(scale_hint.strip().lower()) or scale_from_context(scale_hint)
    else:
        scale = 1.0
    return Number(value, percent, scale, raw)


def find_numbers(text: str, scale_hint: str | None = None) -> list[Number]:
    """Every number printed in a text, in order (for checking where an operand sits)."""
    out = []
    for m in FIND_RE.finditer(_clean(text)):
        n = parse_number(m.group(0), scale_hint)
        if n is not None:
            out.append(n)
    return out


def format_number(value: float, decimals: int, percent: bool = False) -> str:
    """1234.567, 2 -> "1,234.57"; 12.345, 1, percent -> "12.3%". Half away from zero, the
    way people round by hand (Python's round() would give 0.12 for 0.125)."""
    from decimal import ROUND_HALF_UP, Decimal

    d = max(0, min(int(decimals), 10))
    q = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)  # never "-0.00"
    out = f"{q:,.{d}f}"
    return out + "%" if percent else out


_DIGITS = {"zero": 0, "no": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_DEC_RE = re.compile(
    r"\b(?:round(?:ed|ing)?|to|with|in|at|using)\s+(?:the\s+)?(?:nearest\s+)?(zero|no|one|two|three|four|five|six|\d)"
    r"\s+(?:decimal(?:s| places?| points?| digits?)?|dp|d\.p\.|significant decimals?)\b",
    re.IGNORECASE,
)
_NEAREST = {
    "whole number": 0, "integer": 0, "whole": 0, "unit": 0, "percent": 0, "percentage point": 0,
    "tenth": 1, "hundredth": 2, "thousandth": 3, "cent": 2, "dollar": 0,
}
_NEAREST_RE = re.compile(r"\bnearest\s+(" + "|".join(sorted(_NEAREST, key=len, reverse=True)) + r")s?\b",
                         re.IGNORECASE)
_PERCENT_RE = re.compile(
    r"\b(?:in|as an?|as|expressed as an?|expressed in)\s+(?:a\s+)?(?:percent(?:age)?s?|per cent|%)"
    r"|\bwhat\s+(?:percent(?:age)?|per cent|%)|\bpercent(?:age)? (?:of|change|increase|decrease|growth|decline)"
    r"|\bby what percent|\bhow many percent|%\s*(?:change|of|increase|decrease|growth)",
    re.IGNORECASE,
)


def rounding_asked(question: str) -> tuple[int | None, bool]:
    """(decimals the question asks for or None, whether it asks for a percentage).

    "round to two decimals" -> (2, False); "to one decimal place, in percent" -> (1, True);
    "to the nearest whole number" -> (0, False); "to the nearest percent" -> (0, True)."""
    q = question or ""
    decimals: int | None = None
    m = _DEC_RE.search(q)
    if m:
        w = m.group(1).lower()
        decimals = _DIGITS[w] if w in _DIGITS else int(w)
    else:
        m2 = _NEAREST_RE.search(q)
        if m2:
            decimals = _NEAREST[m2.group(1).lower()]
    percent = bool(_PERCENT_RE.search(q)) or bool(re.search(r"\bnearest\s+(?:percent|percentage point)", q, re.I))
    return decimals, percent


_SCALE_ASKED_RE = re.compile(
    r"\bin\s+(?:\$|€|£|usd|eur|gbp|us\$|dollars?|euros?)?\s*(thousands|millions|billions|trillions|mm|bn)\b"
    r"(?:\s+of\s+(?:dollars|euros|pounds))?",
    re.IGNORECASE,
)


def scale_asked(question: str) -> float | None:
    """The scale the answer should be given in ("in $ millions" -> 1e6), None if not said."""
    m = _SCALE_ASKED_RE.search(question or "")
    return _SCALE_WORDS.get(m.group(1).lower()) if m else None


def default_decimals(unit: str) -> int:
    """Decimals when the question does not say: ratios 2, percents and days 1."""
    return {"ratio": 2, "percent": 1, "days": 1, "currency": 2}.get(unit, 2)
