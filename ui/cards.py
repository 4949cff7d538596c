"""Citation cards as HTML. Document text is escaped (rendered as text, never as HTML);
table HTML was sanitized to table tags only (folio/sanitize.py, again in citations.py)."""

from __future__ import annotations

from html import escape
from typing import Any

from answer.context import where
from ui.assets import url

CSS = """
.folio-cards {display: flex; flex-direction: column; gap: 10px;}
.folio-card {border: 1px solid #d0d4db; border-radius: 8px; padding: 8px 10px; background: #fff;
  color: #1f2328; text-decoration: none; display: block;}
.folio-card:hover {border-color: #e4572e;}
.folio-card .head {font-weight: 600; font-size: 0.92em; margin-bottom: 4px;}
.folio-card .stale {color: #b3261e; font-weight: 600;}
.folio-card img {max-width: 100%; max-height: 260px; border: 1px solid #eee; display: block; margin: 4px 0;}
.folio-card .text {font-size: 0.88em; white-space: pre-wrap; max-height: 9em; overflow: hidden;}
.folio-card table {border-collapse: collapse; font-size: 0.8em; margin: 4px 0;}
.folio-card td, .folio-card th {border: 1px solid #ccd; padding: 1px 4px;}
.folio-card .tbl {max-height: 240px; overflow: auto;}
.folio-card .caption {font-style: italic; font-size: 0.86em;}
.folio-pending {opacity: 0.75;}
.folio-cardwrap {display: flex; flex-direction: column; gap: 2px;}
.folio-flag {align-self: flex-end; font-size: 0.8em; border: 1px solid #d0d4db; border-radius: 6px;
  background: #fff; color: #8a4b00; padding: 1px 8px; cursor: pointer;}
.folio-flag:disabled {color: #5b6270; cursor: default;}
.folio-unsupported {color: #8a4b00; font-size: 0.9em;}
.folio-grid {font-size: 0.85em;}
.folio-grid summary {cursor: pointer; color: #3a5ea8;}
.folio-grid .tbl {max-height: 280px; overflow: auto;}
.folio-grid table {border-collapse: collapse; margin: 4px 0;}
.folio-grid td, .folio-grid th {border: 1px solid #ccd; padding: 1px 5px; text-align: left; vertical-align: top;}
.folio-grid th {background: #f1f3f6;}
"""
GRID_ROWS, GRID_COLS, GRID_CELL = 60, 20, 200  # what a card's grid shows at most


# A citation card's "Flag" button reports a wrong caption, table or text to the reviewers
# (POST /api/review/flag). One delegated listener: the cards are re-rendered as HTML on
# every answer, and gr.HTML does not run scripts inside its value. Served as a file
# (/folio-ui.js): the CSP allows no inline script the server did not nonce.
HEAD = '<script src="folio-ui.js" defer></script>'
UI_SCRIPT = """
document.addEventListener('click', async (ev) => {
  const b = ev.target.closest && ev.target.closest('.folio-flag');
  if (!b) return;
  ev.preventDefault(); ev.stopPropagation();
  const ids = (b.dataset.elements || '').split(',').filter(Boolean);
  b.disabled = true;
  try {
    const r = await fetch(new URL('api/review/flag', document.baseURI), {method: 'POST',
      headers: {'content-type': 'application/json'}, credentials: 'same-origin',
      body: JSON.stringify({element_ids: ids, note: 'flagged from a citation card'})});
    b.textContent = r.ok ? 'Flagged for review' : 'Flag failed (' + r.status + ')';
    if (!r.ok) b.disabled = false;
  } catch (e) { b.textContent = 'Flag failed'; b.disabled = false; }
}, true);
"""


def _head(c: dict[str, Any]) -> str:
    loc = where(c.get("source", ""), c.get("page"), c.get("page_label"))
    head = f"[{c['n']}] {escape(c.get('source', ''))}"
    if loc:
        head += f" · {escape(loc)}"
    head += f" · {escape(c.get('kind') or '')}"
    stale = c.get("stale")
    if stale:
        head += f' <span class="stale">(document {escape(stale)} since this answer)</span>'
    return head


