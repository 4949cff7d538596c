"""DOCX tables (w:tbl) -> table_grid cells, with merged and nested cells.

Spans follow the OOXML grid: ``w:gridBefore`` shifts a row that starts late, ``w:gridSpan``
is a column span, ``w:vMerge="restart"`` opens a vertical merge that following
``w:vMerge`` cells in the same grid column extend. A nested table is rendered to HTML and
kept in its cell's ``inner_html``; its text is returned separately so it can be indexed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docx.oxml.ns import qn

from folio.table_grid import Cell, grid_shape, to_html, to_text

W_P, W_TBL, W_TR, W_TC, W_SDT = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc"), qn("w:sdt")
W_SDT_CONTENT, W_CUSTOM_XML = qn("w:sdtContent"), qn("w:customXml")
W_VAL = qn("w:val")


@dataclass
class DocxTable:
    cells: list[Cell]
    html: str
    text: str  # the grid, then each nested table's text
    nested: list[str] = field(default_factory=list)  # texts of nested tables (any depth)


def content_children(el: Any, wanted: str) -> list[Any]:
    """Children with tag ``wanted``, looking through content controls and custom XML."""
    out: list[Any] = []
    for child in el.iterchildren():
        if child.tag == wanted:
            out.append(child)
        elif child.tag in (W_SDT, W_CUSTOM_XML):
            inner = child.find(W_SDT_CONTENT) if child.tag == W_SDT else child
            if inner is not None:
                out.extend(content_children(inner, wanted))
    return out


def _int_prop(parent: Any, path: str, default: int) -> int:
    el = parent.find(path) if parent is not None else None
    if el is None:
        return default
    try:
        return max(1, int(el.get(W_VAL, default)))
    except ValueError:
        return default


def read_table(tbl: Any, paragraph_text: Any) -> DocxTable:
    """``paragraph_text(p) -> str`` renders one w:p (shared with the body reader)."""
    cells: list[Cell] = []
    nested_texts: list[str] = []
    # grid column -> the cell that opened a vertical merge there
    open_merges: dict[int, Cell] = {}
    header_rows_done = False
    for r, tr in enumerate(content_children(tbl, W_TR)):
        tr_pr = tr.find(qn("w:trPr"))
        col = 0
        if tr_pr is not None:
            before = tr_pr.find(qn("w:gridBefore"))
            if before is not None:
                col = _int_prop(tr_pr, qn("w:gridBefore"), 0)
        # Word's "repeat as header row" marks real header rows; without it, none.
        is_header = not header_rows_done and tr_pr is not None and tr_pr.find(qn("w:tblHeader")) is not None
        header_rows_done = header_rows_done or not is_header
        for tc in content_children(tr, W_TC):
            tc_pr = tc.find(qn("w:tcPr"))
            span = _int_prop(tc_pr, qn("w:gridSpan"), 1)
            vmerge = tc_pr.find(qn("w:vMerge")) if tc_pr is not None else None
            if vmerge is not None and vmerge.get(W_VAL, "continue") != "restart" and col in open_merges:
                origin = open_merges[col]
                origin.row_span = r - origin.row + 1
                col += span
                continue
            text, inner = _cell_content(tc, paragraph_text, nested_texts)
            cell = Cell(row=r, col=col, text=text, col_span=span, header=is_header, inner_html=inner)
            cells.append(cell)
            for k in range(col, col + span):
                open_merges.pop(k, None)
            if vmerge is not None:
                open_merges[col] = cell
            col += span
    cells = fill_gaps(cells)
    text = to_text(cells)
    for i, nested in enumerate(nested_texts, 1):
        text += f"\n[nested table {i}]\n{nested}"
    return DocxTable(cells=cells, html=to_html(cells), text=text, nested=nested_texts)


def fill_gaps(cells: list[Cell]) -> list[Cell]:
    """Add empty cells where a row starts late or ends early.

    HTML has no column positions: without placeholders a reader puts the first cell of
    a row that starts late (w:gridBefore) into column 0.
    """
    rows, cols = grid_shape(cells)
    covered = {
        (r, k) for c in cells for r in range(c.row, c.row + c.row_span) for k in range(c.col, c.col + c.col_span)
    }
    fillers = [Cell(row=r, col=k, text="") for r in range(rows) for k in range(cols) if (r, k) not in covered]
    return cells + fillers if fillers else cells


def _cell_content(tc: Any, paragraph_text: Any, nested_texts: list[str]) -> tuple[str, str | None]:
    paragraphs: list[str] = []
    inner: list[str] = []
    for child in tc.iterchildren():
        if child.tag == W_P:
            paragraphs.append(paragraph_text(child))
        elif child.tag == W_TBL:
            nested = read_table(child, paragraph_text)
            inner.append(nested.html)
            nested_texts.append(to_text(nested.cells))
            nested_texts.extend(nested.nested)
        elif child.tag in (W_SDT, W_CUSTOM_XML):
            paragraphs.extend(paragraph_text(p) for p in content_children(child, W_P))
    return "\n".join(paragraphs).strip("\n"), "".join(inner) or None
