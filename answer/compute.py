"""The computed path: the model finds the operands, Python does the arithmetic.

One structured output (a llama.cpp JSON-schema grammar): the operands, each a figure
copied as printed with the number of the block that prints it, and, when the catalogue
does not fix the formula, one expression over their names. Then, in Python only: every
operand is found in its cited block (answer/operands.py), scales are made consistent,
the expression is evaluated by the safe evaluator and rounded as the question asks, and
the answer shows the formula with each operand cited:

    Current ratio = current assets / current liabilities = 4,120.5 [2] / 2,861.0 [2] = 1.44.

``compute`` returns None (the engine falls back to the text path) when the model's output
is unusable, an operand is not printed in its block, or the expression fails.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from answer import prompts
from answer.arith import ArithError, evaluate, is_name, names
from answer.focus import align_period, focus
from answer.gridfill import from_grid
from answer.measures import Catalogue, Measure, find_measure
from answer.numbers import (
    SCALE_NAMES,
    Number,
    default_decimals,
    find_numbers,
    format_number,
    rounding_asked,
    scale_asked,
)
from answer.operands import QUESTION, Located, adopt_stated_scale, locate, locate_in_question
from folio.errors import FolioError

if TYPE_CHECKING:
    from answer.backends import Backend, Prompt
    from answer.context import Block

log = logging.getLogger(__name__)
MAX_TOKENS = 200  # six operands and an expression fit; a run-away output is cut
MAX_OPERANDS = 6
_NAME_PATTERN = "^[a-z][a-z0-9_]{0,39}$"
# What a printed figure may look like: sign or parentheses, currency, digits, percent or
# a scale word. Keeps a small model from writing words where a number goes.
_VALUE_PATTERN = r"^[-(]?[$€£]?[0-9][0-9,]{0,14}([.][0-9]{1,6})?[)%]?( ?(million|billion|thousand|bn|mm|k))?$"
_EXPR_PATTERN = r"^[a-z0-9_ +*/().,-]{1,160}$"


@dataclass
class Operand:
    name: str
    value: float  # the figure used in the expression, in the computation's scale
    raw: str  # as the block prints it
    block: int  # 0: printed in the question
    element_id: str | None
    number: Number
    row_match: bool = True
    column_ok: bool = True


@dataclass
class Computed:
    text: str
    operands: list[Operand]
    expression: str
    result: float  # unrounded, in the computation's scale (``scale``), percent as 0-100
    ok: bool  # every check passed; False: found in the blocks, but a row or column doubt
    measure: str | None = None
    unit: str = "number"
    scale: float = 1.0
    decimals: int = 2
    warnings: list[str] = field(default_factory=list)
    prompt: Prompt | None = None
    labels: dict[str, str] = field(default_factory=dict)  # operand -> the question's own words for it

    @property
    def cited(self) -> dict[int, list[str]]:
        """Block number -> the element ids its operands come from (for citation cards)."""
        out: dict[int, list[str]] = {}
        for op in self.operands:
            if op.block != QUESTION:
                ids = out.setdefault(op.block, [])
                if op.element_id and op.element_id not in ids:
                    ids.append(op.element_id)
        return out


class ComputeError(FolioError):
    """Why a model's operands or expression could not be used (logged; compute returns None)."""


# ---- the request --------------------------------------------------------------------------

def _question_has_figures(question: str) -> bool:
    return bool(find_numbers(question))


def schema(blocks: list[Block], question: str, measure: Measure | None) -> dict[str, Any]:
    """Operands as fixed slots when the formula is known, else a list plus an expression."""
    ns = [b.n for b in blocks] + ([QUESTION] if _question_has_figures(question) else [])
    slot = {"type": "object", "properties": {"value": {"type": "string", "pattern": _VALUE_PATTERN},
                                             "block": {"type": "integer", "enum": ns}},
            "required": ["value", "block"]}
    if measure is not None and measure.formula and not measure.generic:
        props = {k: slot for k in measure.operands}
        return {"type": "object", "properties": {"operands": {"type": "object", "properties": props,
                                                              "required": list(measure.operands)}},
                "required": ["operands"]}
    item = {"type": "object", "properties": {"name": {"type": "string", "pattern": _NAME_PATTERN},
                                             **slot["properties"]},  # type: ignore[dict-item]
            "required": ["name", "value", "block"]}
    return {"type": "object", "properties": {
        "operands": {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_OPERANDS},
        "expression": {"type": "string", "pattern": _EXPR_PATTERN}},
        "required": ["operands", "expression"]}


