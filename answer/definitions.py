"""A question's own definition of what to compute, read into a formula over named operands.

Analysts write the formula into the question: "quick ratio, defined as (cash and cash
equivalents + current marketable securities + accounts receivable, net) divided by total
current liabilities", "free cash flow (net cash provided by operating activities minus
capital expenditures)", "days of inventory (inventories / cost of sales x 365)". Read here,
the formula is fixed in code and the model is only asked for the operands, one slot each;
a 1.5B model asked to write the expression itself invents operands ("quick_ratio * ...").

Word operators are read left to right, the way such definitions are spoken: "current assets
minus inventories divided by current liabilities" is (current assets - inventories) /
current liabilities. Parentheses in the question group as written. A definition that does
not read as phrases joined by operators gives ``None`` (the model then writes the
expression from the quoted words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from answer.arith import ArithError, is_name, validate

# Where a definition is written.
_DEF_RE = re.compile(
    r"(?:(?P<name>[a-z][\w' /%-]{2,60}?)\s*(?:,|\()?\s*)?\b(?:is |being )?(?:defined|calculated|computed|measured|"
    r"derived|taken) as\s+(?P<def>[^?;]+)",
    re.IGNORECASE,
)
_FORMULA_RE = re.compile(r"\b(?:using|with|by) the formula\s*:?\s*(?P<def>[^?;]+)", re.IGNORECASE)
_IE_RE = re.compile(r"\bi\.\s?e\.,?\s+(?P<def>[^?;]+)", re.IGNORECASE)
# A parenthesis holding an operation: "(income tax provision / pretax income)".
_PAREN_RE = re.compile(r"\((?P<def>[^()]*(?:\([^()]*\)[^()]*)*)\)")
_HAS_OP = re.compile(r"[/÷×+]|\s[x*-]\s|\b(?:divided by|minus|less|plus|times|multiplied by|over|"
                     r"as an? (?:percentage|percent|share) of)\b", re.I)
# Operator words -> symbols ("x 365" is a product only before a number).
_WORD_OPS = (
    (re.compile(r"\s+as an? (?:percentage|percent|%|share) of\s+", re.I), "/", True),
    (re.compile(r"\s+(?:divided by|over|relative to)\s+", re.I), "/", False),
    (re.compile(r"\s*[/÷]\s*"), "/", False),
    (re.compile(r"(?<!,)\s+(?:minus|less)\s+|\s+[-\u2212]\s+", re.I), "-", False),
    (re.compile(r"\s+plus\s+|\s*\+\s*", re.I), "+", False),
    (re.compile(r"\s+(?:times|multiplied by)\s+|\s*[x×]\s*(?=\d)|\s+\*\s+|\*", re.I), "*", False),
)
# Operators become marked tokens, so a hyphen inside "long-term" is never a minus.
_MARK = "\x00"
_TOKEN_RE = re.compile(rf"\s*({_MARK}[-+*/]{_MARK}|[()])\s*")
_LEAD = re.compile(r"^(?:the|a|an|its|their|our|total of the|sum of)\s+", re.I)
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
# Where a definition's own clause ends: ", for 2022", " in fiscal 2022", ", in $ millions".
_TAIL = re.compile(r"\s+(?:for|in|at|as of|during)\s+(?:the\s+)?(?:fiscal\s+|fy\s?)?(?:year\s+)?\d{4}\b.*$"
                   r"|\s+(?:in|as) (?:\$|usd|percent|millions|thousands|billions)\b.*$", re.I)
_SCALE_PAREN = re.compile(r"\s*\((?:in|as|expressed in)\b[^()]*\)", re.I)
_GLUE = {"and", "of", "the", "by", "for", "in", "on", "to", "a", "an"}
MAX_OPERANDS = 6


@dataclass(frozen=True)
class Definition:
    name: str  # what the question calls the result ("quick ratio"), or "result"
    text: str  # the definition as the question words it
    formula: str | None  # over slot names, or None when it does not read as one formula
    operands: dict[str, str]  # slot name -> the question's phrase for it
    percent: bool = False  # "as a percentage of": the formula multiplies by 100


def _depth0_cut(text: str) -> str:
    """The text up to its first comma or period outside parentheses ("accounts
    receivable, net" inside a parenthesis is one phrase)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return text[:i]
        if depth == 0 and (ch == "," or (ch == "." and not text[i + 1: i + 2].isdigit())):
            return text[:i]
    return text


def _grouped(expr: str) -> str:
    """``expr`` in parentheses unless it is one name, one number or already one group."""
    if " " not in expr:
        return expr
    if expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += (ch == "(") - (ch == ")")
            if depth == 0 and i < len(expr) - 1:
                break
        else:
            return expr
    return f"({expr})"


def slug(phrase: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", _LEAD.sub("", phrase.lower()))]
    content = [w for w in words if w not in _GLUE] or words
    s = "_".join(content[:5])[:40].rstrip("_") or "x"
    return s if s[0].isalpha() else "v_" + s


_ONE_PASS = re.compile("|".join(f"(?P<op{i}>{rx.pattern})" for i, (rx, _, _) in enumerate(_WORD_OPS)), re.I)


def _symbols(text: str) -> tuple[str, bool]:
    """Operator words and signs -> marked operators, in one pass (a marked "/" must not be
    read again as a sign)."""
    percent = False

    def mark(m: re.Match[str]) -> str:
        nonlocal percent
        i = int(next(k for k, v in m.groupdict().items() if v is not None)[2:])
        percent = percent or _WORD_OPS[i][2]
        return f" {_MARK}{_WORD_OPS[i][1]}{_MARK} "

    return _ONE_PASS.sub(mark, text), percent


def parse(text: str) -> tuple[str, dict[str, str]] | None:
    """"a plus b divided by c" -> ("(a + b) / c", {slot: phrase}); None if it is not
    phrases and numbers joined by operators."""
    body, _ = _symbols(f" {text} ")
    parts = [p for p in _TOKEN_RE.split(body) if p and p.strip()]
    slots: dict[str, str] = {}
    pos = 0

    def atom() -> str | None:
        nonlocal pos
        if pos >= len(parts):
            return None
        tok = parts[pos].strip()
        pos += 1
        if tok == "(":
            return group()
        if tok == ")" or tok.startswith(_MARK):
            return None
        phrase = _LEAD.sub("", tok.strip(" ,.:;")).strip()
        if _NUMBER.match(phrase):
            return phrase
        if pos < len(parts) and parts[pos].strip() == "(":
            # "total debt (current portion + short-term debt + long-term debt)": the
            # parenthesis says what the phrase is made of.
            pos += 1
            return group()
        name = slug(phrase)
        if not is_name(name) or len(phrase.split()) > 10:
            return None
        slots.setdefault(name, phrase)
        return name

    def group() -> str | None:
        nonlocal pos
        inner = seq()
        if inner is None or pos >= len(parts) or parts[pos].strip() != ")":
            return None
        pos += 1
        return _grouped(inner)

    def seq() -> str | None:
        nonlocal pos
        left = atom()
        while left is not None and pos < len(parts) and parts[pos].strip().startswith(_MARK):
            op = parts[pos].strip().strip(_MARK)
            pos += 1
            right = atom()
            if right is None:
                return None
            # Left to right, as spoken: the left side is grouped before the next operator.
            left = f"{_grouped(left)} {op} {right}" if op in "*/" else f"{left} {op} {right}"
        return left

    expr = seq()
    if expr is None or pos != len(parts) or not slots or len(slots) > MAX_OPERANDS or " " not in expr:
        return None
    try:
        validate(expr)
    except ArithError:
        return None
    return expr, slots


def _name_before(question: str, start: int) -> str:
    return _clean_name(question[:start])


def _clean_name(before: str) -> str:
    before = before.rstrip(" ,(")
    m = re.search(r"([A-Za-z][\w' %-]{2,60})$", before)
    name = m.group(1).strip() if m else ""
    for _ in range(3):
        name = re.sub(r"^(?:(?:what|how)\s+(?:is|was|were|are|much|many)|what|was|is|compute|calculate|the|its|their|"
                      r"[A-Z][\w&.]*'s)\s+", "", name, flags=re.I)
    name = re.sub(r"\s+(?:in|for|of|at|as of)\s+(?:the\s+)?(?:fiscal|full-year|fy)?\s*'?\d{2,4}$", "", name,
                  flags=re.I).strip()
    # A long lead-in is a sentence, not a name ("days of inventory did Amazon hold").
    return name if name and len(name.split()) <= 6 else "result"


def question_definition(question: str) -> Definition | None:
    """The definition the question states, read as a formula when it can be."""
    found: list[tuple[str, str]] = []
    m = _DEF_RE.search(question)
    if m:
        found.append((_clean_name(m.group("name") or ""), m.group("def")))
    for rx in (_FORMULA_RE, _IE_RE):
        m2 = rx.search(question)
        if m2:
            found.append((_name_before(question, m2.start()), m2.group("def")))
    for p in _PAREN_RE.finditer(question):
        if _HAS_OP.search(p.group("def")):
            found.append((_name_before(question, p.start()), p.group("def")))
    for name, raw in found:
        text = _SCALE_PAREN.sub(" ", _TAIL.sub("", " ".join(_depth0_cut(raw).split()))).strip(" .,")
        parsed = parse(text)
        if parsed is not None:
            expr, slots = parsed
            _, percent = _symbols(f" {text} ")
            if percent:
                expr = f"{expr} * 100" if not any(op in expr for op in "+-") else f"({expr}) * 100"
            return Definition(name, text, expr, slots, percent)
    if found:
        name, raw = found[0]
        return Definition(name, " ".join(_depth0_cut(raw).split()).strip(" .,"), None, {})
    return None
