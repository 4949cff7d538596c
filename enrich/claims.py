"""Checks a model's summary or caption against its source before it is stored.

- Every figure must be a number of the source (a table's cells, title and header; a
  picture's OCR text and context), read as numbers ("1.234,5" is "1,234.5"); a table
  summary may also say how many rows and columns it has.
- Every superlative ("the highest", "the smallest", "the most") must name the row or the
  value that really is the extreme of a column; "rose the most" / "the biggest drop" must
  name the row that moved most between the table's two periods.
- A text cut by the token limit loses its unfinished last sentence: a summary never stops
  mid-sentence ("The key figures are as follows: - Total revenue for Q1:").
"""

from __future__ import annotations

import re

from enrich.table_facts import Grid
from folio.numbers import find_numbers, holds, is_figure, number_values

_HIGH = ("highest", "largest", "biggest", "greatest", "maximum", "most", "top", "peak", "best", "leading")
_LOW = ("lowest", "smallest", "least", "fewest", "minimum", "bottom", "worst")
# "most", "top" and the like only with "the": "most of the rows" claims no extreme
_ALONE = ("highest", "largest", "biggest", "greatest", "maximum", "peak", "lowest", "smallest", "fewest", "minimum")
_WITH_THE = ("most", "least", "top", "bottom", "best", "worst", "leading")
_SUPERLATIVE_RE = re.compile(rf"\b(?:(?:the\s+)?(?:{'|'.join(_ALONE)})|the\s+(?:{'|'.join(_WITH_THE)}))\b", re.I)
_RISE, _FALL = r"rose|grew|increased|gained|climbed|jumped", r"fell|dropped|declined|decreased|shrank|slipped"
_MOVE_NOUNS = ("rise", "increase", "growth", "gain", "jump", "fall", "drop", "decline", "decrease")
_BIG = ("biggest", "largest", "greatest", "highest", "strongest", "sharpest", "steepest")
_CHANGE_RE = re.compile(rf"\b(?P<verb>{_RISE}|{_FALL})\b[^.;:]*?\bthe\s+most\b"
                        rf"|\b(?:{'|'.join(_BIG)})\s+(?P<noun>{'|'.join(_MOVE_NOUNS)})\b", re.I)
_PLACE_RE = re.compile(r"\b(?:column|row)\s+\d+\b", re.IGNORECASE)
_NOT_NAMES = {"column", "with", "from", "than", "ended", "year", "years", "months", "period", "total"}
_END_RE = re.compile(r'[.!?]["\')\]]*$')
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?![a-z0-9])")  # "Non-U.S. equities", "2022 vs. 2021": one sentence


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_RE.split(" ".join(text.split())) if s.strip()]


def complete_sentences(text: str) -> str:
    """The text without an unfinished last sentence (cut by the token limit, or a list
    that never came)."""
    parts = sentences(text)
    if parts and not _END_RE.search(parts[-1]):
        parts = parts[:-1]
    return " ".join(parts)


