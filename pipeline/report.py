"""The run report: what a run saw and did, as JSON (runs table, reports/) and one line for cron."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from enrich.stage import EnrichStats
    from folio.element import Element
    from folio.storage import Blobs

# Keys of RunReport.counts, in the order the summary prints them.
COUNT_KEYS = (
    "seen",
    "new",
    "changed",
    "unchanged",
    "deleted",
    "ok",
    "enrich_pending",  # of "ok": indexed with their text, enrichment left for a later run
    "failed",
    "failed_known",  # failed before, unchanged since: not retried, still listed by status
    "skipped_by_budget",
    "skipped_by_signal",
)


@dataclass
class DocResult:
    source: str
    status: str  # ok | partial (enrichment unfinished) | error | unchanged | failed_known | deleted | skipped
    reason: str = ""  # new | changed | fingerprint | model | repair | ...
    pages: int = 0
    elements: int = 0
    chunks: int = 0
    seconds: float = 0.0
    error: str | None = None
    warning: str | None = None  # indexed, with something missing (e.g. no page images)


# Control characters (a carriage return, an escape sequence) in a file name or an error
# would redraw a terminal or spoof lines in a cron log: shown as "?".
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ProgressLines:
    """One plain line per finished document on a stream that is not a terminal (cron
    logs; a terminal gets the progress bar instead): no carriage returns, no colours.
    A document enriched in phase 2 gets a second line."""

    def __init__(self, pipeline: str, out: TextIO) -> None:
        self.prefix = f"folio run {_CONTROL.sub('?', pipeline)}"
        self.out = out
        self.seen: set[str] = set()

    def __call__(self, d: DocResult) -> None:
        again = d.source in self.seen
        self.seen.add(d.source)
        # phase 2 of a document indexed now, or of one an earlier run left with enrichment to do
        enriched = again or d.reason == "enrich"
        what = {"ok": "enriched" if enriched else "indexed", "error": "FAILED",
                "partial": "enrichment left" if enriched else "indexed, enrichment follows"}.get(d.status, d.status)
        line = f"{self.prefix}: [{len(self.seen)}] {what}: {d.source}"
        if d.status == "error":
            line += f": {d.error or 'unknown error'}"
        else:
            line += f" ({d.pages} pages, {d.chunks} chunks, {d.seconds:.1f} s)"
        if d.warning:
            line += f"; {d.warning}"
        self.out.write(_CONTROL.sub("?", line[:1000]) + "\n")
        self.out.flush()


def render_note(elements: list[Element], result: DocResult, report: RunReport) -> None:
    """An office document whose LibreOffice conversion failed or timed out is indexed
    without page images: the report says so (partition/office/pages.py marks it)."""
    state = elements[0].meta.get("office_render") if elements else None
    if isinstance(state, dict) and state.get("status") == "failed":
        result.warning = f"indexed without page images: {state.get('error')}"
        report.notes.append(f"{result.source}: {result.warning}")


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def iso(t: float) -> str:
    """UTC with milliseconds: runs sort by this string, and runs can be seconds apart."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