def card(c: dict[str, Any]) -> str:
    """One citation. The picture is the element's crop (tables, figures) or, for text, the
    page with the element's box drawn; the card links to the whole page with the box."""
    boxes = c.get("boxes") or ([c["bbox"]] if c.get("bbox") else None)
    page_url = url(c.get("page_image"), boxes)
    if c.get("kind") == "text":
        img = page_url
    else:
        img = url(c.get("image")) or page_url
    parts = [f'<div class="head">{_head(c)}</div>']
    if img:
        parts.append(f'<img src="{escape(img)}" alt="{escape(c.get("kind") or "element")} from the document" '
                     'loading="lazy">')
    grid = grid_html(c["html"]) if c.get("kind") == "table" and c.get("html") else ""
    if grid:
        # The table's own grid, one click away below the card (opened at once when there is
        # no picture): built here from the cells' text, so no document markup reaches the page.
        grid = (f'<details class="folio-grid"{"" if img else " open"}><summary>Table grid</summary>'
                f'<div class="tbl">{grid}</div></details>')
    elif c.get("text"):
        parts.append(f'<div class="text">{escape(c["text"][:700])}</div>')
    if c.get("caption"):
        parts.append(f'<div class="caption">{escape(c["caption"][:400])}</div>')
    inner = "".join(parts)
    if page_url:
        body = (f'<a class="folio-card" href="{escape(page_url)}" target="_blank" rel="noopener" '
                f'title="Open the whole page with the box drawn">{inner}</a>')
    else:
        body = f'<div class="folio-card">{inner}</div>'
    ids = ",".join(c.get("element_ids") or [])
    flag = (f'<button type="button" class="folio-flag" data-elements="{escape(ids)}" '
            'title="Tell the reviewers this source is wrong (caption, table, text)">Flag</button>') if ids else ""
    # the grid's switch sits outside the card's link (a control inside a link would open the page)
    return f'<div class="folio-cardwrap">{body}{grid}{flag}</div>' if grid or flag else body


def grid_html(table_html: str) -> str:
    """A table's cells as a grid of escaped text (first row as the header), cut to
    GRID_ROWS x GRID_COLS; "" when the HTML holds no cell."""
    from folio.table_grid import html_to_cells, normalize_cells, to_dense

    dense = to_dense(normalize_cells(html_to_cells(table_html, nested=False)))
    if not dense or not dense[0]:
        return ""

    def row(values: list[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{escape(v[:GRID_CELL])}</{tag}>" for v in values[:GRID_COLS]) + "</tr>"

    rows, cols = len(dense), len(dense[0])
    body = "".join(row(r, "td") for r in dense[1:GRID_ROWS])
    cut = (f"<caption>first {min(rows, GRID_ROWS)} of {rows} rows, {min(cols, GRID_COLS)} of {cols} columns"
           "</caption>") if rows > GRID_ROWS or cols > GRID_COLS else ""
    return f"<table>{cut}<thead>{row(dense[0], 'th')}</thead><tbody>{body}</tbody></table>"


def cards(citations: list[dict[str, Any]], title: str = "Cited") -> str:
    if not citations:
        return ""
    return f'<div class="folio-cards"><b>{escape(title)}</b>{"".join(card(c) for c in citations)}</div>'


def pending(sources: list[dict[str, Any]]) -> str:
    """Retrieved blocks, shown before the first token; replaced by the cited ones after."""
    if not sources:
        return '<div class="folio-pending">No passage in the index matches this question.</div>'
    rows = []
    for s in sources:
        loc = where(s.get("source", ""), s.get("page"), s.get("page_label"))
        img = url(s.get("image"))
        pic = f'<img src="{escape(img)}" alt="" loading="lazy">' if img else ""
        rows.append(f'<div class="folio-card folio-pending"><div class="head">[{s["n"]}] '
                    f'{escape(s.get("source", ""))}{" · " + escape(loc) if loc else ""} · {escape(s.get("kind", ""))}'
                    f'</div>{pic}<div class="text">{escape(s.get("text", "")[:300])}</div></div>')
    return f'<div class="folio-cards"><b>Sources found (reading...)</b>{"".join(rows)}</div>'


def _why(u: dict[str, Any]) -> str:
    if u.get("figures"):
        return f"figures {', '.join(map(str, u['figures']))} are in no source"
    return str(u.get("reason") or "not in the cited source")


def unsupported(items: list[dict[str, Any]]) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{escape(str(u['sentence']))} ({escape(_why(u))})</li>" for u in items)
    return f'<div class="folio-unsupported"><b>Not supported by the sources:</b><ul>{lis}</ul></div>'
