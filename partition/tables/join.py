"""Tables that run over a page break become one table element.

A statement or a glossary that continues on the next page comes out of page-wise
extraction as two tables; split, the second part loses its title and its context, and a
question about a row on the second page meets a headless fragment. Two tables are one
when the first ends its page, the second starts the next one (nothing between them but a
page number or a "(continued)" line), they have the same number of columns, and the
second repeats the first's header row, which is how printed tables say "continued".
Parallel tables, one per quarter or segment with the same row labels, are not a
continuation. (A table going on without repeating its header, as a glossary does, is
left in parts: nothing tells it from a new table placed at the top of a page.)
Tables whose header changes (the next page continues the columns, not the rows, as in
projection tables "2013-14 ... 2021-22") are left apart: joining their rows would put
numbers under the wrong years.

The joined element keeps the first part's id inputs (page, order) and box; every part's
box is in ``meta["spans"]`` as [page, x0, y0, x1, y1], so chunks and citations cover
both pages.
"""

from __future__ import annotations

import dataclasses
import re

from folio.element import Element, element_id
from folio.table_grid import (
    Cell,
    grid_shape,
    header_rows,
    html_to_cells,
    normalize_cells,
    to_dense,
    to_html,
    to_text,
)

_CONTINUED = re.compile(r"\bcontinued\b|\(cont(?:'d|\.)?\)", re.IGNORECASE)
_TRAILER_WORDS = 12  # a note under a table ("See notes at end of table.") may follow it
_SEPARATOR_WORDS = 3  # a page number or a running "(continued)" between the parts


def join_continued(elements: list[Element]) -> list[Element]:
    """The elements with each continued table merged into its first part (reading order kept;
    a page number or "continued" line between the parts stays where it was)."""
    els = sorted(elements, key=lambda e: e.order)
    for i, e in enumerate(els):
        if e.kind != "table" or e.role == "chart" or not e.html:
            continue
        while (j := _next_part(els, i)) is not None and (merged := _merge(els[i], els[j])) is not None:
            els[i] = merged
            del els[j]
    return els


def _next_part(els: list[Element], i: int) -> int | None:
    """Index of the table that continues ``els[i]`` on the next page, if the layout allows."""
    a = els[i]
    last_page = _last_page(a)
    if last_page is None:
        return None
    j = i + 1
    # what was between the parts already joined (a page number, a "continued" line)
    while j < len(els) and els[j].kind == "text" and (els[j].page or 0) < last_page:
        j += 1
    # the rest of the first part's page: only short notes
    while j < len(els) and els[j].page == last_page:
        if els[j].kind != "text" or len(els[j].text.split()) > _TRAILER_WORDS:
            return None
        j += 1
    # the top of the next page: a page number or a "continued" line at most
    while j < len(els) and els[j].page == last_page + 1 and els[j].kind == "text":
        t = els[j].text
        if len(t.split()) > _SEPARATOR_WORDS and not (_CONTINUED.search(t) and len(t.split()) <= 30):
            return None
        j += 1
    if j < len(els) and els[j].page == last_page + 1 and els[j].kind == "table" and els[j].role != "chart":
        return j
    return None


def _last_page(e: Element) -> int | None:
    spans = e.meta.get("spans")
    if spans:
        return int(spans[-1][0])
    return e.page


def _header(cells: list[Cell]) -> tuple[int, list[str]]:
    """(header rows, their normalised text). Without a marked header (no <th>), the first
    row stands in: equal first rows are a repeated header all the same."""
    n_rows, _ = grid_shape(cells)
    n_head = header_rows(cells, n_rows) or 1
    dense = to_dense(cells)[:n_head]
    norm = [" ".join(_CONTINUED.sub("", " ".join(row)).replace("—", " ").split()).lower() for row in dense]
    return n_head, norm


def _same_rows(ca: list[Cell], cb: list[Cell], n_head_a: int, n_head_b: int) -> bool:
    """Parallel tables (one per quarter, one per segment) repeat their row labels; a
    continuation brings new rows. Half of the second part's labels seen already: parallel."""
    labels_a = {r[0].strip().lower() for r in to_dense(ca)[n_head_a:] if r and r[0].strip()}
    labels_b = [r[0].strip().lower() for r in to_dense(cb)[n_head_b:] if r and r[0].strip()]
    return bool(labels_b) and sum(lb in labels_a for lb in labels_b) * 2 >= len(labels_b)


def _merge(a: Element, b: Element) -> Element | None:
    if not b.html or not a.html:
        return None
    ca, cb = normalize_cells(html_to_cells(a.html)), normalize_cells(html_to_cells(b.html))
    (ra, wa), (rb, wb) = grid_shape(ca), grid_shape(cb)
    if not ca or not cb or wa != wb or rb < 2:
        return None
    head_a, head_b = _header(ca), _header(cb)
    if head_a[1] != head_b[1] or not any(head_a[1]):
        return None
    n_head_b = head_b[0]
    if _same_rows(ca, cb, head_a[0], n_head_b):
        return None
    moved = [dataclasses.replace(c, row=c.row - n_head_b + ra) for c in cb if c.row >= n_head_b]
    cells = [*ca, *moved]
    html = to_html(cells)
    text = to_text(cells)
    first = [[a.page, *a.bbox]] if a.page is not None and a.bbox else []
    spans: list[list[float]] = list(a.meta.get("spans") or first)
    if b.page is not None and b.bbox:
        spans.append([b.page, *b.bbox])
    meta = {**a.meta, "spans": spans, "joined_ids": [*a.meta.get("joined_ids", []), b.id]}
    new_id = element_id(a.doc_sha256, a.page, a.order, "table", html)
    return dataclasses.replace(a, id=new_id, html=html, text=text, meta=meta)
