"""The Corpus tab: documents with status, pages, elements and when they were indexed; the
last run report; failed files with their reasons; the models behind the index; the export
of the enriched corpus as JSON (ui/export_ui.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from folio.untrusted import md_text
from ui import export_ui

if TYPE_CHECKING:
    from answer.engine import Engine

COLUMNS = ["document", "status", "pages", "elements", "chunks", "indexed at"]


def corpus_view(engine: Engine) -> tuple[list[list[Any]], str, str, str]:
    """(documents table rows, failures markdown, models markdown, last run report JSON)."""
    docs = engine.documents()
    rows = [[d["source"], d["status"], d["pages"], d["elements"], d["chunks"], d["indexed_at"] or ""]
            for d in docs]
    failed = [d for d in docs if d["status"] == "error"]
    # File names and error messages come from the documents: literal text, never Markdown.
    fail_md = "\n".join(f"- {md_text(d['source'])}: {md_text(d['error'] or '')}" for d in failed) \
        or "No failed documents."
    h = engine.health()
    m = h["models"]
    models_md = (f"**Embedder:** `{m['embedder']}`  \n**Answers ({m['backend']}):** `{m['llm']}`  \n"
                 f"**Captions / summaries:** {_enrichment_models(engine)}  \n"
                 f"**Index:** {h['documents']} documents, {h['chunks']} chunks, {h['failed']} failed")
    runs = engine.store.runs(1)
    report = json.dumps(runs[0]["report"], indent=1, ensure_ascii=False) if runs else "{}"
    return rows, fail_md, models_md, report


def _enrichment_models(engine: Engine) -> str:
    """The models that wrote the stored captions and summaries (read from the elements)."""
    tbl = engine.store.elements_table
    if tbl is None:
        return "none"
    try:
        arrow = tbl.search().select(["caption_model", "summary_model"]).limit(None).to_arrow()
    except Exception:  # an index written before these columns existed
        return "unknown"
    names = {v for col in ("caption_model", "summary_model") for v in arrow[col].to_pylist() if v}
    return ", ".join(f"`{n}`" for n in sorted(names)) or "none (enrichment off or not run yet)"


def build(engine: Engine, gr: Any) -> list[Any]:
    """The tab's components; returns the outputs of ``corpus_view`` (the app fills them on load)."""
    refresh = gr.Button("Refresh")
    table = gr.Dataframe(headers=COLUMNS, label="Documents", interactive=False, wrap=True)
    with gr.Row():
        failures = gr.Markdown(label="Failed files")
        models = gr.Markdown()
    report = gr.Code(label="Last run report", language="json", lines=12)
    outs = [table, failures, models, report]
    refresh.click(lambda: corpus_view(engine), None, outs, api_name=False)
    export_ui.build(engine, gr)
    return outs