def task(measure: Measure | None) -> str:
    """The instructions after the question: short (every token is prompt time)."""
    lines = ["Do not write the answer and do not calculate. Copy each number the calculation needs "
             "exactly as printed, with the number of the source that prints it"
             " (0 if the question itself states it)."]
    if measure is not None and measure.formula and not measure.generic:
        lines.append(f"Formula: {measure.name} = {measure.formula}")
        lines += [f"- {k}: {' or '.join(v[:2])}" for k, v in measure.operands.items()]
        if measure.note:
            lines.append(f"Note: {measure.note}")
    else:
        lines.append("Give each number a short snake_case name and write one expression over the names "
                     "with + - * / ( ) and avg(...).")
        if measure is not None and measure.source == "question":
            lines.append(f"Use the question's definition: {prompts._data(measure.definition)}")
        elif measure is not None and measure.formula:
            lines.append(f"Pattern: {measure.name} = {measure.formula}")
    lines.append("Reply with JSON only.")
    return "\n".join(lines)


def compute_messages(system: str, blocks: list[Block], question: str, measure: Measure | None) -> list[dict[str, str]]:
    """The answer's messages (same system message, same fenced sources: llama.cpp reuses the
    cached prefix) with the task after the question."""
    msgs = prompts.answer_messages(system, blocks, question)
    msgs[-1] = {"role": "user", "content": f"{msgs[-1]['content']}\n\n{task(measure)}"}
    return msgs


# ---- the model's output -> checked operands -------------------------------------------------

def _items(data: dict[str, Any], measure: Measure | None) -> tuple[list[dict[str, Any]], str]:
    ops = data.get("operands")
    if measure is not None and measure.formula and not measure.generic:
        if not isinstance(ops, dict):
            raise ComputeError("operands: expected an object of the formula's operands")
        items = [{"name": k, **v} for k, v in ops.items() if isinstance(v, dict)]
        return items, measure.formula
    if not isinstance(ops, list) or not ops:
        raise ComputeError("operands: expected a non-empty list")
    expr = data.get("expression")
    if not isinstance(expr, str):
        raise ComputeError("expression: missing")
    return [o for o in ops if isinstance(o, dict)], expr


def check_operands(data: dict[str, Any], blocks: list[Block], question: str,
                   measure: Measure | None) -> tuple[list[Operand], str]:
    """The model's JSON -> operands found where they are cited, and the expression.
    ComputeError when any operand is not printed in its block, or names do not line up."""
    items, expr = _items(data, measure)
    by_n = {b.n: b for b in blocks}
    out: list[Operand] = []
    for it in items[:MAX_OPERANDS]:
        name, value, n = it.get("name"), it.get("value"), it.get("block")
        if not isinstance(name, str) or not is_name(name) or not isinstance(value, str) or not isinstance(n, int):
            raise ComputeError(f"operand {it!r}: needs a plain name, a value as printed and a block number")
        if any(o.name == name for o in out):
            raise ComputeError(f"operand {name!r} given twice")
        loc: Located | None
        if n == QUESTION:
            loc = locate_in_question(value, question)
        elif n in by_n:
            phrases = measure.operands.get(name, ()) if measure is not None else ()
            loc = locate(name, value, by_n[n], phrases)
            if loc is None or not loc.row_match:
                # A small model misnumbers blocks: the figure in a row that names the
                # operand, in another block, is the one it copied.
                other = next(((m, o) for m in by_n if m != n and (o := locate(name, value, by_n[m], phrases))
                              is not None and o.row_match), None)
                if other is not None:
                    n, loc = other
        else:
            raise ComputeError(f"operand {name!r}: block [{n}] is not among the sources")
        if loc is None:
            raise ComputeError(f"operand {name!r}: {value!r} is not printed in block [{n}]")
        if n != QUESTION and by_n[n].hit.kind == "table":
            loc = align_period(loc, name, question, by_n[n])
        num = loc.number
        if measure is not None and name in measure.sizes and num.value < 0:
            num = Number(-num.value, num.percent, num.scale, num.raw)
        out.append(Operand(name, num.value, num.raw, n, loc.element_id, num, loc.row_match, loc.column_ok))
    used = names(expr)
    missing = used - {o.name for o in out}
    if missing:
        raise ComputeError(f"expression {expr!r} uses {sorted(missing)}, which no operand gives")
    return [o for o in out if o.name in used], expr


