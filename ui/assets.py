"""``GET /assets/{path}``: crops and page images from the index's asset folder, nothing else.

A path that leaves the folder (``..``, its encoded forms, an absolute path, a symlink
pointing out) is a 404, like a missing file: the response says nothing about what exists
elsewhere. Pages and crops not rendered yet are rendered on first request
(index/pages.py); ``?box=x0,y0,x1,y1[;...]`` draws the cited boxes on a page.
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from index.pages import with_boxes

if TYPE_CHECKING:
    from index.pages import Renderer

_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
MAX_BOXES = 20


def safe_relative(rel: str) -> str | None:
    """The path as a clean relative POSIX path, or None if it could leave the folder."""
    if not rel or "\x00" in rel or "\\" in rel or "%" in rel:
        return None
    p = PurePosixPath(rel)
    if p.is_absolute() or any(part in ("..", ".", "") for part in p.parts):
        return None
    return str(p)


def resolve(root: Path, rel: str) -> Path | None:
    clean = safe_relative(rel)
    if clean is None:
        return None
    base = root.resolve()
    target = (base / clean).resolve()  # follows symlinks: one pointing out fails below
    if not target.is_relative_to(base) or target.suffix.lower() not in _TYPES:
        return None
    return target


class BadBox(ValueError):
    """A ``box`` query the page cannot be drawn with (400)."""


def parse_boxes(spec: str | None) -> list[tuple[float, float, float, float]]:
    """Boxes in page coordinates: four finite numbers, corners in order (a 400 otherwise:
    inf or reversed corners used to reach the drawing code and fail there, a 500)."""
    boxes = []
    for part in (spec or "").split(";")[:MAX_BOXES]:
        if not part:
            continue
        try:
            x0, y0, x1, y1 = (float(v) for v in part.split(","))
        except ValueError:
            raise BadBox(f"box: {part[:40]!r} is not x0,y0,x1,y1") from None
        if not all(math.isfinite(v) and 0 <= v <= 1e5 for v in (x0, y0, x1, y1)) or x1 < x0 or y1 < y0:
            raise BadBox(f"box: {part[:40]!r}: four finite page coordinates, x0 <= x1 and y0 <= y1")
        boxes.append((x0, y0, x1, y1))
    return boxes


def asset_response(request: Request, root: Path, renderer: Renderer, frontend: Path | None = None) -> Response:
    """Our crops and pages live in sub-folders (``<doc_id>/...``, ``pages/``, ``crops/``);
    Gradio's own page files share the ``/assets/`` prefix as flat, hashed names, so a flat
    name that exists in ``frontend`` is Gradio's and is served from there."""
    rel = request.path_params["path"]
    if frontend is not None and "/" not in rel and safe_relative(rel) is not None:
        own = (frontend / rel).resolve()
        if own.is_file() and own.is_relative_to(frontend.resolve()):
            return FileResponse(own, headers={"Cache-Control": "public, max-age=31536000, immutable"})
    target = resolve(root, rel)
    if target is None:
        return Response("not found", status_code=404)
    if not target.is_file():
        made = renderer.ensure(str(target.relative_to(root.resolve())))
        if made is None or resolve(root, rel) is None:
            return Response("not found", status_code=404)
    try:
        boxes = parse_boxes(request.query_params.get("box"))
    except BadBox as e:
        return Response(str(e), status_code=400)
    headers = {"Cache-Control": "private, max-age=86400"}  # assets are keyed by content hash
    if boxes:
        return Response(with_boxes(target, boxes), media_type="image/png", headers=headers)
    return FileResponse(target, media_type=_TYPES[target.suffix.lower()], headers=headers)


def url(rel: str | None, boxes: list[list[float]] | None = None) -> str | None:
    if not rel:
        return None
    out = "/assets/" + rel
    if boxes:
        out += "?box=" + ";".join(",".join(f"{v:.1f}" for v in b[:4]) for b in boxes)
    return out
