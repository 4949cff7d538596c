"""The Corpus tab: documents with status, pages, elements and when they were indexed; the
last run report; failed files with their reasons; the models behind the index; the export
of the enriched corpus as JSON (ui/export_ui.py); for reviewers, upload, remove and
re-index (ui/uploads.py, when serve.upload_dir is set)."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from folio.untrusted import md_text
from ui import export_ui
from ui.runs_chart import runs_chart

if TYPE_CHECKING:
    from answer.engine import Engine
    from review.overlays import OverlayStore

RUNS = 10  # nights in the chart

COLUMNS = ["document", "status", "pages", "elements", "chunks", "to enrich", "indexed at"]


def corpus_view(engine: Engine, overlays: OverlayStore | None = None) -> tuple[Any, ...]:
    """(documents table rows, backlog markdown, last-nights chart HTML, failures markdown,
    models markdown, last run report JSON). The numbers are review/backlog.py's, the same
    ``ingest.py status`` prints. bench/corpus_tab.py times it on the shared corpus."""
    from review.backlog import corpus_status

    docs = engine.store.documents()
    st = corpus_status(engine.pipe, engine.store, overlays, runs=RUNS, docs=docs)
    rows = [[d.source, d.status, d.pages, d.elements, d.chunks,
             d.enrich_left if d.status == "partial" else "", d.finished_at or ""]
            for d in sorted(docs.values(), key=lambda d: d.source)]
    # File names and error messages come from the documents: literal text, never Markdown.
    fail_md = "\n".join(f"- {md_text(f['source'])}: {md_text(f['error'] or '')}" for f in st["failed"]) \
        or "No failed documents."
    # md_text, not a code span: its escapes would show inside backticks
    models_md = (f"**Embedder:** {md_text(engine.embedder.model_id)}  \n"
                 f"**Answers ({md_text(engine.backend.kind)}):** {md_text(engine.backend.model_id)}  \n"
                 f"**Captions / summaries:** {_enrichment_models(engine)}  \n"
                 f"**Index:** {st['documents_ok']} documents, {st['chunks']} chunks, {len(st['failed'])} failed")
    runs = engine.store.runs(1)
    report = json.dumps(runs[0]["report"], indent=1, ensure_ascii=False) if runs else "{}"
    return rows, backlog_md(st), runs_chart(st["runs"]), fail_md, models_md, report


def backlog_md(st: dict[str, Any]) -> str:
    pending = st["enrich_pending"]
    items = f" ({st['enrich_items_left']} captions and table summaries)" if st["enrich_items_left"] else ""
    enrich = (f"{len(pending)} documents indexed with their text, enrichment left{items}: "
              "the next run makes it" if pending else "none, every caption and summary is made")
    queue = st.get("review_queue")
    review = "" if queue is None else f"  \n**Review queue:** {queue} elements to look at (Review tab)"
    return f"**Enrichment backlog:** {enrich}{review}"


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


# Plain HTML and a delegated listener (served in /folio-ui.js: the CSP runs no inline
# script): the file goes to /api/upload as the raw body, so Gradio's upload route stays
# closed. The server checks the role; a reader's click gets its 403 message. Status is
# set as text, never as HTML (it names files).
UPLOAD_HTML = """<div id="folio-docs">
<p><b>Add a document</b> (reviewers; PDF, DOCX, PPTX): it is indexed at once, captions and
summaries follow with the next run.</p>
<input type="file" id="folio-upload-file" accept="{accept}" multiple>
<button id="folio-upload-go" class="lg secondary">Upload and index</button>
<p><b>Remove or re-index</b> a document by its name in the table (only uploaded documents can be removed here).</p>
<input type="text" id="folio-doc-source" placeholder="document, e.g. uploads/report.pdf" size="40">
<button id="folio-doc-reindex" class="lg secondary">Re-index</button>
<button id="folio-doc-remove" class="lg secondary">Remove</button>
<pre id="folio-docs-status" aria-live="polite"></pre>
</div>"""
UPLOAD_SCRIPT = """
document.addEventListener('click', async (ev) => {
  const b = ev.target.closest && ev.target.closest('#folio-upload-go, #folio-doc-reindex, #folio-doc-remove');
  if (!b) return;
  ev.preventDefault();
  const status = document.getElementById('folio-docs-status');
  const say = (t) => { status.textContent = t; };
  const call = async (path, opts) => {
    const r = await fetch(new URL(path, document.baseURI), {method: 'POST', credentials: 'same-origin', ...opts});
    let j = {}; try { j = await r.json(); } catch (e) {}
    return (r.ok ? '' : 'Refused (' + r.status + '): ') + (j.message || j.error || r.statusText);
  };
  b.disabled = true;
  try {
    if (b.id === 'folio-upload-go') {
      const files = Array.from(document.getElementById('folio-upload-file').files || []);
      if (!files.length) { say('Choose a file first.'); return; }
      const lines = [];
      for (const f of files) {
        say(lines.concat([f.name + ': uploading and indexing...']).join('\\n'));
        lines.push(await call('api/upload?name=' + encodeURIComponent(f.name),
          {headers: {'content-type': 'application/octet-stream'}, body: f}));
      }
      say(lines.join('\\n'));
    } else {
      const source = document.getElementById('folio-doc-source').value.trim();
      if (!source) { say('Type the document name as the table shows it.'); return; }
      const what = b.id === 'folio-doc-remove' ? 'remove' : 'reindex';
      say(source + ': ' + (what === 'remove' ? 'removing...' : 're-indexing...'));
      say(await call('api/' + what, {headers: {'content-type': 'application/json'},
        body: JSON.stringify({source: source})}));
    }
    const refresh = document.querySelector('#folio-corpus-refresh');
    if (refresh) refresh.click();
  } catch (e) { say('Failed: ' + e); } finally { b.disabled = false; }
}, true);
"""


def build(engine: Engine, gr: Any, uploads: bool = False, overlays: OverlayStore | None = None) -> list[Any]:
    """The tab's components; returns the outputs of ``corpus_view`` (the app fills them on load)."""
    if uploads:
        accept = ",".join(engine.pipe.serve.upload_suffixes)
        gr.HTML(UPLOAD_HTML.replace("{accept}", html.escape(accept, quote=True)))
    refresh = gr.Button("Refresh", elem_id="folio-corpus-refresh")
    backlog = gr.Markdown(elem_id="folio-backlog")
    gr.Markdown("**Last nights**")
    chart = gr.HTML(elem_id="folio-runs-chart")
    table = gr.Dataframe(headers=COLUMNS, label="Documents", interactive=False, wrap=True,
                         elem_id="folio-documents")
    with gr.Row():
        failures = gr.Markdown(label="Failed files")
        models = gr.Markdown()
    with gr.Accordion("Last run report (JSON)", open=False):
        report = gr.Code(language="json", lines=12)
    outs = [table, backlog, chart, failures, models, report]
    refresh.click(lambda: corpus_view(engine, overlays), None, outs, api_name=False)
    export_ui.build(engine, gr)
    return outs