def _is_year(op: Operand) -> bool:
    n = op.number
    return n.scale == 1 and not n.percent and n.value.is_integer() and 1900 <= n.value <= 2100 and "," not in n.raw


def _scaled(op: Operand) -> bool:
    return not op.number.percent and not _is_year(op) and op.block != QUESTION


def _times(value: float, factor: float) -> float:
    """value * factor in decimal: 4.1 * 1000 must be 4100, not 4099.999999999999."""
    return float(Decimal(repr(value)) * Decimal(repr(factor)))


def common_scale(operands: list[Operand]) -> tuple[float, bool]:
    """Bring amounts to one scale: the smallest any of them is printed in ("$4.1 billion"
    beside "3,850 million" becomes 4,100 million; no figure loses digits). Percentages and
    years keep theirs. Returns the scale and whether anything was converted."""
    scaled = [o for o in operands if _scaled(o)]
    scales = {o.number.scale for o in scaled}
    if len(scales) <= 1:
        return (scales.pop() if scales else 1.0), False
    low = min(scales)
    for o in scaled:
        o.value = _times(o.number.value, o.number.scale / low)
    return low, True


def result_dimension(expr: str, operands: list[Operand]) -> int | None:
    """How the result scales with the amounts: 1 for a sum or difference of amounts (it is
    in millions when they are), 0 for a ratio (no scale left), None when mixed or unknown.
    Found by evaluating again with every amount ten times larger."""
    base = {o.name: o.value for o in operands}
    probe = {o.name: o.value * 10.0 if _scaled(o) else o.value for o in operands}
    try:
        r1, r2 = evaluate(expr, base), evaluate(expr, probe)
    except ArithError:
        return None
    if r1 == 0 or r2 / r1 <= 0:
        return None
    d = math.log10(r2 / r1)
    return round(d) if abs(d - round(d)) < 1e-6 else None


# ---- the answer text ----------------------------------------------------------------------

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _substitute(expr: str, repl: dict[str, str]) -> str:
    out = _IDENT_RE.sub(lambda m: repl.get(m.group(0), m.group(0)), expr)
    return " ".join(out.replace("(", "( ").replace(")", " )").split()).replace("( ", "(").replace(" )", ")")


def render(c: Computed, converted: bool) -> str:
    words = {o.name: c.labels.get(o.name) or o.name.replace("_", " ") for o in c.operands}
    cites = {o.name: f"{o.raw} [{o.block}]" if o.block != QUESTION else o.raw for o in c.operands}
    title = (c.measure or "result").strip()
    value = format_number(c.result, c.decimals, c.unit == "percent")
    if c.unit == "days":
        value += " days"
    elif c.unit == "times":
        value += " times"
    elif c.unit in ("currency", "number") and c.scale in SCALE_NAMES:
        value += f" {SCALE_NAMES[c.scale]}"
    parts = [title[0].upper() + title[1:]]
    symbolic = _substitute(c.expression, words)
    if symbolic != title:
        parts.append(symbolic)
    parts += [_substitute(c.expression, cites), value]
    text = " = ".join(parts) + "."
    if converted:
        text += f" Amounts converted to {SCALE_NAMES[c.scale] + 's' if c.scale in SCALE_NAMES else 'units'}."
    return text


def _unit(measure: Measure | None, expr: str, wants_percent: bool) -> tuple[str, str]:
    """The result's unit, and the expression (made a percentage when one is asked)."""
    times_100 = bool(re.search(r"\*\s*100\b|\b100\s*\*", expr))
    unit = measure.unit if measure is not None and measure.formula and measure.source == "catalogue" else "number"
    if measure is not None and measure.generic and not times_100 and unit == "percent":
        unit = "number"  # the model wrote its own expression without the x100
    if times_100:
        unit = "percent"
    elif wants_percent and unit in ("ratio", "number"):
        expr, unit = f"({expr}) * 100", "percent"
    return unit, expr


