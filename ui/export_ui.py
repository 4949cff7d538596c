"""The app's export: the same JSON as ``ingest.py export`` for the documents a user picked,
as a file download (Corpus tab) and as ``GET /api/export?source=...`` (API)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from answer.engine import Engine

# Exports are written where Gradio may serve files from (the system temp folder), one
# folder per app; older files than this are removed when a new export is made.
KEEP_SECONDS = 3600


def export_file(engine: Engine, sources: list[str] | None) -> Path:
    """Write the JSON export of ``sources`` (all documents when empty); returns its path.
    Raises export.versions.ExportError (a FolioError) with the reason on a bad filter."""
    from export.run import ExportOptions, write_export

    folder = Path(tempfile.gettempdir()) / "folio-exports"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        if old.stat().st_mtime < time.time() - KEEP_SECONDS:
            old.unlink(missing_ok=True)
    name = f"folio-export-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 1_000_000:06d}.json"
    out = folder / name
    write_export(engine.pipe, out, ExportOptions(fmt="json", sources=list(sources) if sources else None))
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
