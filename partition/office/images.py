"""Embedded pictures of Office files -> PNG files in the asset store."""

from __future__ import annotations

import hashlib
import io
import logging
import re

from partition.context import PartitionContext

log = logging.getLogger(__name__)

# "Figure 3: ...", "Fig. 2 - ...", "Chart 1." : a caption written as a plain paragraph.
CAPTION_RE = re.compile(r"^\s*(figure|fig\.?|image|picture|chart|illustration)\s*\d+[a-z]?\s*[:.\-–—]", re.I)


def looks_like_caption(text: str, style_name: str = "") -> bool:
    return style_name.strip().lower() == "caption" or bool(CAPTION_RE.match(text))


def save_picture(ctx: PartitionContext, blob: bytes, label: str) -> tuple[str, int, int] | None:
    """Write ``blob`` as PNG (converting other formats); returns (stored path, width, height).

    None when the picture cannot be decoded (EMF/WMF on Linux, corrupt data) or is smaller
    than ``min_image_px`` (icons, bullets, spacer pixels). The file name is the content
    hash, so the same picture used twice is stored once and names are stable across runs.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(blob)) as im:
            im.load()
            width, height = im.size
            minimum = ctx.settings.min_image_px
            if width < minimum or height < minimum:
                log.debug("%s: picture %s is %dx%d px, below min_image_px", ctx.source, label, width, height)
                return None
            digest = hashlib.sha256(blob).hexdigest()[:20]
            path, stored = ctx.asset_path(f"pic-{digest}.png")
            if not path.exists():
                if im.format == "PNG":
                    path.write_bytes(blob)
                else:
                    out = im.convert("RGBA") if im.mode in ("P", "LA", "PA") else im
                    if out.mode not in ("RGB", "RGBA", "L", "I;16"):
                        out = out.convert("RGB")
                    tmp = path.with_suffix(".tmp")
                    out.save(tmp, format="PNG")
                    tmp.replace(path)
            return stored, width, height
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as e:
        log.warning("%s: skipping picture %s that cannot be decoded: %s", ctx.source, label, e)
        return None
