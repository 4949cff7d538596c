"""The Review tab: the needs-review queue, browsing by document / page / kind, one element
beside its crop and its page (box drawn), edits (caption, summary, table cells), hide,
approve; orphaned overlays (re-attach, dismiss); the audit log.

Handlers are plain functions over ``review.reviewer.Reviewer``; the Gradio wiring is in
``build``. With login on, only the reviewer role may change anything (``can_edit``).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

import gradio as gr

from folio.untrusted import md_text
from review.reviewer import ReviewError
from ui.review_api import with_asset_urls

if TYPE_CHECKING:
    import pandas as pd

    from review.reviewer import Reviewer

MODES = ("Needs review", "Browse document", "Orphans")
ALL = "(all)"
# Read as a reader would at 1280 px: where it is and what it says first; why it is listed
# next; the id last and narrow (the row's click opens it; the id also goes to the box below).
LIST_COLUMNS = ["document", "page", "kind", "text", "why listed", "id"]
LIST_WIDTHS: list[str | int] = ["20%", "8%", "9%", "35%", "20%", "8%"]
# Smaller type than Gradio's default in the list, and the id cut to one line: at 1280 px
# every column stays wide enough for its header and the rows stay a few lines tall.
CSS = """
#review-list .body-cell, #review-list th {font-size: 13px;}
#review-list .virtual-row .body-cell:last-child * {white-space: nowrap !important; overflow: hidden;
  text-overflow: ellipsis;}
