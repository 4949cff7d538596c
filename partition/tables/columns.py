"""Columns from the whitespace between aligned segments, and lines -> cells.

Column gutters are x ranges that (almost) no body segment covers. A header segment that
crosses a gutter becomes a spanning cell ("Actual" over four year columns); stacked
header lines over the same columns merge into one cell ("Year ended" / "December 31").
"""

from __future__ import annotations

from collections.abc import Sequence

from folio.table_grid import Cell
from partition.tables.words import Line, Seg, group_lines, is_number, is_value

Interval = tuple[float, float]


def find_columns(body: Sequence[Line], min_gap: float = 2.0) -> list[Interval]:
    """Column x ranges from the body lines' segments.

    A slot counts as gutter when at most ~8% of the body lines cover it, so one stray
    wide cell does not fuse two columns (it becomes a span instead).
    """
    segs = [s for ln in body for s in ln.segs]
    if not segs:
        return []
    x0 = int(min(s.x0 for s in segs))
    x1 = int(max(s.x1 for s in segs)) + 1
    cover = [0] * (x1 - x0 + 1)
    for ln in body:
        seen = [False] * len(cover)
        for s in ln.segs:
            for x in range(int(s.x0) - x0, int(s.x1) - x0 + 1):
                seen[x] = True
        for i, v in enumerate(seen):
            cover[i] += v
    allow = max(0, int(0.08 * len(body)))
    cols: list[Interval] = []
    start: int | None = None
    gap = 0
    for i, c in enumerate(cover):
        if c > allow:
            if start is None:
                start = i
            elif gap >= min_gap:
                cols.append((start + x0, i - gap + x0))
                start = i
            gap = 0
        elif start is not None:
            gap += 1
    if start is not None:
        cols.append((start + x0, len(cover) - gap + x0))
    return cols


def span_of(seg: Seg, cols: Sequence[Interval]) -> tuple[int, int] | None:
    """(first, last) column a segment covers; by overlap, else the nearest column."""
    hit = [i for i, (a, b) in enumerate(cols) if min(b, seg.x1) - max(a, seg.x0) > 0.3 * min(b - a, seg.x1 - seg.x0)]
    if len(hit) > 1 and is_number(seg.text):
        # numbers are right-aligned: a "$" set apart widens a value, not its column span
        right = [i for i in hit if cols[i][0] <= seg.x1 <= cols[i][1] + 2]
        if right:
            return right[-1], right[-1]
    if hit:
        return hit[0], hit[-1]
    if not cols:
        return None
    mid = (seg.x0 + seg.x1) / 2
    best = min(range(len(cols)), key=lambda i: abs((cols[i][0] + cols[i][1]) / 2 - mid))
    return best, best


def header_span(seg: Seg, cols: Sequence[Interval]) -> tuple[int, int] | None:
    """Columns of a heading: headings are centred over the columns they group, so pick
    the run of touched columns whose centre is nearest the heading's centre."""
    touched = [i for i, (a, b) in enumerate(cols) if min(b, seg.x1) - max(a, seg.x0) > 0]
    if len(touched) < 2:
        return span_of(seg, cols)
    mid = (seg.x0 + seg.x1) / 2
    best = min(
        ((i, j) for i in touched for j in touched if j >= i),
        key=lambda ij: (abs((cols[ij[0]][0] + cols[ij[1]][1]) / 2 - mid), ij[1] - ij[0]),
    )
    return best


def _join_text(parts: Sequence[Seg]) -> str:
    """Pieces of one cell in reading order: stacked lines top to bottom."""
    out = ""
    for ln in group_lines(parts):
        t = ln.text
        out = t if not out else (out + t if out.endswith("/") else f"{out} {t}")
    return out


Row = dict[int, tuple[int, str]]  # first column -> (last column, text)


