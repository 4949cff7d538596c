"""Figures on a text-layer page: embedded rasters and clustered vector drawings.

A vector figure is a cluster of drawings that looks like a graphic (curves, diagonal
lines, several coloured fills) rather than table rules, underlines or a shaded text box,
and that is not mostly covered by text. Short text lines touching the cluster (axis
labels, legends, callouts) are pulled into the region; the caller keeps all text inside a
region as the figure's text instead of body paragraphs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from folio.element import BBox
from partition.pdf.records import area, centre_inside, expand, intersects, overlap_area, union
from partition.pdf.structure import is_caption
from partition.pdf.text import Line

log = logging.getLogger(__name__)
_T = TypeVar("_T")

CLUSTER_GAP = 8.0  # drawings closer than this (points) belong to one figure
LABEL_REACH = 14.0  # how far outside the drawings an axis label or legend may sit
MAX_DRAWINGS = 5000  # drawing entries beyond this: a pattern or a huge table; skip vector figures
MAX_TEXT_COVER = 0.35  # a region mostly covered by text is a text box or table, not a figure
CROP_MARGIN = 3.0  # points added around a figure when rendering its crop
BACKGROUND_SHARE = 0.85  # an image or fill covering this much of the page is a background


@dataclass(slots=True)
class Figure:
    bbox: BBox
    source: str  # "raster" | "vector"
    pieces: list[int] = field(default_factory=list)  # raster placements merged into it


def _min_pt(settings: Any) -> float:
    """Smallest side (points) that still renders to ``min_image_px`` at ``image_dpi``."""
    return float(settings.min_image_px) * 72.0 / float(settings.image_dpi)


def raster_figures(page: Any, settings: Any, page_box: BBox, has_text: bool) -> tuple[list[Figure], float]:
    """Embedded images worth a crop, and the share of the page that images cover
    (before size filtering, which tells a scanned page apart)."""
    if has_text and not page.get_images():
        # No image resources: skip running the page through a device. (Inline images
        # are not listed there, so a page without text is always inspected: a scan.)
        return [], 0.0
    page_area = area(page_box)
    pieces: list[Figure] = []
    native: dict[int, tuple[int, int]] = {}
    covered = 0.0
    seen: set[tuple[int, ...]] = set()
    for info in page.get_image_info():  # xrefs=True would md5 every image
        bbox = _clip(tuple(info["bbox"]), page_box)
        if bbox is None:
            continue
        key = tuple(round(v) for v in bbox)  # the same picture placed twice at one spot
        if key in seen:
            continue
        seen.add(key)
        covered = max(covered, area(bbox) / page_area if page_area else 0.0)
        if area(bbox) >= BACKGROUND_SHARE * page_area:
            continue
        native[len(pieces)] = (int(info.get("width", 0)), int(info.get("height", 0)))
        pieces.append(Figure(bbox=bbox, source="raster", pieces=[len(pieces)]))
    # Illustrations are often drawn as many small tiles: merge first, then judge size.
    min_pt = _min_pt(settings)
    figures: list[Figure] = []
    for f in _merge_touching(pieces):
        w, h = f.bbox[2] - f.bbox[0], f.bbox[3] - f.bbox[1]
        if min(w, h) < min_pt:
            continue
        if len(f.pieces) == 1 and min(native[f.pieces[0]]) < settings.min_image_px:
            continue  # a tiny bitmap stretched over a large box (rules, gradients)
        figures.append(f)
    return figures, covered


def vector_figures(page: Any, lines: list[Line], avoid: list[BBox], settings: Any, page_box: BBox) -> list[Figure]:
    """Clusters of drawings that look like charts or diagrams."""
    try:
        # The raw variant (plain tuples) is several times faster than get_drawings();
        # extended=True adds the clip entries, needed to bound artwork.
        entries = page.get_cdrawings(extended=True)
    except Exception:  # a malformed content stream: no vector figures, keep the text
        log.debug("get_cdrawings failed on page %s", page.number + 1, exc_info=True)
        return []
    if len(entries) > MAX_DRAWINGS:
        return []
    paths = _clipped_paths(entries, page_box)
    if sum(1 for p, _ in paths if _graphic_path(p)) < 3:
        return []  # only rules, boxes and pale shading: nothing can qualify, skip clustering
    page_area = area(page_box)
    clusters: list[_Cluster] = []
    frames: list[_Cluster] = []  # hairlines (axes, frames): they never make a figure alone
    for p, clip in paths:
        r = _clip(tuple(p["rect"]), clip)
        if r is None:
            hair = _clip(expand(tuple(p["rect"]), 0.5), clip)  # type: ignore[arg-type]
            if hair is not None:
                _add(frames, hair, p)
            continue
        if area(r) >= BACKGROUND_SHARE * page_area:
            continue
        if any(overlap_area(r, a) > 0.5 * max(area(r), 1e-6) for a in avoid):
            continue
        if p.get("fill") is not None and _is_white(p["fill"]) and p.get("color") is None:
            continue  # white paint: a cover-up or a background, not content
        _add(clusters, r, p)
    clusters = _with_frames(_merge_clusters(clusters), _merge_clusters(frames))
    min_pt = max(_min_pt(settings), 24.0)
    out: list[Figure] = []
    for c in clusters:
        if not c.graphic() or min(c.bbox[2] - c.bbox[0], c.bbox[3] - c.bbox[1]) < min_pt:
            continue
        bbox = _with_labels(c.bbox, lines, page_box)
        if _text_cover(bbox, lines) > MAX_TEXT_COVER:
            continue
        if any(overlap_area(bbox, a) > 0.2 * area(bbox) for a in avoid):
            continue
        out.append(Figure(bbox=bbox, source="vector"))
    return out


def combine(raster: list[Figure], vector: list[Figure]) -> list[Figure]:
    """Join rasters and vector clusters that make one figure. A raster mostly inside a
    vector frame takes the frame's box (image bounds ignore clipping, the frame is what
    shows); annotations drawn over a chart grow the chart's box."""
    out = list(raster)
    for v in vector:
        joined = False
        for f in out:
            if overlap_area(f.bbox, v.bbox) >= 0.7 * area(f.bbox):
                f.bbox, f.source, joined = v.bbox, "raster+vector", True
            elif _belong_together(f.bbox, v.bbox):
                f.bbox, f.source, joined = union(f.bbox, v.bbox), "raster+vector", True
        if not joined:
            out.append(v)
    return _merge_touching(out)