"""
AUDIT_COLUMNS = ["when (UTC)", "user", "action", "field", "document", "element", "previous", "new"]
PICK = "Pick an element from the list (or paste its id)."

# Keyboard next / previous in the list (served in /folio-ui.js: the CSP runs no inline
# script): j / k, or Alt+Down / Alt+Up, open the next / previous row, as a click on it
# would; keys typed in a text box are left alone, and only while the Review tab shows.
KEYS_SCRIPT = """
(() => {
  // Gradio's table draws its rows as div.virtual-row (only those in view) and opens one
  // on mousedown: the current row is remembered by its id (the last cell), not its place.
  const rowsOf = (list) => Array.from(list.querySelectorAll('.virtual-row'));
  const idOf = (row) => {
    const c = row.querySelectorAll('.body-cell');
    return c.length ? c[c.length - 1].textContent.trim() : '';
  };
  let current = null;
  document.addEventListener('mousedown', (ev) => {
    const row = ev.target.closest && ev.target.closest('#review-list .virtual-row');
    if (row) current = idOf(row);
  }, true);
  document.addEventListener('keydown', (ev) => {
    const t = ev.target;
    // keys typed in a text box are the reader's text; the list's own cells (it is read-only) are not
    const typing = t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
    if (typing && !t.closest('#review-list')) return;
    const list = document.querySelector('#review-list');
    if (!list || list.offsetParent === null) return;
    let step = 0;
    if (!ev.ctrlKey && !ev.metaKey && !ev.altKey && (ev.key === 'j' || ev.key === 'k')) step = ev.key === 'j' ? 1 : -1;
    else if (ev.altKey && (ev.key === 'ArrowDown' || ev.key === 'ArrowUp')) step = ev.key === 'ArrowDown' ? 1 : -1;
    if (!step) return;
    const rows = rowsOf(list);
    if (!rows.length) return;
    ev.preventDefault();
    const at = rows.findIndex((r) => idOf(r) === current);
    const row = rows[at < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, at + step))];
    row.scrollIntoView({block: 'nearest'});
    const cell = row.querySelector('.body-cell');
    if (!cell) return;
    for (const type of ['mousedown', 'mouseup', 'click']) cell.dispatchEvent(new MouseEvent(type, {bubbles: true}));
  });
})();
"""


def listing(review: Reviewer, mode: str, doc: str | None, page: float | None, kind: str | None) -> list[list[Any]]:
    source = doc if doc and doc != ALL else None
    k = kind if kind and kind != ALL else None
    if mode == "Orphans":
        return [[o["source"], o["page"], o["kind"], o["preview"], f"orphaned: {o['orphan_reason'] or ''}",
                 o["content_hash"]] for o in review.orphans()]
    if mode == "Browse document":
        if not source:
            return []
        p = int(page) if page else None
        return [[source, r["page"], r["kind"], r["preview"], r["state"], r["element_id"]]
                for r in review.browse(source, p, k)]
    return [[q["source"], q["page"], q["kind"], q["preview"], f"{q['score']:g}: " + "; ".join(q["reasons"]),
             q["element_id"]] for q in review.queue(source, k)]


def _img(u: str | None, alt: str) -> str:
    return f'<img src="{escape(u)}" alt="{escape(alt)}" style="max-width:100%;max-height:520px">' if u else ""


def _view(head: str, crop: str = "", page: str = "", table: str = "", grid: Any = None, caption: str | None = None,
          summary: str | None = None) -> tuple[Any, ...]:
    """Updates of (head, crop, page, table html, grid, save grid, caption, save caption,
    summary, save summary, status): the edit boxes show only where they apply."""
    is_grid, is_cap, is_sum = grid is not None, caption is not None, summary is not None
    return (head, crop, page, table, gr.update(value=grid, visible=is_grid), gr.update(visible=is_grid),
            gr.update(value=caption or "", visible=is_cap), gr.update(visible=is_cap),
            gr.update(value=summary or "", visible=is_sum), gr.update(visible=is_sum), "")


def element_view(review: Reviewer, element_id: str) -> tuple[Any, ...]:
    import pandas as pd

    eid = (element_id or "").strip()
    if not eid:
        return _view(PICK)
    el = review.element(eid)
    if el is None:
        return _view(f"No element {md_text(eid)} in the index.")
    el = with_asset_urls(el)
    state = [s for s in ("hidden", "approved") if el[s]]
    if el["overlay"] and el["overlay"]["values"]:
        state.append(f"edited by {el['overlay']['updated_by']}")
    flags = [f for f in el["flags"] if f["open"]]
    if flags:
        state.append(f"flagged {len(flags)}x")
    # Everything from the document or a model is shown as literal text (md_text): Markdown
    # there must not fetch an image or make a link.
    head = (f"**{md_text(el['source'])}** · page {el['page'] or '-'} · {el['kind']} ({md_text(el['role'])})"
            f"{' · ' + md_text(', '.join(state)) if state else ''}  \n<small>element `{el['id']}` · content hash "
            f"`{el['content_hash']}`{' · caption by ' + md_text(el['caption_model']) if el['caption_model'] else ''}"
            f"{' · summary by ' + md_text(el['summary_model']) if el['summary_model'] else ''}</small>")
    table_html = f'<div class="folio-card"><div class="tbl">{el["html"]}</div></div>' if el.get("html") else ""
    grid = pd.DataFrame(el["grid"], columns=[str(i + 1) for i in range(len(el["grid"][0]))]) \
        if el.get("grid") else None
    text = "" if el["kind"] == "table" else f"\n\n{md_text(el['text'][:600])}" if el["text"] else ""
    return _view(head + text, _img(el["crop_url"], "crop"), _img(el["page_url"], "page with the element's box"),
                 table_html, grid, (el.get("caption") or "") if el["kind"] == "image" else None,
                 (el.get("summary") or "") if el["kind"] == "table" else None)


def apply_edit(review: Reviewer, element_id: str, field: str, value: Any, user: str, allowed: bool) -> str:
    """Markdown saying what happened (or why not)."""
    if not allowed:
        return f"**Not saved:** user {md_text(user)} has the reader role; editing needs the reviewer role."
    eid = (element_id or "").strip()
    if not eid:
        return "**Not saved:** no element open."
    try:
        out = review.edit(eid, field, value, user)
    except ReviewError as e:
        return f"**Not saved ({e.status}):** {md_text(str(e))}"
    r = out["refresh"]
    done = f"re-indexed: {r['chunks_embedded']} chunk(s) re-embedded in {r['seconds']:.2f} s" if r else "saved"
    return f"✅ **Saved** {field} ({done})."


def grid_value(df: pd.DataFrame | None) -> dict[str, Any]:
    if df is None:
        return {"cells": []}
    rows = df.fillna("").astype(str).values.tolist()
    return {"cells": [[str(v) for v in row] for row in rows]}


def audit_rows(review: Reviewer, limit: int = 200) -> list[list[Any]]:
    import time

    def short(v: Any) -> str:
        s = v if isinstance(v, str) else "" if v is None else str(v)
        return s if len(s) <= 120 else s[:117] + "..."

    return [[time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(a["at"])), a["user"], a["action"], a["field"] or "",
             a["source"] or "", a["element_id"] or "", short(a["previous"]), short(a["new"])]
            for a in review.audit(limit)]


def _const(value: Any) -> Callable[[Any], Any]:
    def const(_ignored: Any) -> Any:
        return value
    return const


def build(review: Reviewer, docs: list[str], role_of: Callable[[Any], tuple[str, bool]]) -> tuple[Any, Any, Any]:
    """The tab's components and events (inside a ``gr.Blocks`` tab). ``role_of(request)``
    gives (user name, may edit). Returns (fn, inputs, outputs) that fill the list, for the
    app to run when the tab is opened."""
    with gr.Row():
        with gr.Column(scale=6):
            mode = gr.Radio(list(MODES), value=MODES[0], label="List", elem_id="review-mode")
            with gr.Row():
                doc = gr.Dropdown([ALL, *docs], value=ALL, label="Document", scale=3, elem_id="review-doc")
                page = gr.Number(label="Page (0: all)", value=0, precision=0, scale=1, minimum=0)
                kind = gr.Dropdown([ALL, "text", "table", "image"], value=ALL, label="Kind", scale=1)
            refresh = gr.Button("Refresh list", elem_id="review-refresh")
            items = gr.Dataframe(headers=LIST_COLUMNS, interactive=False, wrap=True, elem_id="review-list",
                                 column_widths=LIST_WIDTHS, max_height=560,
                                 label="Click a row to open it; j / k (or Alt+↓ / Alt+↑) open the next / previous")
            with gr.Row():
                eid = gr.Textbox(label="Element id", scale=4, elem_id="review-element-id")
                open_btn = gr.Button("Open", scale=1, elem_id="review-open")
        with gr.Column(scale=5):
            head = gr.Markdown(PICK, elem_id="review-head")
            with gr.Row():
                crop = gr.HTML(elem_id="review-crop")
                page_img = gr.HTML(elem_id="review-page")
            table_html = gr.HTML(elem_id="review-table")
            grid = gr.Dataframe(label="Table cells (edit, then Save cells)", interactive=True, wrap=True,
                                elem_id="review-grid", visible=False)
            save_grid = gr.Button("Save cells", elem_id="review-save-cells", visible=False)
            caption = gr.Textbox(label="Caption", lines=2, elem_id="review-caption", visible=False)
            save_caption = gr.Button("Save caption", elem_id="review-save-caption", visible=False)
            summary = gr.Textbox(label="Summary", lines=3, elem_id="review-summary", visible=False)
            save_summary = gr.Button("Save summary", elem_id="review-save-summary", visible=False)
            with gr.Row():
                hide = gr.Button("Hide", elem_id="review-hide")
                unhide = gr.Button("Unhide", elem_id="review-unhide")
                approve = gr.Button("Approve", variant="primary", elem_id="review-approve")
            status = gr.Markdown(elem_id="review-status")
    with gr.Accordion("Orphaned edits: re-attach or dismiss", open=False):
        gr.Markdown("An edit whose element is gone after a re-ingest (its content changed or the document went). "
                    "List them with **Orphans** above; re-attach one to the element that replaced it, or dismiss it.")
        with gr.Row():
            orphan_hash = gr.Textbox(label="Orphan's content hash", scale=3)
            target = gr.Textbox(label="Attach to element id", scale=3)
            reattach = gr.Button("Re-attach", scale=1)
            dismiss = gr.Button("Dismiss", scale=1)
    with gr.Accordion("Audit log", open=False):
        gr.Markdown("Every change with who, when, the previous and the new value. Export: "
                    "[JSON](/api/review/audit?format=json) · [CSV](/api/review/audit?format=csv)")
        audit_btn = gr.Button("Show the audit log")
        audit = gr.Dataframe(headers=AUDIT_COLUMNS, interactive=False, wrap=True, elem_id="review-audit")

    view = [head, crop, page_img, table_html, grid, save_grid, caption, save_caption, summary, save_summary, status]

    def _list(m: str, d: str, p: float | None, k: str) -> Any:
        return listing(review, m, d, p, k)

    for trigger in (refresh.click, mode.change, doc.change, kind.change):
        trigger(_list, [mode, doc, page, kind], [items], api_visibility="private")
    loader = (_list, [mode, doc, page, kind], [items])

    def _pick(df: Any, m: str, evt: gr.SelectData) -> tuple[Any, ...]:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        value = str(df.iloc[row, -1]) if df is not None and len(df) > row else ""
        if m == "Orphans":
            return ("", value, *_view(PICK))
        return (value, "", *element_view(review, value))

    # always_last: j j j in quick succession opens the last row reached (the default, "once",
    # drops a selection made while the previous one is still being answered)
    items.select(_pick, [items, mode], [eid, orphan_hash, *view], api_visibility="private", trigger_mode="always_last")
    open_btn.click(lambda e: element_view(review, e), [eid], view, api_visibility="private")
    eid.submit(lambda e: element_view(review, e), [eid], view, api_visibility="private")

    def _saver(field: str, convert: Callable[[Any], Any]) -> Callable[..., tuple[Any, ...]]:
        def save(e: str, value: Any, request: gr.Request) -> tuple[Any, ...]:
            user, allowed = role_of(request)
            msg = apply_edit(review, e, field, convert(value), user, allowed)
            return (*element_view(review, e)[:-1], msg)
        return save

    save_caption.click(_saver("caption", str), [eid, caption], view, api_visibility="private")
    save_summary.click(_saver("summary", str), [eid, summary], view, api_visibility="private")
    save_grid.click(_saver("table", grid_value), [eid, grid], view, api_visibility="private")
    for btn, field, value in ((hide, "hidden", True), (unhide, "hidden", False), (approve, "approved", True)):
        btn.click(_saver(field, _const(value)), [eid, eid], view, api_visibility="private")

    def _orphan(action: str) -> Callable[..., tuple[str, Any]]:
        def run(h: str, t: str, request: gr.Request) -> tuple[str, Any]:
            user, allowed = role_of(request)
            if not allowed:
                return f"**Not done:** user {md_text(user)} has the reader role.", gr.update()
            try:
                if action == "reattach":
                    review.reattach(h.strip(), t.strip(), user)
                else:
                    review.dismiss(h.strip(), user)
            except ReviewError as e:
                return f"**Not done ({e.status}):** {md_text(str(e))}", gr.update()
            return f"**Done:** {action} {md_text(h.strip())}.", listing(review, "Orphans", None, None, None)
        return run

    reattach.click(_orphan("reattach"), [orphan_hash, target], [status, items], api_visibility="private")
    dismiss.click(_orphan("dismiss"), [orphan_hash, target], [status, items], api_visibility="private")
    audit_btn.click(lambda: audit_rows(review), None, [audit], api_visibility="private")
    return loader
