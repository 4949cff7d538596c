"""What a table summary may state, computed from the table's grid (no model).

A small model asked to "give the key figures" reads a grid badly: it calls the wrong row
the highest, a "Total" row a place, and stops mid-list. Here code works out the facts --
what the rows and columns are, units and periods, the table's own total rows, the largest
and smallest value of each numeric column, the biggest rise and fall between two periods
-- and the model only phrases them. Every figure in a fact is a cell as printed; the only
other numbers are the counts of rows and columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from folio.numbers import Number, find_numbers, parse_number, scale_from_context

_TOTAL_RE = re.compile(r"\b(?:total|totals|sum|overall|gesamt|insgesamt|grand total)\b", re.IGNORECASE)
_MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|" \
    "oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
_PERIODS = ["(?:19|20)\\d{2}", "FY\\s?\\d{2,4}", "[QH][1-4]", "(?:first|second|third|fourth) quarter", _MONTHS,
            "months ended", "year ended", "quarter"]
_PERIOD_RE = re.compile(rf"\b(?:{'|'.join(_PERIODS)})\b", re.IGNORECASE)
_YEAR_RE = re.compile(r"\b(?:19|20)\d{2}\b")
_CURRENCIES = (("$", "dollars"), ("€", "euros"), ("EUR", "euros"), ("USD", "dollars"), ("£", "pounds"),
               ("GBP", "pounds"), ("CHF", "Swiss francs"), ("¥", "yen"))
_SCALE_WORD = {1e3: "thousands", 1e6: "millions", 1e9: "billions", 1e12: "trillions"}
MAX_LABELS = 4  # row labels named in the shape fact (it is phrased before any figure: keep it short)
MAX_COLUMNS = 6  # columns named, and columns given extremes
MAX_LABEL_CHARS = 60


@dataclass(frozen=True)
class Fact:
    text: str
    kind: str  # subject | shape | units | periods | total | extreme | change


@dataclass
class Grid:
    """A table as the checks and facts read it: column names, row labels, numbers."""

    title: str
    columns: list[str]
    labels: list[str]  # one per body row ("" when the row has none)
    body: list[list[str]]
    numbers: dict[int, dict[int, Number]] = field(default_factory=dict)  # column -> body row -> number
    totals: set[int] = field(default_factory=set)  # body rows that are the table's own totals

    @property
    def counts(self) -> set[float]:
        """Numbers a summary may say that are not cells: how many rows and columns."""
        return {float(len(self.body)), float(len(self.columns)), float(len(self.body) + 1)}

    def extremes(self, col: int, with_totals: bool = False) -> tuple[list[int], list[int]]:
        """(rows holding the largest value, rows holding the smallest) of a numeric column."""
        vals = {r: n.value for r, n in self.numbers.get(col, {}).items() if with_totals or r not in self.totals}
        if len(vals) < 2:
            return [], []
        hi, lo = max(vals.values()), min(vals.values())
        return [r for r, v in vals.items() if v == hi], [r for r, v in vals.items() if v == lo]

    def period_columns(self) -> list[int]:
        return [j for j in sorted(self.numbers) if _PERIOD_RE.search(self.columns[j])]

    def period_pair(self) -> tuple[int, int] | None:
        """(older, newer) of the first two period columns (10-Ks put the newest year first)."""
        periods = self.period_columns()
        if len(periods) < 2:
            return None
        a, b = periods[:2]
        ya, yb = _YEAR_RE.findall(self.columns[a]), _YEAR_RE.findall(self.columns[b])
        return (b, a) if ya and yb and ya[0] > yb[0] else (a, b)

    def top_moves(self, rise: bool) -> list[int]:
        """Rows with the biggest rise (or fall) between the period pair, relative first,
        then absolute (a sentence may mean either); [] when nothing moved that way."""
        pair = self.period_pair()
        if pair is None:
            return []
        old, new = pair
        moves = []
        for r, n_new in self.numbers[new].items():
            n_old = self.numbers[old].get(r)
            if n_old is None or r in self.totals or n_old.value == 0 or n_new.percent != n_old.percent:
                continue
            d = (n_new.value - n_old.value) * (1 if rise else -1)
            if d > 0:
                moves.append((d / abs(n_old.value), d, r))
        if not moves:
            return []
        by_rel, by_abs = max(moves)[2], max(moves, key=lambda m: m[1])[2]
        return list(dict.fromkeys((by_rel, by_abs)))


def _clip(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    t = " ".join(text.split())
    # cut at a word: "20…" of a cut "2023" would read as a figure
    return t if len(t) <= limit else t[:limit].rsplit(" ", 1)[0].rstrip() + " …"


def read_grid(rows: list[list[str]] | tuple[tuple[str, ...], ...], n_header: int, title: str = "") -> Grid:
    rows = [[" ".join(c.split()) for c in r] for r in rows]
    width = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (width - len(r)) for r in rows]
    head, body = rows[:n_header], [r for r in rows[n_header:] if any(c for c in r)]
    columns = []
    for j in range(width):
        parts = list(dict.fromkeys(h[j] for h in head if h[j]))
        columns.append(" ".join(parts) or f"column {j + 1}")
    numbers: dict[int, dict[int, Number]] = {}
    for j in range(width):
        col = {i: n for i, r in enumerate(body) if (n := parse_number(r[j], title)) is not None}
        filled = sum(1 for r in body if r[j])
        if len(col) >= 2 and len(col) * 2 >= filled:
            numbers[j] = col
    label_col = next((j for j in range(width) if j not in numbers), None)
    labels = [_clip(r[label_col]) if label_col is not None else "" for r in body]
    totals = {i for i, lab in enumerate(labels) if lab and _TOTAL_RE.search(lab)}
    return Grid(title, columns, labels, body, numbers, totals)


def _column(grid: Grid, j: int) -> str:
    """A column's name as a fact says it: no sentence punctuation ("PFIZER INC. AND ...")
    and no figures of a garbled header (then "column 3"), so the check reads it as one
    name, not as claims."""
    name = _clip(re.sub(r"[.!?;:]", "", grid.columns[j]))
    return f"column {j + 1}" if any(not _YEAR_RE.fullmatch(n.raw) for n in find_numbers(name)) else name


def _names(rows: list[int], grid: Grid) -> str:
    return " and ".join(grid.labels[r] or f"row {r + 1}" for r in rows[:3])


def _units(grid: Grid) -> str:
    head = " ".join([grid.title, *grid.columns])
    cells = " ".join(c for r in grid.body for c in r)
    scale = scale_from_context(head)
    money = next((word for sym, word in _CURRENCIES if sym in head or sym in cells), "")
    parts = [p for p in (_SCALE_WORD.get(scale, ""), "of " + money if money and scale != 1.0 else money) if p]
    percent = [grid.columns[j] for j, col in grid.numbers.items() if any(n.percent for n in col.values())]
    out = ""
    if parts:
        out = f"Amounts are in {' '.join(parts)}."
    if percent:
        out += (" " if out else "") + f"{', '.join(percent[:3])} {'is' if len(percent) == 1 else 'are'} in percent."
    return out


def _change(grid: Grid) -> list[Fact]:
    """The biggest relative rise and fall between the first two period columns."""
    pair = grid.period_pair()
    if pair is None:
        return []
    old, new = pair
    out = []
    for verb, rows in (("rose", grid.top_moves(True)), ("fell", grid.top_moves(False))):
        if rows and len(grid.numbers[new]) > 2 and grid.labels[rows[0]]:
            r = rows[0]
            out.append(Fact(f"From {_column(grid, old)} to {_column(grid, new)}, {_names([r], grid)} "
                            f"{verb} the most: from {grid.numbers[old][r].raw} to {grid.numbers[new][r].raw}.",
                            "change"))
    return out


def table_facts(grid: Grid) -> list[Fact]:
    """The facts in the order a summary should state them (most useful first)."""
    facts: list[Fact] = []
    if grid.title:
        # the caption, else the innermost section ("PART II > Item 8. ... — Net sales by segment")
        subject = grid.title.rsplit(" — ", 1)[-1].rsplit(" > ", 1)[-1]
        facts.append(Fact(f"The table shows {_clip(subject)}.", "subject"))
    shown = [_clip(lab, MAX_LABEL_CHARS // 2) for lab in grid.labels if lab][:MAX_LABELS]
    rows = f"{len(grid.body)} rows" + (f" ({', '.join(shown)}{', …' if len(grid.body) > len(shown) else ''})"
                                        if shown else "")
    cols = ", ".join(_clip(c, MAX_LABEL_CHARS // 2) for c in grid.columns[:MAX_COLUMNS])
    cols += ", …" if len(grid.columns) > MAX_COLUMNS else ""
    facts.append(Fact(f"It has {rows} and {len(grid.columns)} columns: {cols}.", "shape"))
    if units := _units(grid):
        facts.append(Fact(units, "units"))
    periods = grid.period_columns()
    if len(periods) >= 2:
        facts.append(Fact(f"It compares {', '.join(_column(grid, j) for j in periods[:MAX_COLUMNS])}.",
                          "periods"))
    numeric = sorted(grid.numbers)[:MAX_COLUMNS]
    for r in sorted(grid.totals)[:2]:
        vals = [f"{_column(grid, j)} {grid.numbers[j][r].raw}" for j in numeric if r in grid.numbers[j]]
        if vals:
            facts.append(Fact(f"The {grid.labels[r]} row gives {', '.join(vals[:4])}.", "total"))
    for j in numeric:
        hi, lo = grid.extremes(j)
        col = grid.numbers[j]
        if not hi or not grid.labels[hi[0]] or col[hi[0]].value == col[lo[0]].value:
            continue
        facts.append(Fact(f"The largest value in {_column(grid, j)} is {col[hi[0]].raw} ({_names(hi, grid)}); "
                          f"the smallest is {col[lo[0]].raw} ({_names(lo, grid)}).", "extreme"))
    facts.extend(_change(grid))
    return facts


def facts_text(facts: list[Fact], max_chars: int = 700) -> str:
    """The facts in plain words: the summary stored when the model's phrasing fails the checks."""
    out: list[str] = []
    for f in facts:
        if out and sum(len(t) + 1 for t in out) + len(f.text) > max_chars:
            break
        out.append(f.text)
    return " ".join(out)
