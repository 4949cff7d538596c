"""Table blocks as records: every value read with its row label and column headers.

A small model reading a linearised grid ("6 | 6 | OTSL | 0.965 | ...") loses its place
and answers with a neighbouring cell. A record repeats the headers with every value,

    Current assets › Inventories · December 31, 2022: 5,372 · December 31, 2021: 4,730

so each line reads on its own, rows can be chosen for the prompt without their
neighbours, and a cell lookup (answer/lookup.py) can name a row and a column by label.

The grid comes from the element's HTML (folio/table_grid.py); header rows are counted as
index/table_context.py counts them for the chunk text, so a chunk's rows map back to
records (``TableView.lines``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from answer.text import content_words, overlap_scores
from folio.element import Element
from folio.table_grid import Cell, grid_shape, header_rows, html_to_cells, normalize_cells, to_dense
from index.table_context import context_line, row_text, units_of

# Texts -> one score per text (cosine similarity to the question from the engine's embedder).
Similarity = Callable[[Sequence[str]], Sequence[float]]

SEP = " · "
NEST = " › "
MAX_STUBS = 3  # leading label columns at most ("# enc-layers | # dec-layers | Language")
SIM_WEIGHT = 2.0  # a cosine of 1.0 counts like two rare shared words
# A number as tables print it: "1,234.5", "(3.2)", "$ 12", "7.5%", "-", "—", with a footnote mark.
_NUMBER_RE = re.compile(r"^[(\[]?[-–—+]?\s*(?:US)?[$€£¥]?\s*[-–—]?\d[\d,.\s]*%?[)\]]?\s*(?:\*+|\([a-z0-9]\))?$")
NIL = frozenset({"-", "–", "—", "n/a", "na", "nm", "n.m.", "*", "x"})
# Rows that conclude a section ("Total current assets", "Net cash provided by ...",
# "Income before income taxes"): not members of the section above them, and its end.
_CLOSES_RE = re.compile(r"^\s*(?:total|subtotal|net\b|(?:income|earnings|loss|profit)\s+before)\b", re.IGNORECASE)
_YEAR_RE = re.compile(r"^(?:19|20)\d\d$")
GROUP_WORDS = 6  # a long section label is cut in the labels it prefixes
SPAN_WORDS = 6  # a spanning column heading is short; a longer first-row text is a title


def is_number(text: str) -> bool:
    t = text.strip()
    return bool(t) and (t.lower() in NIL or bool(_NUMBER_RE.match(t)))


@dataclass
class TableView:
    title: str = ""
    units: str = ""  # "in millions"
    columns: list[str] = field(default_factory=list)  # value columns, stacked headers joined
    rows: list[str] = field(default_factory=list)  # row labels, section prefixed
    cells: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) -> value
    context: str = ""  # the statement context line (index/table_context.py), if any
    label_rows: set[int] = field(default_factory=set)  # rows with no values: section labels
    lines: list[str] = field(default_factory=list)  # each row as the chunk text renders it
    # per column, the heading spread over it from an upper header row ("Fiscal 2024" over
    # four columns): said once per run of columns in a compact record
    groups: list[str] = field(default_factory=list)

    def record(self, r: int, label: str | None = None, compact: bool = True) -> str:
        """``Row label · Column A: v1 · Column B: v2``; empty cells are left out. Compact:
        a heading spread over a run of columns is said at the run's first value only
        ("Fiscal 2024 Stores Opened: 1 · Stores Closed: (1)"), so a wide table's records
        do not spend the prompt on it; a lookup shows the full labels it asks the model
        to copy."""
        label = self.rows[r] if label is None else label
        parts = [label] if label else []
        said = None
        for k, col in enumerate(self.columns):
            v = self.cells.get((r, k), "")
            if not v:
                continue
            group = self.groups[k] if compact and k < len(self.groups) else ""
            shown = col
            if group and group == said and col.startswith(group + " "):
                shown = col[len(group) + 1:]
            said = group or None
            parts.append(f"{shown}: {v}" if shown else v)
        return SEP.join(parts)

    def head(self) -> str:
        """Title and units: what every selection of rows keeps."""
        return SEP.join(p for p in (self.title, self.units) if p)

    def shared_heading(self) -> tuple[str, TableView]:
        """The heading every column starts with ("Year Ended December 31,"), and a view
        whose columns leave it out: said once above the records, not in every value."""
        if len(self.columns) < 2:
            return "", self
        split = [c.split() for c in self.columns]
        n = 0
        while all(len(w) > n + 1 and w[n] == split[0][n] for w in split):
            n += 1
        if n < 2:
            return "", self
        cut = " ".join(split[0][:n])
        groups = [g[len(cut):].strip() if g.startswith(cut) else "" for g in self.groups]
        return cut, replace(self, columns=[" ".join(w[n:]) for w in split], groups=groups)

    def values(self, r: int) -> list[str]:
        return [v for (row, _), v in sorted(self.cells.items()) if row == r and v]

    def select(self, question: str, max_rows: int, max_cols: int, similarity: Similarity | None = None) -> TableView:
        """A view of the rows and columns that best match the question: shared content
        words and figures weighted by rarity (as answer/context.py scores units), plus the
        vector similarity of each row when ``similarity`` is given. Ties keep the earlier
        row or column (the first column of a statement is usually the latest period).
        Title, units and context are kept; label rows are dropped (their text is in the
        labels of the rows they head)."""
        cols = _top(overlap_scores(self.columns, question), max_cols)
        rows = [r for r in range(len(self.rows)) if r not in self.label_rows]
        texts = [" ".join([self.rows[r], *self.values(r)]) for r in rows]
        scores = overlap_scores(texts, question)
        if similarity is not None and texts:
            scores = [s + SIM_WEIGHT * float(v) for s, v in zip(scores, similarity(texts))]
        keep = [rows[i] for i in _top(scores, max_rows)]
        return replace(
            self,
            columns=[self.columns[k] for k in cols],
            groups=[self.groups[k] for k in cols] if self.groups else [],
            rows=[self.rows[r] for r in keep],
            cells={(i, j): self.cells[(r, k)] for i, r in enumerate(keep) for j, k in enumerate(cols)
                   if (r, k) in self.cells},
            label_rows=set(),
            lines=[self.lines[r] for r in keep] if self.lines else [],
        )


# Words that make a line another than the one without them (content_words stems).
_QUALIFIERS = frozenset({"net", "other", "gross", "adjust", "non"})


def named(labels: Sequence[str], words: set[str], strict: bool = False) -> set[int]:
    """Indices of the labels a text names, given its content words: at least half (one at
    the least) of the label's distinctive words, those not in every label (a column's
    "Three months ended June 30" says nothing, its "2023" does). A row's section prefix
    is left out ("Inventories" names "Current assets › Inventories"). ``strict``: two
    thirds of three or more, "total" aside, and none of the words that make it another
    line missing ("Net income" is not named by "statement of income")."""
    # " #2": the numbering of repeated labels is ours (answer/lookup.py), not the document's.
    sets = [content_words(re.sub(r" #\d+$", "", lb.split(NEST)[-1])) for lb in labels]
    common = set.intersection(*sets) if len(sets) > 1 else set()
    out = set()
    for i, ws in enumerate(sets):
        own = (ws - common) or ws
        need = max(1, len(own) // 2)
        if strict:
            # "Late, 14:00-22:00": the words say which line; its figures are a detail.
            own = {w for w in own - {"total"} if not w[0].isdigit()} or own
            need = -(-2 * len(own) // 3) if len(own) >= 3 else 1
            if (own - words) & _QUALIFIERS:
                continue  # "Net income" is a different line than the "income" of a statement's name
        if own and len(own & words) >= need:
            out.add(i)
    return out


def _top(scores: Sequence[float], n: int) -> list[int]:
    best = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[: max(0, n)]
    return sorted(best)


def table_view(el: Element, title: str | None = None) -> TableView:
    """The element's table as records: from its HTML, else from its text lines (cells
    split on " | ", the first line the header)."""
    cells = normalize_cells(html_to_cells(el.html)) if el.html else []
    if not cells:
        cells = _cells_from_lines(el.text.splitlines())
    if title is None:
        title = " ".join(str(el.meta.get("caption_text") or "").split())
    return view_from_cells(cells, title, el.section)


def view_from_lines(lines: Sequence[str], title: str = "") -> TableView:
    """For a table known only as text ("a | b | c" lines, the header first)."""
    return view_from_cells(_cells_from_lines(lines), title)


def _cells_from_lines(lines: Sequence[str]) -> list[Cell]:
    rows = [ln for ln in (" ".join(x.split()) for x in lines) if ln]
    return [Cell(r, k, v.strip(), header=r == 0) for r, ln in enumerate(rows) for k, v in enumerate(ln.split(" | "))]


def view_from_cells(cells: list[Cell], title: str = "", section: tuple[str, ...] = ()) -> TableView:
    n_rows, n_cols = grid_shape(cells)
    if not n_rows:
        return TableView(title=title)
    grid = [[" ".join(v.split()) for v in row] for row in to_dense(cells)]
    # The same header count as the chunk text (index/table_context.py table_rows).
    n_head = header_rows(cells, n_rows) or (1 if n_rows > 1 and not _data_row(grid[0]) else 0)
    cover: dict[tuple[int, int], Cell] = {}
    for c in cells:
        for r in range(c.row, c.row + c.row_span):
            for k in range(c.col, c.col + c.col_span):
                cover[(r, k)] = c
    body = range(n_head, n_rows)
    stubs = _stub_count(grid, cover, body, n_cols)
    spread_spans(grid, cover, n_head, stubs)
    head = [" ".join(dict.fromkeys(grid[r][k] for r in range(n_head) if grid[r][k])) for k in range(n_cols)]
    value_cols = [k for k in range(stubs, n_cols)
                  if head[k] or any(_starts(cover, r, k) and grid[r][k] for r in body)]  # spacer columns go
    upper = [" ".join(dict.fromkeys(grid[r][k] for r in range(n_head - 1) if grid[r][k])) for k in range(n_cols)]
    view = TableView(title=title, columns=[head[k] for k in value_cols],
                     groups=[upper[k] if head[k].startswith(upper[k] + " ") else "" for k in value_cols])
    group = ""  # the label row heading the rows that follow ("Current assets:")
    for r in body:
        labels = [grid[r][k] for k in range(stubs)]
        # A numeric key ("6" under "# enc-layers") means nothing without its header.
        parts = [f"{head[k]} {v}" if _NUMBER_RE.match(v) and head[k] else v
                 for k, v in zip(range(stubs), labels) if v]
        label = SEP.join(dict.fromkeys(parts))
        vals = {j: grid[r][k] for j, k in enumerate(value_cols) if _starts(cover, r, k) and grid[r][k]}
        full_width = cover.get((r, 0)) is not None and cover[(r, 0)].col_span >= n_cols
        if full_width:
            label, vals = grid[r][0], {}
        if not label and not vals:
            continue
        line = row_text(c.text for c in _row_cells(cells, r))
        i = len(view.rows)
        if not vals:
            view.label_rows.add(i)
            view.rows.append(label)
            view.lines.append(line)
            # "(in millions)" in the first rows is the scale, not a section.
            if not (units_of(label) and len(label.split()) <= 6):
                group = label.rstrip(":").strip()
            continue
        closes = bool(_CLOSES_RE.match(label))
        if group and not closes and group.lower() not in label.lower():
            label = f"{_cut(group)}{NEST}{label}" if label else group
        view.rows.append(label)
        view.lines.append(line)
        view.cells.update({(i, j): v for j, v in vals.items()})
        if closes:
            group = ""
    header_lines = [row_text(head[k] for k in range(n_cols))] if n_head else []
    first = " ".join(view.rows[:3])
    view.units = units_of(" ".join([title, *head, first]))
    view.context = context_line(title, header_lines, view.lines, section)
    return view


def spread_spans(grid: list[list[str]], cover: dict[tuple[int, int], Cell], n_head: int, stubs: int) -> None:
    """Give a spanning heading to every column under it, in place.

    A PDF table's grid keeps a heading that spans columns ("Year Ended December 31,"
    over 2015 | 2016 | 2017, "Top-20" over five data sets) in the one cell it sits over,
    and stretches its neighbours' lower headings up into its row; so only that column
    read as "Year Ended December 31, 2016" and the others as bare years. In an upper
    header row, a short heading of that row alone (one cell, not spanned) is taken as a
    span: every value column whose cell in that row is empty or stretched up from below
    takes the nearest such heading (the left one on a tie: spans are written from their
    first column). A header row of headings for every column is left as it is; so is a
    long text, a title over the table rather than a span."""
    n_cols = len(grid[0]) if grid else 0

    def heading(r: int, k: int) -> bool:  # a heading of row r itself, not one stretched up
        c = cover.get((r, k))
        return c is not None and bool(grid[r][k]) and c.row == r and c.row_span == 1

    def own(r: int, k: int) -> bool:
        c = cover[(r, k)] if heading(r, k) else None
        return c is not None and c.col_span == 1 and len(grid[r][k].split()) <= SPAN_WORDS

    # Only columns with no upper heading of their own take one: a column already headed
    # by another span ("Long-Lived Assets" beside "Net Revenue") keeps its heading.
    bare = [k for k in range(stubs, n_cols) if not any(heading(x, k) for x in range(n_head - 1))]
    for r in range(n_head - 1):
        marks = [k for k in range(stubs, n_cols) if own(r, k)]
        rest = [k for k in bare if any(grid[x][k] for x in range(r + 1, n_head))]
        if not marks or not rest:
            continue
        texts = {k: grid[r][k] for k in marks}
        for k in rest:
            near = min(marks, key=lambda m: (abs(m - k), m > k))
            grid[r][k] = texts[near]


def _data_row(row: list[str]) -> bool:
    """A first row with no <th> that holds values, not headings: amounts ("$5,471",
    "(12.5)", "7%") or only placeholders ("-"); years alone are headings."""
    vals = [v for v in row[1:] if v]
    if not row[0] or not vals or not all(map(is_number, vals)):
        return False
    return not any(_YEAR_RE.match(v) for v in vals)


def _cut(text: str, words: int = GROUP_WORDS) -> str:
    w = text.split()
    return text if len(w) <= words else " ".join(w[:words]) + " …"


def _row_cells(cells: list[Cell], r: int) -> list[Cell]:
    return [c for c in cells if c.row <= r < c.row + c.row_span]


def _starts(cover: dict[tuple[int, int], Cell], r: int, k: int) -> bool:
    """A column-spanned value is read once, at its first column; a row-spanned one in
    every row it covers (each record reads on its own)."""
    c = cover.get((r, k))
    return c is not None and c.col == k


def _stub_count(grid: list[list[str]], cover: dict[tuple[int, int], Cell], body: range, n_cols: int) -> int:
    """Leading columns that label rows rather than hold values: the first column, then
    any column that groups rows (row-spanned cells) or holds mostly words while a column
    of numbers follows it."""
    if n_cols < 2:
        return n_cols
    n_body = max(1, len(body))

    def filled(k: int) -> list[str]:
        return [grid[r][k] for r in body if grid[r][k]]

    def numeric(k: int) -> bool:
        vals = filled(k)
        return bool(vals) and sum(map(is_number, vals)) >= len(vals) / 2

    n = 1
    while n < min(MAX_STUBS, n_cols - 1):
        k = n
        grouped = any((c := cover.get((r, k))) is not None and c.row_span > 1 and c.col == k for r in body)
        wordy = len(filled(k)) >= n_body / 2 and not numeric(k) and any(numeric(j) for j in range(k + 1, n_cols))
        if not (grouped or wordy):
            break
        n += 1
    return n