def is_text_background(fig: Figure, lines: list[Line]) -> bool:
    """A raster under running text (a page decoration) is not a figure to crop."""
    return fig.source == "raster" and _text_cover(fig.bbox, lines) > MAX_TEXT_COVER


def _clipped_paths(entries: list[dict[str, Any]], page_box: BBox) -> list[tuple[dict[str, Any], BBox]]:
    """Paths with the clip rectangle in force where they are drawn. Artwork often paints
    past its frame (hatching, bleed) and relies on a clip: without it a figure's box
    reaches into the next column."""
    out: list[tuple[dict[str, Any], BBox]] = []
    stack: list[tuple[int, BBox]] = []  # (level, effective clip) of open clip entries
    for e in entries:
        level = int(e.get("level", 0))
        while stack and stack[-1][0] >= level:
            stack.pop()
        current = stack[-1][1] if stack else page_box
        kind = e.get("type")
        if kind == "clip":
            scissor = _clip(tuple(e.get("scissor", current)), current)
            stack.append((level, scissor or (current[0], current[1], current[0], current[1])))
        elif kind != "group":
            out.append((e, current))
    return out


@dataclass(slots=True)
class _Cluster:
    bbox: BBox
    count: int = 0
    curves: int = 0
    diagonals: int = 0
    fills: int = 0

    def graphic(self) -> bool:
        if self.count < 3:
            return False
        return self.curves > 0 or self.diagonals > 0 or self.fills >= 3


def _add(clusters: list[_Cluster], r: BBox, path: dict[str, Any]) -> None:
    near = expand(r, CLUSTER_GAP)
    c = next((c for c in clusters if intersects(c.bbox, near)), None)
    if c is None:
        c = _Cluster(bbox=r)
        clusters.append(c)
    c.bbox = union(c.bbox, r)
    c.count += 1
    fill = path.get("fill")
    if fill is not None and not _is_white(fill) and area(r) > 4.0:
        c.fills += 1
    for item in path.get("items", ()):
        op = item[0]
        if op == "c":
            c.curves += 1
        elif op == "qu" or (op == "l" and _diagonal(item[1], item[2])):
            c.diagonals += 1


def _diagonal(p1: Any, p2: Any) -> bool:
    return abs(p1[0] - p2[0]) > 1.0 and abs(p1[1] - p2[1]) > 1.0


def _graphic_path(path: dict[str, Any]) -> bool:
    fill = path.get("fill")
    if fill is not None and not _is_pale(fill):
        return True
    return any(
        it[0] in ("c", "qu") or (it[0] == "l" and _diagonal(it[1], it[2])) for it in path.get("items", ())
    )


def _merge_clusters(clusters: list[_Cluster]) -> list[_Cluster]:
    """Join clusters that grew into each other (single-pass adding can leave pairs)."""

    def absorb(into: _Cluster, c: _Cluster) -> None:
        into.bbox = union(into.bbox, c.bbox)
        into.count += c.count
        into.curves += c.curves
        into.diagonals += c.diagonals
        into.fills += c.fills

    return _merge_until_stable(clusters, lambda o, c: intersects(o.bbox, expand(c.bbox, CLUSTER_GAP)), absorb)


def _merge_until_stable(
    items: list[_T], together: Callable[[_T, _T], bool], absorb: Callable[[_T, _T], None]
) -> list[_T]:
    """Merge items into earlier ones they belong with, repeating until nothing changes
    (a merge can make a box reach items it did not reach before)."""
    changed = True
    while changed:
        changed = False
        out: list[_T] = []
        for item in items:
            hit = next((o for o in out if together(o, item)), None)
            if hit is None:
                out.append(item)
            else:
                absorb(hit, item)
                changed = True
        items = out
    return items


