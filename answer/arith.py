"""A safe evaluator for the one arithmetic expression a computed answer uses.

The expression comes from a model that read untrusted documents, so it is parsed with
``ast`` and only a white-list of nodes is walked: numbers, operand names, + - * /, unary
minus and plus, parentheses and a few named functions. No attribute access, subscripts,
comprehensions, keywords, strings or ``**`` (a power of a huge number would hang the
process); ``pow`` is offered with a bounded exponent because CAGR needs a root. Python's
``eval`` is never used.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping

from folio.errors import FolioError

MAX_CHARS = 400
MAX_NODES = 120
MAX_ARGS = 24
MAX_EXPONENT = 100.0  # a growth rate over a century is the most any question needs


class ArithError(FolioError, ValueError):
    """The expression cannot be evaluated; the message says why, in words a log reader follows."""


def _avg(*xs: float) -> float:
    if not xs:
        raise ArithError("avg() needs at least one value")
    return sum(xs) / len(xs)


def _pow(base: float, exp: float) -> float:
    if abs(exp) > MAX_EXPONENT:
        raise ArithError(f"pow(): exponent {exp:g} is larger than {MAX_EXPONENT:g}")
    if base < 0 and not float(exp).is_integer():
        raise ArithError("pow(): a fractional power of a negative number")
    if base == 0 and exp < 0:
        raise ArithError("division by zero in pow()")
    return float(base) ** float(exp)


def _sum(*xs: float) -> float:
    return math.fsum(xs)


FUNCTIONS: dict[str, Callable[..., float]] = {
    "avg": _avg, "mean": _avg, "abs": lambda x: abs(x), "min": lambda *x: min(x), "max": lambda *x: max(x),
    "sum": _sum, "pow": _pow,
}
_ARITY = {"abs": (1, 1), "pow": (2, 2)}
_BINOPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def names(expression: str) -> set[str]:
    """The operand names an expression uses (function names left out). ArithError when it
    does not parse."""
    tree = _parse(expression)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def validate(expression: str) -> set[str]:
    """Check an expression's form without values (a catalogue formula at load time): the
    names it uses, or ArithError for anything the evaluator would refuse."""
    used = names(expression)
    probe = {n: 2.0 + i * 0.37 for i, n in enumerate(sorted(used))}  # distinct, non-zero
    try:
        evaluate(expression, probe)
    except ArithError as e:
        if "division by zero" not in str(e) and "finite" not in str(e):
            raise
    return used


def _parse(expression: str) -> ast.Expression:
    if not isinstance(expression, str) or not expression.strip():
        raise ArithError("empty expression")
    if len(expression) > MAX_CHARS:
        raise ArithError(f"expression too long ({len(expression)} characters, at most {MAX_CHARS})")
    # Statements print "×", "÷" and "−"; the model sometimes copies them.
    text = expression.replace("×", "*").replace("÷", "/").replace("\u2212", "-").strip()
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as e:
        why = e.msg if isinstance(e, SyntaxError) else str(e)
        raise ArithError(f"not an arithmetic expression: {expression!r} ({why})") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ArithError(f"expression too complex ({count} parts, at most {MAX_NODES})")
    return tree


def evaluate(expression: str, operands: Mapping[str, float]) -> float:
    """The value of ``expression`` with ``operands`` substituted for its names.

    ArithError for an unknown name, a disallowed construct, division by zero, or a result
    that is not a finite number."""
    tree = _parse(expression)
    vals = {str(k): float(v) for k, v in operands.items()}
    for k, v in vals.items():
        if not math.isfinite(v):
            raise ArithError(f"operand {k!r} is not a finite number")
    result = _eval(tree.body, vals)
    if not math.isfinite(result):
        raise ArithError("the result is not a finite number")
    return result


def _eval(node: ast.AST, vals: dict[str, float]) -> float:
    if isinstance(node, ast.Constant):
        # bool is an int subclass: True/False are not numbers here.
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ArithError(f"only numbers are allowed, not {node.value!r}")
        try:
            v = float(node.value)
        except OverflowError:
            raise ArithError("a number in the expression is too large") from None
        if not math.isfinite(v):
            raise ArithError("a number in the expression is not finite")
        return v
    if isinstance(node, ast.Name):
        if node.id not in vals:
            known = ", ".join(sorted(vals)) or "none"
            raise ArithError(f"unknown name {node.id!r} (operands: {known})")
        return vals[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, vals)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _eval(node.left, vals), _eval(node.right, vals)
        if isinstance(node.op, ast.Div) and b == 0:
            raise ArithError("division by zero")
        r = _BINOPS[type(node.op)](a, b)
        if not math.isfinite(r):
            raise ArithError("the result overflows")
        return r
    if isinstance(node, ast.Call):
        return _call(node, vals)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        raise ArithError("'**' is not allowed; use pow(x, y)")
    raise ArithError(f"not allowed in an expression: {type(node).__name__}")


def _call(node: ast.Call, vals: dict[str, float]) -> float:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        what = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
        raise ArithError(f"function {what!r} is not allowed (allowed: {', '.join(sorted(FUNCTIONS))})")
    if node.keywords:
        raise ArithError(f"{node.func.id}(): keyword arguments are not allowed")
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise ArithError(f"{node.func.id}(): starred arguments are not allowed")
    name = node.func.id
    lo, hi = _ARITY.get(name, (1, MAX_ARGS))
    if not lo <= len(node.args) <= hi:
        raise ArithError(f"{name}() takes {lo if lo == hi else f'{lo} to {hi}'} argument(s), got {len(node.args)}")
    args = [_eval(a, vals) for a in node.args]
    try:
        r = float(FUNCTIONS[name](*args))
    except OverflowError:
        raise ArithError(f"{name}(): the result overflows") from None
    if not math.isfinite(r):
        raise ArithError(f"{name}(): the result is not a finite number")
    return r


def is_name(text: str) -> bool:
    """Whether ``text`` can stand for an operand in an expression (and is no function)."""
    return bool(_NAME_RE.fullmatch(text)) and text not in FUNCTIONS
