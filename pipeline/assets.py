"""Pictures cut out of documents (``<index>/assets``), moved where the run needs them: from
a Ray worker to the driver, and beside the tables when the index is on an object store."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from folio.config import Pipeline
    from folio.storage import Blobs


def upload_assets(pipe: Pipeline, blobs: Blobs, doc_id: str) -> None:
    """An index on an object store keeps the document's pictures beside its tables."""
    if pipe.remote is None:
        return
    folder = pipe.assets_dir / doc_id
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file():
            blobs.write(f"assets/{path.relative_to(pipe.assets_dir).as_posix()}", path.read_bytes())


def save_assets(pipe: Pipeline, assets: dict[str, bytes]) -> None:
    """Pictures a worker (maybe on another node) cut out: into this machine's assets folder."""
    for rel, data in assets.items():
        target = pipe.assets_dir / rel
        if ".." in rel.split("/") or target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