def unknown_figures(text: str, source: str, extra: set[float] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Figures of ``text`` that are no number of ``source`` (nor in ``extra``)."""
    known = number_values(source) | set(extra)
    return [n.raw for n in find_numbers(text) if is_figure(n) and not holds(known, n)]


def _named_rows(scope: str, grid: Grid) -> set[int]:
    """Rows whose label the text names; a label inside a longer named one does not count
    ("Net sales" inside "Net sales growth")."""
    low = scope.lower()
    spans: list[tuple[int, int, int]] = []
    for r, lab in enumerate(grid.labels):
        if lab:
            pattern = rf"(?<!\w){re.escape(lab.lower().rstrip('…'))}(?:e?s|'s)?(?!\w)"
            spans += [(m.start(), m.end(), r) for m in re.finditer(pattern, low)]
    return {r for a, b, r in spans if not any(a2 <= a and b <= b2 and (b2 - a2) > (b - a) for a2, b2, _ in spans)}


def _named_columns(scope: str, grid: Grid) -> list[int]:
    low = scope.lower()
    out = []
    for j in grid.numbers:
        # a word of its name is enough: "the lowest wage" names "Hourly wage (EUR)"
        words = [w for w in re.findall(r"[a-z]{4,}", grid.columns[j].lower()) if w not in _NOT_NAMES]
        if any(re.search(rf"\b{w}", low) for w in words):
            out.append(j)
    return out


def _scope(sentence: str, start: int, claims: list[int], grid: Grid) -> str:
    """The part of the sentence that belongs to the claim at ``start``: from it to the
    next claim (the first claim from the sentence start), or the whole sentence when that
    part names neither a row nor a figure ("... and the Cleaner the lowest")."""
    lo = 0 if start == min(claims) else start
    hi = min((c for c in claims if c > start), default=len(sentence))
    part = sentence[lo:hi]
    if _named_rows(part, grid) or find_numbers(part):
        return part
    return sentence


def _extreme_holds(scope: str, high: bool, grid: Grid) -> bool:
    named = _named_rows(scope, grid)
    figs = find_numbers(scope)  # a single digit too: "the smallest is 4 (Corporate)"
    if not named and not figs:
        return False  # nothing to check it by: a claim the facts cannot back
    # The columns the text names first; any column only when a figure of the text is
    # that column's extreme (it pins the column: "the largest 2022 is $34,229").
    named_cols = _named_columns(scope, grid)
    for cols, need_value in ((named_cols, False), (list(grid.numbers) if figs else [], True)):
        for j in cols:
            col = grid.numbers[j]
            for with_totals in (False, True):
                hi, lo = grid.extremes(j, with_totals)
                rows = hi if high else lo
                if not rows:
                    continue
                best = {abs(col[r].value) for r in rows} | {abs(col[r].amount) for r in rows}
                says_row = bool(named & set(rows))
                says_value = any(holds(best, n) for n in figs)
                other_row = bool(named) and not says_row
                other_value = any(holds({abs(n.value) for n in col.values()}, f) for f in figs) and not says_value
                if (says_value if need_value else says_row or says_value) and not other_row and not other_value:
                    return True
    return False


def _change_holds(scope: str, rise: bool, grid: Grid) -> bool:
    named = _named_rows(scope, grid)
    return bool(named & set(grid.top_moves(rise)))


def unsupported_superlatives(text: str, grid: Grid) -> list[str]:
    """The superlative phrases of ``text`` that the grid does not bear out."""
    out = []
    for s in sentences(text):
        changes = list(_CHANGE_RE.finditer(s))
        # "rose the most", "the biggest rise": a change claim, not an extreme of a column
        extremes = [m for m in _SUPERLATIVE_RE.finditer(s)
                    if not any(c.start() <= m.start() < c.end() for c in changes)]
        starts = [m.start() for m in (*changes, *extremes)]
        for m in changes:
            word = (m.group("verb") or m.group("noun") or "").lower()
            rise = bool(re.fullmatch(_RISE, word)) or word in _MOVE_NOUNS[:5]
            if not _change_holds(_scope(s, m.start(), starts, grid), rise, grid):
                out.append(m.group(0))
        for m in extremes:
            word = m.group(0).lower().split()[-1]
            if not _extreme_holds(_scope(s, m.start(), starts, grid), word in _HIGH and word not in _LOW, grid):
                out.append(m.group(0))
    return out


def summary_problems(text: str, grid: Grid) -> list[str]:
    """Why a table summary may not be stored ([] when every claim checks)."""
    if len(text.strip()) < 3:
        return ["empty"]
    source = "\n".join([grid.title, *grid.columns, *(" | ".join(r) for r in grid.body)])
    # "column 10", "row 18": where, not a figure
    said = _PLACE_RE.sub(" ", text)
    problems = [f"figure {f} is not in the table" for f in unknown_figures(said, source, grid.counts)]
    problems += [f"'{p}' is not what the table shows" for p in unsupported_superlatives(text, grid)]
    return problems
