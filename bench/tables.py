"""Table quality against the dev ground truth (ICDAR 2013 measures), Folio vs PyMuPDF.

    nice python3 bench/tables.py                 # quality: per table, means by format
    nice python3 bench/tables.py --speed 3M_2022_10K.pdf   # per-page detection cost

For every ground-truth table the document goes through Folio's partitioner
(partition.partition_file); predicted structure is the table Element's HTML read back
with folio.table_grid.html_to_cells (what users see). Matching: PDF by page and best
bbox IoU; DOCX/PPTX by best content overlap in document order. Scores:

- content F1: multiset of non-empty cell texts (case and whitespace normalized);
- adjacency F1: for each non-empty cell, its nearest non-empty neighbour to the right
  and below, as (text, text, direction) relations (ICDAR 2013 table competition).

PyMuPDF's ``page.find_tables()`` with default arguments is scored on the PDF tables in
the same run. When a partitioner is not available yet (module missing), PDFs fall back
to calling partition.pdf.tables directly and other formats score 0 with a note.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from folio.table_grid import Cell, html_to_cells, to_dense

CORPUS = Path("/work/shared/corpus")
GT_PATH = Path("/work/shared/eval-dev/tables.jsonl")

Relation = tuple[str, str, str]


def norm(text: str) -> str:
    return " ".join(text.lower().split())


def adjacency_relations(cells: Sequence[Cell]) -> Counter[Relation]:
    """(text, neighbour text, 'R'|'D') for the nearest non-empty cell right of and below
    every non-empty cell; a spanning cell relates to each neighbour along its edge."""
    occ: dict[tuple[int, int], int] = {}
    for i, c in enumerate(cells):
        for r in range(c.row, c.row + c.row_span):
            for k in range(c.col, c.col + c.col_span):
                occ.setdefault((r, k), i)
    if not occ:
        return Counter()
    nrows = max(r for r, _ in occ) + 1
    ncols = max(k for _, k in occ) + 1
    texts = [norm(c.text) for c in cells]
    rels: Counter[Relation] = Counter()
    for i, c in enumerate(cells):
        if not texts[i]:
            continue
        for direction in ("R", "D"):
            found: set[int] = set()
            lanes = range(c.row, c.row + c.row_span) if direction == "R" else range(c.col, c.col + c.col_span)
            for lane in lanes:
                pos = c.col + c.col_span if direction == "R" else c.row + c.row_span
                end = ncols if direction == "R" else nrows
                while pos < end:
                    j = occ.get((lane, pos) if direction == "R" else (pos, lane))
                    if j is not None and j != i and texts[j]:
                        found.add(j)
                        break
                    pos += 1
            for j in found:
                rels[(texts[i], texts[j], direction)] += 1
    return rels


def prf(pred: Counter[Any], gt: Counter[Any]) -> tuple[float, float, float]:
    hit = sum((pred & gt).values())
    p = hit / sum(pred.values()) if pred else 0.0
    r = hit / sum(gt.values()) if gt else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def content_counter(cells: Sequence[Cell]) -> Counter[str]:
    return Counter(t for t in (norm(c.text) for c in cells) if t)


@dataclass
class Score:
    adj: tuple[float, float, float] = (0.0, 0.0, 0.0)
    content: float = 0.0
    note: str = ""


def score(pred: Sequence[Cell] | None, gt: Sequence[Cell]) -> Score:
    if pred is None:
        return Score(note="no table matched")
    return Score(
        prf(adjacency_relations(pred), adjacency_relations(gt)), prf(content_counter(pred), content_counter(gt))[2]
    )


# ---------------------------------------------------------------- ground truth


@dataclass
class GtTable:
    doc: str
    index: int
    page: int | None
    bbox: tuple[float, float, float, float] | None  # BOTTOMLEFT as stored
    cells: list[Cell]
    # Only a dense grid is given (native DOCX/PPTX ground truth): a merged cell's text is
    # repeated in every slot it covers, so predictions are scored as dense grids too.
    dense: bool = False


def load_gt(path: Path = GT_PATH) -> list[GtTable]:
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        cells = [
            Cell(
                c["row"], c["col"], c["text"], c.get("row_span", 1), c.get("col_span", 1), bool(c.get("column_header"))
            )
            for c in d.get("cells") or []
        ]
        dense = not cells and bool(d.get("grid"))
        if dense:
            cells = [
                Cell(r, k, v if isinstance(v, str) else v.get("text", ""))
                for r, row in enumerate(d["grid"])
                for k, v in enumerate(row)
            ]
        b = d.get("bbox")
        bbox = (b["l"], b["t"], b["r"], b["b"]) if b else None
        out.append(GtTable(d["doc"], d["table_index"], d.get("page"), bbox, cells, dense))
    return out


# ---------------------------------------------------------------- predictions


@dataclass
class Pred:
    page: int | None
    bbox: tuple[float, float, float, float] | None
    cells: list[Cell]


@dataclass
class DocPreds:
    tables: list[Pred] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0


def folio_tables(path: Path, assets: Path) -> DocPreds:
    from folio.config import PartitionSettings
    from partition import PARTITIONERS, detect, partition_file

    kind = detect(path)
    t0 = time.perf_counter()
    try:
        __import__(PARTITIONERS[kind])
    except ModuleNotFoundError:
        if kind == "pdf":
            res = direct_pdf_tables(path)
            res.note = "partition.pdf missing: called pdf_tables directly"
            res.seconds = time.perf_counter() - t0
            return res
        return DocPreds(note=f"{PARTITIONERS[kind]} not written yet")
    try:
        els = partition_file(path, PartitionSettings(), assets)
    except Exception as e:
        return DocPreds(note=f"partition failed: {e}")
    # Ground truth leaves a nested table's text out of its outer cell; so does the score.
    preds = [Pred(e.page, e.bbox, html_to_cells(e.html or "", nested=False)) for e in els if e.kind == "table"]
    return DocPreds(preds, seconds=time.perf_counter() - t0)


def direct_pdf_tables(path: Path) -> DocPreds:
    import pymupdf

    from folio.config import PartitionSettings
    from folio.table_grid import to_html
    from partition.pdf.tables import find_ocr_tables, find_page_tables

    out = DocPreds()
    settings = PartitionSettings()
    with pymupdf.open(path) as doc:
        for page in doc:
            if page.get_text("text").strip():
                found = find_page_tables(page, settings)
            else:
                try:
                    from folio.ocr import ocr_image

                    zoom = 2.0
                    png = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom)).tobytes("png")
                    found = find_ocr_tables(ocr_image(png, zoom), tuple(page.rect))
                except NotImplementedError:
                    out.note = "folio.ocr not written yet: scanned pages skipped"
                    continue
            for t in found:
                out.tables.append(Pred(page.number + 1, t.bbox, html_to_cells(to_html(t.cells))))
    return out


def pymupdf_tables(path: Path) -> DocPreds:
    """PyMuPDF out of the box: page.find_tables() with default arguments, its own HTML."""
    import pymupdf

    out = DocPreds()
    t0 = time.perf_counter()
    with pymupdf.open(path) as doc:
        for page in doc:
            for tb in page.find_tables().tables:
                out.tables.append(Pred(page.number + 1, tuple(tb.bbox), html_to_cells(tb.to_html())))
    out.seconds = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------- matching


def as_scored(cells: list[Cell], g: GtTable) -> list[Cell]:
    """Predicted cells in the ground truth's representation (see GtTable.dense)."""
    if not g.dense:
        return cells
    return [Cell(r, k, v) for r, row in enumerate(to_dense(cells)) for k, v in enumerate(row)]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(gts: list[GtTable], preds: DocPreds, page_heights: dict[int, float]) -> dict[int, Pred | None]:
    """id(GT entry) -> predicted table. A prediction serves one GT table index at most;
    the GT file may list one table twice (with and without a box), each matched alone."""
    owner: dict[int, int] = {}  # prediction -> GT table index that took it
    out: dict[int, Pred | None] = {}
    for g in sorted(gts, key=lambda g: g.index):
        best, best_val = None, 0.0
        for i, p in enumerate(preds.tables):
            if owner.get(i, g.index) != g.index:
                continue
            if g.page is not None and p.page is not None and p.page != g.page:
                continue
            if g.bbox is not None and p.bbox is not None and g.page in page_heights:
                h = page_heights[g.page]
                val = iou((g.bbox[0], h - g.bbox[1], g.bbox[2], h - g.bbox[3]), p.bbox)
            else:
                val = prf(content_counter(p.cells), content_counter(g.cells))[2]
            if val > best_val:
                best, best_val = i, val
        out[id(g)] = preds.tables[best] if best is not None else None
        if best is not None:
            owner[best] = g.index
    return out