def _with_frames(clusters: list[_Cluster], frames: list[_Cluster]) -> list[_Cluster]:
    """A chart's axes or frame are hairlines that may not touch its marks (a line chart
    floating above its x-axis): lines that together enclose a graphic cluster join it,
    so the figure (and its tick labels) reaches the axes."""
    graphic = [c for c in clusters if c.graphic()]
    # A pair of axes (or a few edges), not a box grid: a page frame or a text panel made of
    # many rules would swallow body text.
    for frame in (f for f in frames if f.count <= 3):
        for g in graphic:
            if overlap_area(frame.bbox, g.bbox) >= 0.8 * max(area(g.bbox), 1e-6):
                g.bbox = union(g.bbox, frame.bbox)
    return clusters


def _with_labels(bbox: BBox, lines: list[Line], page_box: BBox) -> BBox:
    """Grow the region over label-like lines that touch it (tick labels, then the axis
    title under them: a few passes)."""
    labels = [ln for ln in label_lines(lines) if not is_caption(ln.text)]
    out = bbox
    for _ in range(3):
        reach = expand(out, LABEL_REACH)
        grown = out
        for ln in labels:
            if intersects(ln.bbox, reach):
                grown = union(grown, ln.bbox)
        if grown == out:
            break
        out = grown
    return _clip(out, page_box) or bbox


def label_lines(lines: list[Line]) -> list[Line]:
    """Lines that can belong to a figure: short (labels rarely pass six words), in a block
    of at most three lines or of nothing but very short lines (a column of tick labels).
    A line of a paragraph is body text even where a figure box overlaps it."""
    per_block = Counter(ln.block for ln in lines)
    longest: dict[int, int] = {}
    for ln in lines:
        longest[ln.block] = max(longest.get(ln.block, 0), len(ln.text.split()))
    return [
        ln
        for ln in lines
        if (per_block[ln.block] <= 3 or longest[ln.block] <= 3) and len(ln.text.split()) <= 6 and len(ln.text) <= 48
    ]


def _text_cover(bbox: BBox, lines: list[Line]) -> float:
    a = area(bbox)
    if a <= 0:
        return 1.0
    return sum(area(ln.bbox) for ln in lines if centre_inside(ln.bbox, bbox)) / a


def _merge_touching(figs: list[Figure]) -> list[Figure]:
    """Tiles of one image (or overlapping figures) become one figure."""

    def absorb(into: Figure, f: Figure) -> None:
        into.bbox = union(into.bbox, f.bbox)
        into.pieces.extend(f.pieces)

    return _merge_until_stable(figs, lambda o, f: _belong_together(o.bbox, f.bbox), absorb)


def _belong_together(a: BBox, b: BBox) -> bool:
    """Overlapping substantially, or tiles sharing most of an edge. Two figures whose
    boxes merely clip each other's corner (masked images) stay apart."""
    small = min(area(a), area(b))
    if small > 0 and overlap_area(a, b) >= 0.25 * small:
        return True
    shared_x = min(a[2], b[2]) - max(a[0], b[0])
    shared_y = min(a[3], b[3]) - max(a[1], b[1])
    share_x = shared_x / max(min(a[2] - a[0], b[2] - b[0]), 1e-6)
    share_y = shared_y / max(min(a[3] - a[1], b[3] - b[1]), 1e-6)
    # Touching: at most a point of gap or overlap across the shared edge.
    return (-1.0 <= shared_x <= 2.0 and share_y >= 0.5) or (-1.0 <= shared_y <= 2.0 and share_x >= 0.5)


def _clip(b: tuple[float, ...], page_box: BBox) -> BBox | None:
    x0, y0 = max(b[0], page_box[0]), max(b[1], page_box[1])
    x1, y1 = min(b[2], page_box[2]), min(b[3], page_box[3])
    if x1 - x0 <= 0.5 or y1 - y0 <= 0.5:
        return None
    return (x0, y0, x1, y1)


def _is_pale(color: Any) -> bool:
    """Light shading (table row bands, callout boxes) rather than chart ink."""
    try:
        return sum(float(v) for v in color) / max(len(color), 1) > 0.8
    except TypeError:
        return False


def _is_white(color: Any) -> bool:
    try:
        return all(float(v) > 0.97 for v in color)
    except TypeError:
        return False


def render_crop(page: Any, bbox: BBox, dpi: int, path: Any) -> tuple[int, int]:
    """Write a PNG of the region at ``dpi``; returns its pixel size."""
    import pymupdf

    # A little margin: strokes and legend frames sit on the edge of the detected box.
    clip = pymupdf.Rect(expand(bbox, CROP_MARGIN)) & page.rect
    pix = page.get_pixmap(dpi=dpi, clip=clip, alpha=False)
    try:
        pix.save(str(path))
        return pix.width, pix.height
    finally:
        del pix
