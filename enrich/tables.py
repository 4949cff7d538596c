"""Tables: sanitized HTML for every table, and a summary the LLM phrases from facts.

Code computes what a summary may state from the whole grid (enrich/table_facts.py); the
model only puts as many of those facts into words as its token budget holds. Every
figure and superlative of its summary is checked against the grid (enrich/claims.py)
before it is stored; a summary that fails is asked for again once, with fewer facts, and
when that fails too the facts themselves are stored in plain words and the table goes
into the review queue (meta ``summary_fallback``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from enrich.cache import EnrichCache, content_hash
from enrich.claims import summary_problems
from enrich.engines import EnrichModels
from enrich.prompts import TABLE_SUMMARY_VERSION, clean_summary, table_summary_messages
from enrich.table_facts import Fact, Grid, facts_text, read_grid, table_facts
from folio.config import EnrichSettings
from folio.element import Element
from folio.sanitize import sanitize_table_html, table_rows

log = logging.getLogger(__name__)

MAX_CELL_CHARS = 80
# summary_model of a summary made of the computed facts (the model's failed the checks)
FACTS_MODEL = "facts"


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


# A summary says a fact in about as many tokens as the fact takes, plus connecting words.
PHRASING_FACTOR = 1.2


def _line(row: tuple[str, ...]) -> str:
    return " | ".join(c if len(c) <= MAX_CELL_CHARS else c[:MAX_CELL_CHARS] + "…" for c in row)


def job_grid(job: TableJob) -> Grid:
    return read_grid(job.rows, job.n_header, job.title)


def fitting_facts(
    facts: list[Fact], max_tokens: int, input_tokens: int, count_tokens: Callable[[str], int]
) -> list[str]:
    """The facts, in order, whose phrasing fits ``max_tokens`` (so no sentence is cut) and
    whose text fits the prompt's ``input_tokens``; one too long is passed over for the
    shorter ones after it. At least one."""
    out: list[str] = []
    used = 0
    for f in facts:
        n = count_tokens(f.text)
        if out and ((used + n) * PHRASING_FACTOR > max_tokens or used + n > input_tokens):
            continue
        out.append(f.text)
        used += n
    return out


def _params(settings: EnrichSettings, models: EnrichModels) -> dict[str, Any]:
    # the token limits decide how many facts the model is given to phrase
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
    """Ask the model (twice at most), store what it said in the cache, return the checked summary."""
    llm = models.llm()
    grid = job_grid(job)
    facts = fitting_facts(table_facts(grid), settings.summary_max_tokens, settings.summary_input_tokens,
                          llm.count_tokens)
    raws = [llm.chat(table_summary_messages(facts, job.title), max_tokens=settings.summary_max_tokens)]
    if _checked(raws[0], job, grid)[1]:
        # Asked again with half the facts: fewer things to say, less room to invent.
        fewer = facts[: max(1, len(facts) // 2)]
        raws.append(llm.chat(table_summary_messages(fewer, job.title), max_tokens=settings.summary_max_tokens))
    # The model's own words are cached; the checks run on every use (finish_summary).
    value: dict[str, Any] = {"raw": raws[0], "retry": raws[1:], "model": models.llm_id}
    cache.put("summary", job.chash, str(models.llm_id), TABLE_SUMMARY_VERSION, value, _params(settings, models))
    return finish_summary(job, value)


def _checked(raw: str, job: TableJob, grid: Grid) -> tuple[str | None, list[str]]:
    """(the cleaned summary, why it may not be stored: [] when it may)."""
    text = clean_summary(raw, "\n".join(_line(r) for r in job.rows) + "\n" + job.title)
    return text, (summary_problems(text, grid) if text else ["nothing usable left"])


def finish_summary(job: TableJob, value: dict[str, Any]) -> dict[str, Any]:
    """The summary to apply: the model's first output that passes the current checks, else
    the computed facts in plain words, queued for review. Entries cached before the raw
    output was kept hold the checked summary, or the output under "rejected"."""
    raw = value["raw"] if "raw" in value else value.get("summary") or value.get("rejected") or ""
    grid = job_grid(job)
    out: dict[str, Any] = {"model": value.get("model")}
    problems: list[str] = []
    for attempt in [raw, *value.get("retry", [])]:
        text, why = _checked(attempt, job, grid)
        if not why:
            return {**out, "summary": text}
        problems += [p for p in why if p not in problems]
    facts = facts_text(table_facts(grid))
    log.info("summary of table %d failed the checks (%s): stored the computed facts", job.index, "; ".join(problems))
    return {**out, "summary": facts, "model": FACTS_MODEL, "rejected": raw[:500],
            "fallback": "; ".join(problems)[:300]}


def apply_summary(el: Element, value: dict[str, Any]) -> Element:
    meta = dict(el.meta)
    if value.get("rejected"):
        meta["summary_rejected"] = value["rejected"]
    if value.get("fallback"):
        meta["summary_fallback"] = value["fallback"]
    if value.get("summary") is None:
        return dataclasses.replace(el, meta=meta)
    return dataclasses.replace(el, summary=value["summary"], summary_model=value["model"], meta=meta)