def line_cells(line: Line, cols: Sequence[Interval], header: bool = False) -> Row:
    """One line's cells; pieces whose columns overlap (two phrases in one cell) join."""
    items: list[tuple[int, int, list[Seg]]] = []
    for s in line.segs:
        sp = header_span(s, cols) if header else span_of(s, cols)
        if sp is None:
            continue
        a, b = sp
        if items and a <= items[-1][1]:
            pa, pb, parts = items[-1]
            items[-1] = (pa, max(pb, b), [*parts, s])
        else:
            items.append((a, b, [s]))
    if header:
        items = _widen_group_headings(items, cols)
    return {a: (b, _join_text(parts)) for a, b, parts in items}


def _widen_group_headings(
    items: list[tuple[int, int, list[Seg]]], cols: Sequence[Interval]
) -> list[tuple[int, int, list[Seg]]]:
    """A group heading ("Retrieval Accuracy") is often narrower than the columns it
    groups: widen a spanning heading by one column each side while those columns are
    free in its row and the heading stays centred over the range."""
    out = []
    for i, (a, b, parts) in enumerate(items):
        if b > a:
            lo = items[i - 1][1] + 1 if i > 0 else 0
            hi = items[i + 1][0] - 1 if i + 1 < len(items) else len(cols) - 1
            mid = sum((s.x0 + s.x1) / 2 for s in parts) / len(parts)
            while a - 1 >= lo and b + 1 <= hi:
                centre = (cols[a - 1][0] + cols[b + 1][1]) / 2
                if abs(centre - mid) > 0.1 * (cols[b + 1][1] - cols[a - 1][0]):
                    break
                a, b = a - 1, b + 1
        out.append((a, b, parts))
    return out


def _merge_continuations(rows: list[Row], body: Sequence[Line]) -> tuple[list[Row], list[tuple[float, float]]]:
    """Rows that are one logical row in the source, with each row's y range:

    - a label wrapped onto a second line (label-only line, next line starts lower case);
    - a second line of value cells (no label, no numbers) under a data row: stacked text.
    """
    out: list[Row] = []
    ys: list[tuple[float, float]] = []
    prev_data = False
    for r, ln in zip(rows, body):
        is_data = ln.is_data()
        if out and set(out[-1]) == {0} and 0 in r:
            first, prev = r[0][1], out[-1][0][1]
            if first[:1].islower() and not prev.rstrip().endswith(":"):
                out[-1] = {**r, 0: (r[0][0], f"{prev} {first}")}
                ys[-1] = (ys[-1][0], ln.y1)
                prev_data = is_data
                continue
        if out and prev_data and not is_data and 0 not in r:
            last = dict(out[-1])
            for k, (kb, text) in r.items():
                last[k] = (max(kb, last[k][0]), f"{last[k][1]} {text}") if k in last else (kb, text)
            out[-1] = last
            ys[-1] = (ys[-1][0], ln.y1)
            continue
        out.append(r)
        ys.append((ln.y0, ln.y1))
        prev_data = is_data
    return out, ys


def _centred_labels(rows: list[Row], ys: list[tuple[float, float]]) -> tuple[list[Row], dict[int, int]]:
    """A label set vertically between two unlabelled rows ("DP" beside NLL / Triplet)
    labels both: it becomes a two-row cell. Returns rows and {row: row_span} of col 0."""
    out: list[Row] = []
    spans: dict[int, int] = {}
    i = 0
    while i < len(rows):
        r = rows[i]
        if (
            out
            and i + 1 < len(rows)
            and set(r) == {0}
            and r[0][0] == 0
            and 0 not in out[-1]
            and 0 not in rows[i + 1]
            and ys[i - 1][1] - 1 <= (ys[i][0] + ys[i][1]) / 2 <= ys[i + 1][0] + 1
        ):
            out[-1] = {0: r[0], **out[-1]}
            spans[len(out) - 1] = 2
            out.append(dict(rows[i + 1]))
            i += 2
            continue
        out.append(r)
        i += 1
    return out, spans


