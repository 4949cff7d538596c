"""The needs-review queue: elements ordered by how much a reviewer's fix is worth.

Scores add up per element; the weights rank what most often misleads an answer first:
what a reader flagged from a citation card, pictures nobody could describe, captions
written without seeing the picture, low OCR confidence, tables that look broken (many
empty or merged cells, a suspicious header), very large tables, summaries the output
checks rejected (stored as computed facts instead). Approved and hidden elements leave the queue.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from folio.element import Element
from folio.review import HASH_KEY, STATE_KEY, compute_content_hash

if TYPE_CHECKING:
    from folio.review import Overlay
    from index.store import Store
    from review.overlays import OverlayStore

LOW_OCR = 0.9  # mean RapidOCR line score under this is worth a look
LARGE_TABLE_CELLS = 300
_NUMBER = re.compile(r"^[\s$€£%()+\-.,\d]+$")
_COLUMNS = ["id", "source", "kind", "role", "text", "html", "image", "caption", "caption_model", "summary", "page",
            "meta", "write_id"]


@dataclass
class QueueItem:
    element_id: str
    content_hash: str
    source: str
    page: int | None
    kind: str
    score: float
    reasons: list[str]
    preview: str


# Parsing a table's HTML is most of the queue's time (2.2 s for the shared corpus's 1,100
# tables); the same HTML always gives the same reasons, so the Review and Corpus tabs pay
# it once per table version.
@functools.lru_cache(maxsize=8192)
def table_reasons(html: str | None) -> tuple[tuple[float, str], ...]:
    from folio.table_grid import grid_shape, html_to_cells, normalize_cells, to_dense

    if not html:
        return ((25.0, "table without HTML structure"),)
    cells = normalize_cells(html_to_cells(html, nested=False))
    rows, cols = grid_shape(cells)
    if not rows:
        return ((25.0, "table without cells"),)
    out: list[tuple[float, str]] = []
    grid = to_dense(cells)
    slots = rows * cols
    empty = sum(1 for r in grid for v in r if not v.strip()) / slots
    if empty > 0.3:
        out.append((10 + 40 * empty, f"{empty:.0%} empty cells"))
    merged = sum(1 for c in cells if c.row_span > 1 or c.col_span > 1)
    if cells and merged / len(cells) > 0.15:
        out.append((20.0, f"{merged} merged cells"))
    if cols == 1 or rows == 1:
        out.append((15.0, f"{rows}x{cols}: maybe not a table"))
    head = [v.strip() for v in grid[0]]
    if cols > 1 and rows > 1:
        filled = [v for v in head if v]
        if len(filled) < len(head) / 2:
            out.append((20.0, "suspicious header: mostly empty"))
        elif filled and sum(bool(_NUMBER.match(v)) for v in filled) > len(filled) / 2:
            out.append((20.0, "suspicious header: numbers, not names"))
        elif len(set(filled)) < len(filled) and len(set(filled)) == 1:
            out.append((15.0, "suspicious header: one repeated value"))
    if slots > LARGE_TABLE_CELLS:
        out.append((15 + min(20.0, slots / 200), f"very large table ({rows}x{cols})"))
    return tuple(out)


def reasons(row: dict[str, Any], meta: dict[str, Any], flags: int) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    if flags:
        out.append((100.0 + 10 * flags, f"flagged by a reader ({flags}x)"))
    kind = row["kind"]
    if kind == "image":
        model = row.get("caption_model") or ""
        if not row.get("caption"):
            out.append((60.0, "picture without a caption" + (" (needs a vision model)" if meta.get("caption_note")
                                                              else "")))
        elif model.startswith(("ocr+llm:", "ocr:")):
            out.append((40.0, "caption written without a vision model"))
        if meta.get("caption_rejected"):
            out.append((30.0, "caption rejected by the output checks"))
    elif kind == "table":
        out.extend(table_reasons(row.get("html")))
        if meta.get("summary_fallback"):
            # the model's summary stated what the table does not say; the computed facts stand in
            why = f"summary failed the figure check, computed facts stored ({meta['summary_fallback']})"
            out.append((35.0, why[:200]))
        elif meta.get("summary_rejected"):
            out.append((35.0, "summary rejected by the output checks"))
        elif meta.get("summary_sampled"):
            out.append((10.0, "summary written from sampled rows"))
    score = meta.get("ocr_score")
    if isinstance(score, int | float) and score < LOW_OCR:
        out.append((20 + 100 * (LOW_OCR - score), f"low OCR confidence ({score:.2f})"))
    return out


def preview(text: str | None, words: int = 14) -> str:
    w = (text or "").split()
    return " ".join(w[:words]) + (" …" if len(w) > words else "")


def needs_review(
    store: Store, overlays: dict[str, Overlay], flags: dict[str, int], flagged_ids: list[str], *,
    source: str | None = None, kind: str | None = None, limit: int | None = 200,
) -> list[QueueItem]:
    """The queue over the committed elements, best fix first."""
    from index.store import sql_str

    tbl = store.elements_table
    if tbl is None:
        return []
    committed = store.committed_writes()
    where = "(kind IN ('table', 'image') OR meta LIKE '%ocr_score%'"
    if flagged_ids:  # flagged text elements
        where += " OR id IN (" + ", ".join(sql_str(i) for i in flagged_ids) + ")"
    where += ")"
    if source:
        where += f" AND source = {sql_str(source)}"
    if kind:
        where += f" AND kind = {sql_str(kind)}"
    items: list[QueueItem] = []
    for row in tbl.search().where(where).select(_COLUMNS).limit(None).to_arrow().to_pylist():
        if committed.get(row["source"]) != row["write_id"]:
            continue
        meta = json.loads(row["meta"]) if row.get("meta") else {}
        h = str(meta.get(HASH_KEY) or "") or compute_content_hash(Element(
            id=row["id"], doc_id="", source=row["source"], doc_sha256="", kind=row["kind"], text=row["text"] or "",
            html=row["html"], image=row["image"]))
        ov = overlays.get(h)
        state = meta.get(STATE_KEY) or {}
        if (ov is not None and ov.status == "active" and (ov.approved or ov.hidden)) or state.get("hidden"):
            continue
        found = reasons(row, meta, flags.get(h, 0))
        if not found:
            continue
        items.append(QueueItem(row["id"], h, row["source"], row["page"], row["kind"],
                               round(sum(s for s, _ in found), 1), [r for _, r in sorted(found, reverse=True)],
                               preview(row.get("caption") or row.get("summary") or row.get("text"))))
    items.sort(key=lambda i: (-i.score, i.source, i.page or 0))
    return items[:limit]


def queue_of(store: Store, overlays: OverlayStore, *, source: str | None = None, kind: str | None = None,
             limit: int | None = 200) -> list[QueueItem]:
    """The queue with the reviewers' overlays and the readers' open flags (the Review tab,
    its API, and the backlog that ``ingest.py status`` and the Corpus tab show)."""
    active = {ov.content_hash: ov for ov in overlays.all("active")}
    return needs_review(store, active, overlays.open_flags(), overlays.flagged_element_ids(),
                        source=source, kind=kind, limit=limit)