@dataclass
class RunReport:
    run_id: str
    pipeline: str
    index: str
    started: float = field(default_factory=time.time)
    finished: float | None = None
    status: str = "running"  # ok | partial | failed
    stopped: str | None = None  # why the run stopped early: "budget" | "SIGTERM" | "SIGINT" | fatal message
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    documents: list[DocResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repaired_rows: int = 0
    # enrichment totals of the run: captions, summaries (applied), made (model items run
    # now; the rest came from the cache), skipped, failed, left (for a later run)
    enrich: dict[str, int] = field(default_factory=dict)
    # review overlays: re-applied (count), orphaned (list: content hash, source, reason)
    review: dict[str, Any] = field(default_factory=dict)
    # seconds of each phase: "index" (every document searchable), "enrich" (the backfill)
    phases: dict[str, float] = field(default_factory=dict)

    def add(self, result: DocResult) -> None:
        self.documents.append(result)

    def add_enrichment(self, stats: EnrichStats) -> None:
        for key, n in (("captions", stats.captions), ("summaries", stats.summaries), ("made", stats.made),
                       ("skipped", len(stats.skipped)), ("failed", len(stats.failed)), ("left", stats.left)):
            self.enrich[key] = self.enrich.get(key, 0) + n

    def finish(self) -> None:
        self.finished = time.time()
        failed = self.counts["failed"]
        if self.stopped and self.stopped not in ("budget", "SIGTERM", "SIGINT"):
            self.status = "failed"
        elif failed and not self.counts["ok"] and failed == self.counts["new"] + self.counts["changed"]:
            self.status = "failed"  # everything attempted failed
        elif failed or self.stopped:
            self.status = "partial"
        else:
            self.status = "ok"

    @property
    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "index": self.index,
            "started_at": iso(self.started),
            "finished_at": iso(self.finished) if self.finished else None,
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "stopped": self.stopped,
            "counts": dict(self.counts),
            "repaired_rows": self.repaired_rows,
            "enrich": dict(self.enrich),
            "review": dict(self.review),
            "phases": dict(self.phases),
            "notes": list(self.notes),
            "documents": [asdict(d) for d in self.documents],
        }

    def write(self, blobs: Blobs) -> str:
        """reports/<run_id>.json plus reports/last.json beside the index (each written
        atomically: a file renamed into place, or one object put); returns where."""
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False).encode("utf-8")
        key = f"reports/{self.run_id}.json"
        for target in (key, "reports/last.json"):
            blobs.write(target, text)
        return f"{blobs.where}/{key}"

    def summary_lines(self, report_path: str | Path | None) -> list[str]:
        """The cron-mail summary: one line, then one line per failed document."""
        c = self.counts
        parts = [f"{c['ok']} ok", f"{c['failed']} failed", f"{c['unchanged']} unchanged", f"{c['deleted']} deleted"]
        if c["failed_known"]:
            parts.append(f"{c['failed_known']} known failures not retried")
        if c["enrich_pending"]:
            parts.append(f"{c['enrich_pending']} with enrichment left for the next run")
        e = self.enrich
        if e.get("captions") or e.get("summaries") or e.get("left"):
            total = e["captions"] + e["summaries"]
            where = ("all made now" if e["made"] >= total else "all from the cache" if not e["made"]
                     else f"{e['made']} made now, {total - e['made']} from the cache")
            parts.append(f"enrichment: {e['captions']} captions, {e['summaries']} table summaries ({where})")
        orphans = len(self.review.get("orphaned") or [])
        if self.review.get("reapplied") or orphans:
            parts.append(f"review: {self.review.get('reapplied', 0)} edits re-applied, {orphans} orphaned")
        line = f"folio run {self.pipeline}: " + ", ".join(parts) + f" in {self.seconds:.1f} s"
        if self.phases:
            line += (f" (indexing {self.phases.get('index', 0.0):.1f} s, "
                     f"enrichment {self.phases.get('enrich', 0.0):.1f} s)")
        if self.stopped == "budget":
            left = c["skipped_by_budget"]
            line += f"; time budget used up, {left} documents left for the next run"
        elif self.stopped in ("SIGTERM", "SIGINT"):
            line += f"; stopped by {self.stopped}, {c['skipped_by_signal']} documents left for the next run"
        elif self.stopped:
            line += f"; FATAL: {self.stopped}"
        if report_path is not None:
            line += f" (report: {report_path})"
        lines = [line]
        for d in self.documents:
            if d.status == "error":
                lines.append(f"  failed: {d.source}: {d.error}")
        for o in self.review.get("orphaned") or []:
            lines.append(f"  orphaned review edit: {o['source']} p.{o['page']} {o['kind']} {o['preview']!r}: "
                         f"{o['reason']}")
        return lines