def page_heights(path: Path) -> dict[int, float]:
    if path.suffix.lower() != ".pdf":
        return {}
    import pymupdf

    with pymupdf.open(path) as doc:
        return {p.number + 1: p.rect.height for p in doc}


# ---------------------------------------------------------------- speed


def speed(name: str, pages: int) -> None:
    """Per-page cost of table detection over the first ``pages`` pages, side by side."""
    import pymupdf

    from folio.config import PartitionSettings
    from partition.pdf.tables import find_page_tables, page_words

    path = CORPUS / name
    doc = pymupdf.open(path)
    n = min(pages, len(doc))
    runs: list[tuple[str, Any]] = [
        ("words only (get_text words)", lambda p: page_words(p)),
        ("folio find_page_tables fast", lambda p: find_page_tables(p, PartitionSettings(tables="fast"))),
        ("pymupdf find_tables(use_layout=False)", lambda p: p.find_tables(use_layout=False)),
    ]
    base = None
    found = 0
    print(f"{name}: {n} pages")
    for label, fn in runs:
        t0 = time.perf_counter()
        for i in range(n):
            res = fn(doc[i])
            if label.startswith("folio"):
                found += len(res)
        ms = (time.perf_counter() - t0) / n * 1000
        base = base or ms
        print(f"  {label:40s} {ms:7.2f} ms/page  ({ms / base:5.1f}x words)")
    print(f"  folio tables found: {found}")


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", metavar="PDF", help="measure per-page detection cost on this corpus PDF")
    ap.add_argument("--pages", type=int, default=10_000)
    args = ap.parse_args()
    if args.speed:
        speed(args.speed, args.pages)
        return

    gts = load_gt()
    by_doc: dict[str, list[GtTable]] = {}
    for g in gts:
        by_doc.setdefault(g.doc, []).append(g)
    rows: list[tuple[GtTable, Score, Score | None]] = []
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as assets:
        for doc, doc_gts in by_doc.items():
            path = CORPUS / doc
            heights = page_heights(path)
            preds = folio_tables(path, Path(assets))
            if preds.note:
                notes[doc] = preds.note
            matched = match(doc_gts, preds, heights)
            base = match(doc_gts, pymupdf_tables(path), heights) if path.suffix == ".pdf" else None
            for g in doc_gts:
                m = matched[id(g)]
                s = score(as_scored(m.cells, g) if m else None, g.cells)
                bm = base[id(g)] if base is not None else None
                b = score(bm.cells if bm else None, g.cells) if base is not None else None
                rows.append((g, s, b))

    print(
        f"{'doc':38s} {'idx':>3s} {'page':>4s} | {'adjP':>5s} {'adjR':>5s} {'adjF1':>5s} {'cntF1':>5s} | "
        f"{'pymupdf adjF1':>13s} {'cntF1':>5s}"
    )
    for g, s, b in rows:
        base_txt = f"{b.adj[2]:13.3f} {b.content:5.3f}" if b else f"{'-':>13s} {'-':>5s}"
        print(
            f"{g.doc[:38]:38s} {g.index:3d} {g.page or '-':>4} | {s.adj[0]:5.3f} {s.adj[1]:5.3f} {s.adj[2]:5.3f} "
            f"{s.content:5.3f} | {base_txt}  {s.note}"
        )
    print()
    for fmt in ("all", ".pdf", ".docx", ".pptx"):
        sel = [(s, b) for g, s, b in rows if fmt == "all" or Path(g.doc).suffix == fmt]
        if not sel:
            continue
        line = (
            f"mean {fmt:5s} n={len(sel):2d}  adjacency F1 {statistics.mean(s.adj[2] for s, _ in sel):.3f}"
            f"  content F1 {statistics.mean(s.content for s, _ in sel):.3f}"
        )
        if fmt == ".pdf":
            line += (
                f"   | pymupdf find_tables(): adjacency F1 {statistics.mean(b.adj[2] for _, b in sel if b):.3f}"
                f"  content F1 {statistics.mean(b.content for _, b in sel if b):.3f}"
            )
        print(line)
    for doc, note in notes.items():
        print(f"note: {doc}: {note}")


if __name__ == "__main__":
    main()
