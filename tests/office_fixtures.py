"""Shared helpers for the DOCX and PPTX partitioner tests."""

from __future__ import annotations

import io
from pathlib import Path

from folio.config import PartitionSettings
from folio.element import Element
from partition import partition_file


def png(color: str = "red", size: tuple[int, int] = (80, 60), fmt: str = "PNG") -> io.BytesIO:
    """A small solid image, as a file object python-docx / python-pptx accept."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    buf.seek(0)
    return buf


def run_partition(path: Path, tmp_path: Path, **settings: object) -> list[Element]:
    # The partitioners' own output; LibreOffice's pages are tested in test_office_render.py.
    settings.setdefault("office_render", "off")
    return partition_file(path, PartitionSettings(**settings), tmp_path / "assets")  # type: ignore[arg-type]
