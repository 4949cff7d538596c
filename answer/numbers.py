"""Results -> text rounded as asked, and what a question asks about rounding and scale.

Reading printed numbers is folio.numbers (one reader for every check); its names are
re-exported here for the answer stage's modules.
"""

from __future__ import annotations

import re

from folio.numbers import (  # noqa: F401  (re-exported)
    _SCALE_WORDS,
    FIND_RE,
    SCALE_NAMES,
    Number,
    find_numbers,
    parse_number,
    scale_from_context,
)


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
