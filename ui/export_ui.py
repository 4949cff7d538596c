"""The app's export: the same JSON as ``ingest.py export`` for the documents a user picked,
as a file download (Corpus tab) and as ``GET /api/export?source=...`` (API)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from answer.engine import Engine

# Exports are written where Gradio may serve files from (under the system temp folder), in
# a folder of this process's own (mode 0700: other local users cannot read the corpus from
# it). The API deletes its file once sent; the Corpus tab's downloads are kept a while, and
# a new export removes the older and the surplus ones, so repeated exports cannot fill the disk.
KEEP_SECONDS = 3600
MAX_KEPT = 8
_folder: Path | None = None


def export_folder() -> Path:
    global _folder
    if _folder is None or not _folder.is_dir():
        _folder = Path(tempfile.mkdtemp(prefix="folio-exports-"))
    return _folder


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for i, old in enumerate(files):
        if i >= MAX_KEPT - 1 or old.stat().st_mtime < time.time() - KEEP_SECONDS:
            old.unlink(missing_ok=True)


def export_file(engine: Engine, sources: list[str] | None) -> Path:
    """Write the JSON export of ``sources`` (all documents when empty); returns its path.
    Raises export.versions.ExportError (a FolioError) with the reason on a bad filter; the
    server's own paths are left out of the message (it goes to the client)."""
    from export.run import ExportOptions, write_export
    from folio.errors import FolioError

    folder = export_folder()
    _prune(folder)
    name = f"folio-export-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 1_000_000:06d}.json"
    out = folder / name
    try:
        write_export(engine.pipe, out, ExportOptions(fmt="json", sources=list(sources) if sources else None))
    except FolioError as e:
        out.unlink(missing_ok=True)
        message = str(e)
        for path, shown in ((str(engine.pipe.index), "the index"), (str(folder), "the export folder")):
            message = message.replace(path, shown)
        raise FolioError(message) from None
    return out


def build(engine: Engine, gr: Any) -> None:
    """Corpus tab controls: pick documents (none = all), export, download."""
    with gr.Row():
        picked = gr.Dropdown(choices=[], multiselect=True, label="Export: documents (none picked = all)")
        button = gr.Button("Export JSON", variant="secondary")
    download = gr.File(label="Export (JSON, docs/export-schema.json)", interactive=False)

    def run(sources: list[str] | None) -> Any:
        from folio.errors import FolioError

        try:
            return str(export_file(engine, sources))
        except FolioError as e:
            raise gr.Error(str(e)) from None

    def choices() -> Any:
        return gr.update(choices=[d["source"] for d in engine.documents() if d["status"] != "error"])

    button.click(run, picked, download, api_name=False)
    picked.focus(choices, None, picked, api_name=False)