def _merge_stacked_headers(rows: list[Row], lines: Sequence[Line]) -> list[Row]:
    """Header lines stacked tight over the same single columns are one header cell each
    ("Year ended" / "December 31," or a two-line heading under a one-line one)."""
    out: list[Row] = []
    for i, r in enumerate(rows):
        if out:
            prev = out[-1]
            single = all(v[0] == k for k, v in prev.items()) and all(v[0] == k for k, v in r.items())
            tight = lines[i].y0 - lines[i - 1].y1 < 0.5 * min(
                lines[i].y1 - lines[i].y0, lines[i - 1].y1 - lines[i - 1].y0
            )
            if single and tight and (set(prev) <= set(r) or set(r) <= set(prev)):
                keys = sorted(set(prev) | set(r))
                out[-1] = {k: (k, " ".join(x[k][1] for x in (prev, r) if k in x).replace("/ ", "/")) for k in keys}
                continue
        out.append(r)
    return out


def build_cells(header: Sequence[Line], body: Sequence[Line], cols: Sequence[Interval]) -> list[Cell]:
    """Header and body lines -> cells with column spans, header flags and row spans for
    header cells with nothing above them (a label column heading). Every grid slot gets
    a cell, so HTML renders each value in its own column."""
    head_rows = _merge_stacked_headers([line_cells(ln, cols, header=True) for ln in header], header)
    body_rows, ys = _merge_continuations([line_cells(ln, cols) for ln in body], body)
    body_rows, label_spans = _centred_labels(body_rows, ys)
    cells: list[Cell] = []
    nh = len(head_rows)
    covered: set[tuple[int, int]] = set()
    for r, row in enumerate(head_rows):
        for a, (b, text) in sorted(row.items()):
            cells.append(Cell(r, a, text.strip(), col_span=b - a + 1, header=True))
            covered.update((r, k) for k in range(a, b + 1))
    # A heading in the last header row with empty slots above it spans those rows.
    if nh > 1:
        for c in cells:
            if c.row != nh - 1:
                continue
            cols_c = range(c.col, c.col + c.col_span)
            top = c.row
            while top > 0 and not any((top - 1, k) in covered for k in cols_c):
                top -= 1
            if top < c.row:
                c.row_span += c.row - top
                c.row = top
        # ... and a heading with only empty header slots below it spans down to the body.
        covered = {
            (r, k) for c in cells for r in range(c.row, c.row + c.row_span) for k in range(c.col, c.col + c.col_span)
        }
        for c in cells:
            cols_c = range(c.col, c.col + c.col_span)
            while c.row + c.row_span < nh and not any((c.row + c.row_span, k) in covered for k in cols_c):
                covered.update((c.row + c.row_span, k) for k in cols_c)
                c.row_span += 1
    for i, row in enumerate(body_rows):
        for a, (b, text) in sorted(row.items()):
            span = label_spans.get(i, 1) if a == 0 else 1
            cells.append(Cell(nh + i, a, text.strip(), row_span=span, col_span=b - a + 1))
    return fill_grid(cells, len(cols))


def fill_grid(cells: list[Cell], ncols: int | None = None) -> list[Cell]:
    """Add empty cells for uncovered slots (HTML places cells by order, not by column)."""
    taken: set[tuple[int, int]] = set()
    for c in cells:
        taken.update((r, k) for r in range(c.row, c.row + c.row_span) for k in range(c.col, c.col + c.col_span))
    if not taken:
        return cells
    nrows = max(r for r, _ in taken) + 1
    ncols = ncols or max(k for _, k in taken) + 1
    header_rows = {c.row for c in cells if c.header}
    extra = [Cell(r, k, "", header=r in header_rows) for r in range(nrows) for k in range(ncols) if (r, k) not in taken]
    return sorted(cells + extra, key=lambda c: (c.row, c.col))


def numeric_share(cells: Sequence[Cell]) -> float:
    body = [c for c in cells if not c.header and c.col > 0 and c.text]
    return sum(is_value(c.text) for c in body) / len(body) if body else 0.0
