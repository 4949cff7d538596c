"""What a partitioner gets: the document's identity, settings, and an Element factory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from folio.config import PartitionSettings
from folio.element import BBox, Element, Kind, element_id, id_content


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class PartitionContext:
    path: Path
    source: str  # path relative to the pipeline's source root (what users see)
    doc_sha256: str
    settings: PartitionSettings
    assets_root: Path  # crops go to assets_root / doc_sha256[:16] / ...
    _order: int = field(default=0, repr=False)

    @property
    def doc_id(self) -> str:
        return self.doc_sha256[:16]

    @property
    def asset_dir(self) -> Path:
        d = self.assets_root / self.doc_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def asset_path(self, name: str) -> tuple[Path, str]:
        """Absolute path to write a crop to, and the path stored in Element.image."""
        return self.asset_dir / name, f"{self.doc_id}/{name}"

    def make(
        self,
        kind: Kind,
        text: str,
        *,
        role: str = "paragraph",
        page: int | None = None,
        page_label: str | None = None,
        bbox: BBox | None = None,
        section: tuple[str, ...] = (),
        html: str | None = None,
        image: str | None = None,
        order: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Element:
        """Build an Element with a stable id. ``order`` defaults to a running counter;
        parallel page workers pass their own (page-based) order."""
        if order is None:
            order = self._order
            self._order += 1
        return Element(
            id=element_id(self.doc_sha256, page, order, kind, id_content(kind, text, html, image)),
            doc_id=self.doc_id,
            source=self.source,
            doc_sha256=self.doc_sha256,
            kind=kind,
            text=text,
            role=role,
            html=html,
            image=image,
            page=page,
            page_label=page_label,
            bbox=tuple(round(v, 2) for v in bbox) if bbox else None,  # type: ignore[arg-type]
            section=section,
            order=order,
            meta=meta or {},
        )
