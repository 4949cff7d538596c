"""Numbers as documents print them -> values: the one reader every check uses.

Statements print "(1,234.5)" for a negative, "—" for nothing, "$4.1 billion", "12.5%",
and put the scale once in a caption ("in millions, except per share data"). A computed
answer (and a summary's figure check) is only as right as this reading, so it is strict:
anything it cannot read is None, never a guess.

Thousands separators come in both conventions: "1,234.5" and "1.234,5" are the same
value. A lone separator is read the English way unless it cannot be a thousands group:
"1,234" is 1234, "1,5" and "12,50" are 1.5 and 12.5, "1.234" is 1.234, "1.234.567" is
1234567. Punctuation after a number ("in 2025," "111.5.") is never part of it.
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

# The number itself, longest reading first: dot thousands with a decimal comma (or two dot
# groups), comma thousands with a decimal point, a decimal comma (one or two digits, not
# a list "1,2,3"), plain digits with decimals, a leading ".". A number never ends on a
# separator followed by a digit (a half-read "1.234,5" would be 1.234 and 5).
_NUM = (
    r"(?:\d{1,3}(?:\.\d{3})+,\d+|\d{1,3}(?:\.\d{3}){2,}"
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+,\d{1,2}(?![\d,])|\d+(?:\.\d+)?|\.\d+)(?![.,]?\d)"
)
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
    rf"(?<![\w.,])(?:[{_CURRENCY}]\s?)?(?P<o>\()?-?(?:[{_CURRENCY}]\s?)?(?:{_NUM})"
    rf"(?:\s?(?:%|percent\b|per cent\b)|\s?(?:{_SCALE_ALT})\b)?(?(o)\))",
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
        """Decimals as printed ("2,861.0" -> 1, "1.234,50" -> 2): the precision the document claims."""
        m = re.search(_NUM, _clean(self.raw))
        return len(_split_number(m.group(0))[1]) if m else 0


def _split_number(num: str) -> tuple[str, str]:
    """A matched number -> (integer digits, decimal digits), whichever convention it uses."""
    dots, commas = num.count("."), num.count(",")
    if dots and commas:
        dec = "." if num.rfind(".") > num.rfind(",") else ","
    elif commas:
        # "1,234" and "1,234,567" group thousands; "1,5" / "12,50" is a decimal comma
        dec = "," if commas == 1 and len(num) - num.rfind(",") - 1 != 3 else ""
    elif dots:
        dec = "." if dots == 1 else ""  # "1.234.567" groups thousands
    else:
        dec = ""
    if not dec:
        return num.replace(",", "").replace(".", ""), ""
    whole, frac = num.rsplit(dec, 1)
    return whole.replace(",", "").replace(".", ""), frac


def number_value(num: str) -> float:
    """The digits of one matched number ("1.234,5", "1,234.5", ".5") -> its value."""
    whole, frac = _split_number(num)
    return float(f"{whole or 0}.{frac or 0}")


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
    value = number_value(m.group("num"))
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


def is_figure(n: Number) -> bool:
    """Worth checking: a bare single digit is left out ("3 regions", a list's "1." are
    counts and enumerations written in a writer's own words)."""
    digits = sum(ch.isdigit() for ch in n.raw)
    return digits > 1 or n.percent or n.scale != 1.0 or any(c in n.raw for c in _CURRENCY)


def number_values(text: str) -> set[float]:
    """Every number in a text, as values without sign ("(3.2)" and "3.2" both match); a
    number with a scale word counts as printed and as its amount ("4.1 million")."""
    vals = set()
    for n in find_numbers(text):
        vals.add(abs(n.value))
        vals.add(abs(n.amount))
    return vals


def same_value(v: float, x: float) -> bool:
    """The same figure, copied as written or rounded to the shown precision (12.0 == 12,
    7.50 == 7.5, 1,234 for 1,234.4)."""
    return abs(v - x) < 1e-9 or (x != 0 and abs(v - x) / abs(x) < 5e-4)


def holds(values: set[float], n: Number) -> bool:
    """``n`` (as printed or as its amount) is one of ``values``."""
    return any(same_value(abs(v), x) for v in {n.value, n.amount} for x in values)
