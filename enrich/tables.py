"""Tables: sanitized HTML for every table, and a summary written by the LLM.

The summary says what the table is about, its columns and its key figures, copied
exactly (sentences with numbers that are not in the table are dropped). A table too big
for the model's context is summarized from its header and evenly sampled rows, and the
prompt says so.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from enrich.cache import EnrichCache, content_hash
from enrich.engines import EnrichModels
from enrich.prompts import TABLE_SUMMARY_VERSION, check_summary, table_summary_messages
from folio.config import EnrichSettings
from folio.element import Element
from folio.sanitize import sanitize_table_html, table_rows

log = logging.getLogger(__name__)

MAX_CELL_CHARS = 80
# Room for the system message, instructions and chat template around the table.
PROMPT_OVERHEAD_TOKENS = 320


@dataclass(frozen=True)
class TableJob:
    index: int
    rows: tuple[tuple[str, ...], ...]
    n_header: int
    title: str
    chash: str


def sanitize_tables(elements: list[Element]) -> list[Element]:
    """Every table's HTML through the allow-list (cheap, no model; always done)."""
    out = []
    for el in elements:
        if el.kind == "table" and el.html:
            clean = sanitize_table_html(el.html)
            if clean != el.html:
                el = dataclasses.replace(el, html=clean)
        out.append(el)
    return out


def _rows_from_text(text: str) -> list[list[str]]:
    sep = "\t" if "\t" in text else "|"
    return [[c.strip() for c in line.strip().strip("|").split(sep)] for line in text.splitlines() if line.strip()]


def plan_tables(elements: list[Element], min_cells: int = 0) -> tuple[list[TableJob], dict[int, str]]:
    """(summary jobs, {element index: why it gets no summary})."""
    jobs: list[TableJob] = []
    skipped: dict[int, str] = {}
    for i, el in enumerate(elements):
        if el.kind != "table":
            continue
        caption = ""
        if el.html:
            rows, n_header, caption = table_rows(el.html)
        else:
            rows, n_header = _rows_from_text(el.text), 1
        if not rows:
            skipped[i] = "empty table"
            continue
        cells = sum(1 for r in rows for c in r if c.strip())
        if cells < min_cells:
            skipped[i] = f"small table ({cells} cells < enrich.min_table_cells {min_cells})"
            continue
        title = " — ".join(t for t in (" > ".join(el.section), str(el.meta.get("caption_text") or caption)) if t)
        frozen = tuple(tuple(r) for r in rows)
        chash = content_hash(title, "\n".join("\x1f".join(r) for r in frozen), str(n_header))
        jobs.append(TableJob(i, frozen, n_header, title, chash))
    return jobs, skipped


def _line(row: tuple[str, ...]) -> str:
    return " | ".join(c if len(c) <= MAX_CELL_CHARS else c[:MAX_CELL_CHARS] + "…" for c in row)


def _sample(n: int, k: int) -> list[int]:
    """k indices spread evenly over range(n), always including the first and last."""
    if k >= n:
        return list(range(n))
    if k <= 1:
        return [0]
    return sorted({round(j * (n - 1) / (k - 1)) for j in range(k)})


def render_table(
    job: TableJob, budget_tokens: int, count_tokens: Callable[[str], int]
) -> tuple[str, str]:
    """(table text, note for the prompt) fitting ``budget_tokens``."""
    header = [_line(r) for r in job.rows[: job.n_header]]
    body = job.rows[job.n_header :]
    full = "\n".join(header + [_line(r) for r in body])
    if count_tokens(full) <= budget_tokens:
        return full, ""
    lo, hi = 1, len(body)
    best = "\n".join([*header, _line(body[0])]) if body else "\n".join(header)
    while lo <= hi:  # the most evenly sampled rows that still fit
        k = (lo + hi) // 2
        text = "\n".join(header + [_line(body[i]) for i in _sample(len(body), k)])
        if count_tokens(text) <= budget_tokens:
            best, lo = text, k + 1
        else:
            hi = k - 1
    shown = len(best.splitlines()) - len(header)
    note = (
        f"The table is too long to show whole: this is its header and {shown} of its "
        f"{len(body)} rows, sampled evenly; say that the summary covers a sample."
    )
    return best, note


def _params(settings: EnrichSettings, models: EnrichModels) -> dict[str, Any]:
    # n_ctx bounds how much of a long table the prompt can show
    return {
        "input_tokens": settings.summary_input_tokens,
        "max_tokens": settings.summary_max_tokens,
        "n_ctx": models.settings.n_ctx,
    }


def cached_summary(
    job: TableJob, models: EnrichModels, cache: EnrichCache, settings: EnrichSettings
) -> dict[str, Any] | None:
    value = cache.get("summary", job.chash, str(models.llm_id), TABLE_SUMMARY_VERSION, _params(settings, models))
    return None if value is None else finish_summary(job, value)


def make_summary(
    job: TableJob, models: EnrichModels, cache: EnrichCache, settings: EnrichSettings
) -> dict[str, Any]:
    """Ask the model, store what it said in the cache, return the checked summary."""
    llm = models.llm()
    room = llm.n_ctx - settings.summary_max_tokens - PROMPT_OVERHEAD_TOKENS - llm.count_tokens(job.title)
    budget = min(room, settings.summary_input_tokens)
    text, note = render_table(job, max(budget, 64), llm.count_tokens)
    raw = llm.chat(table_summary_messages(text, job.title, note), max_tokens=settings.summary_max_tokens)
    # The model's own words are cached; the checks run on every use (finish_summary).
    value: dict[str, Any] = {"raw": raw, "model": models.llm_id, "sampled": bool(note)}
    cache.put("summary", job.chash, str(models.llm_id), TABLE_SUMMARY_VERSION, value, _params(settings, models))
    return finish_summary(job, value)


def finish_summary(job: TableJob, value: dict[str, Any]) -> dict[str, Any]:
    """The summary to apply: the model's output through the current checks. Entries cached
    before the raw output was kept hold the checked summary, or the output under "rejected"."""
    raw = value["raw"] if "raw" in value else value.get("summary") or value.get("rejected") or ""
    n_cols = max((len(r) for r in job.rows), default=0)
    allowed = {str(n_cols), str(len(job.rows)), str(len(job.rows) - job.n_header)}
    summary = check_summary(raw, "\n".join(_line(r) for r in job.rows) + "\n" + job.title, allowed)
    out: dict[str, Any] = {"summary": summary, "model": value.get("model"), "sampled": bool(value.get("sampled"))}
    if summary is None:
        log.info("summary of table %d failed the output checks: %r", job.index, raw[:200])
        out["rejected"] = raw[:500]
    return out


def apply_summary(el: Element, value: dict[str, Any]) -> Element:
    meta = dict(el.meta)
    if value.get("sampled"):
        meta["summary_sampled"] = True
    if value.get("rejected"):
        meta["summary_rejected"] = value["rejected"]
    if value.get("summary") is None:
        return dataclasses.replace(el, meta=meta)
    return dataclasses.replace(el, summary=value["summary"], summary_model=value["model"], meta=meta)