def _decimals(op: Operand, scale: float) -> int:
    """Decimals an operand carries in the computation's scale ("4.1" billion in millions: 0)."""
    if op.number.percent or op.block == QUESTION or op.number.scale == scale:
        return op.number.decimals
    return max(0, op.number.decimals - round(math.log10(op.number.scale / scale)))


def _shape(expr: str) -> str:
    """An expression's structure with names blanked and avg/sum arguments collapsed."""
    import ast

    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("avg", "mean", "sum"):
            node.args = node.args[:1]
        elif isinstance(node, ast.Name):
            node.id = "_"
    return ast.dump(tree)


def _same_shape(a: str, b: str) -> bool:
    try:
        return _shape(a) == _shape(b)
    except SyntaxError:
        return False


def from_output(data: dict[str, Any], blocks: list[Block], question: str, measure: Measure | None) -> Computed:
    """The model's structured output -> a checked, computed answer (ComputeError if not)."""
    operands, expr = check_operands(data, blocks, question, measure)
    adopt_stated_scale(operands, {b.n: b for b in blocks})
    scale, converted = common_scale(operands)
    decimals, wants_percent = rounding_asked(question)
    unit, expr = _unit(measure, expr, wants_percent)
    dim = result_dimension(expr, operands)
    if dim not in (0, 1) and scale != 1.0:
        # A product of amounts or a mix: compute in whole units, where every form is right.
        for o in operands:
            if _scaled(o):
                o.value = _times(o.number.value, o.number.scale)
        scale, converted = 1.0, True
    elif dim == 0:
        scale, converted = 1.0, False  # a ratio of amounts has no scale left
    try:
        result = evaluate(expr, {o.name: o.value for o in operands})
    except ArithError as e:
        raise ComputeError(f"expression {expr!r}: {e}") from None
    asked = scale_asked(question)
    if asked and unit in ("currency", "number") and scale != 1.0:
        result, scale = result * scale / asked, asked
    if decimals is None:
        plain = not re.search(r"[/]|avg|mean|pow", expr)
        decimals = max((_decimals(o, scale) for o in operands), default=0) if plain and unit in ("currency", "number") \
            else default_decimals(unit)
    warnings = [f"{o.name}: the row does not name it ({o.raw} in block [{o.block}])"
                for o in operands if not o.row_match]
    warnings += [f"{o.name}: {o.raw} is not under the year its name gives" for o in operands if not o.column_ok]
    seen: dict[tuple[int, str], str] = {}
    for o in operands:
        if (o.block, o.raw) in seen and o.block != QUESTION:
            warnings.append(f"{o.name} and {seen[(o.block, o.raw)]} are the same figure {o.raw} in block [{o.block}]")
        seen.setdefault((o.block, o.raw), o.name)
    name = measure.name if measure is not None and measure.name != "result" else None
    if measure is not None and measure.generic and not _same_shape(expr, measure.formula or ""):
        name = None  # "Difference = ..." over an expression that is not a difference would mislead
    labels = {k: v[0] for k, v in measure.operands.items() if v} if measure is not None and \
        measure.source == "question" else {}
    c = Computed("", operands, expr, result, not warnings, name, unit, scale, decimals, warnings, labels=labels)
    c.text = render(c, converted)
    return c


def compute(backend: Backend, system: str, blocks: list[Block], question: str,
            catalogue: Catalogue | None = None) -> Computed | None:
    """One structured call and the checks above; None when the text path should answer."""
    if not blocks:
        return None
    from answer.backends import BackendError

    measure = find_measure(question, catalogue)
    blocks = focus(blocks, question, measure)
    grid = from_grid(blocks, question, measure, from_output)
    if grid is not None:
        return grid  # every operand a cell of a row that names it: no model call
    prompt = backend.prompt(compute_messages(system, blocks, question, measure))
    try:
        data = backend.complete_json(prompt, schema(blocks, question, measure), MAX_TOKENS)
        c = from_output(data, blocks, question, measure)
    except (BackendError, ComputeError) as e:
        log.info("computed answer not used: %s", e)
        return None
    c.prompt = prompt
    return c
