"""One export: check the output, read the index as of one moment, stream the records out.

``write_export(pipe, out, ExportOptions(...))`` is what ``ingest.py export`` and the app's
export button call. Memory stays flat: the tables are read in batches (export/versions.py)
and each record is written as it is made; what is held is one small entry per document
(its provenance) and, for ``--since``, the ids of the documents that changed.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from export import FORMAT_VERSION, FORMATS, IMAGE_MODES, SCHEMA_ID
from export.records import (
    RunIndex,
    as_element,
    chunk_record,
    doc_provenance,
    document_record,
    element_record,
    prompt_versions,
    tombstone,
)
from export.versions import Diff, ExportError, Moment, base_moment, diff, ids_of_writes, moment, parse_since, scan
from export.writers import Writer, check_writable, open_writer
from folio.config import Pipeline
from review.state import ReviewStates, element_key, load_review_states

CROPPED_KINDS = ("image", "table")  # --images: the visual elements (a text crop adds little)


@dataclass
class ExportOptions:
    fmt: str = "json"
    images: str = "none"  # none | paths | embed
    with_vectors: bool = False
    since: str | None = None  # a documents-table version or an ISO date
    sources: list[str] | None = None  # only these documents (the app's filter); None: all
    tables_csv: Path | None = None


@dataclass
class ExportSummary:
    out: Path
    documents_version: int
    counts: dict[str, int]
    seconds: float
    bytes: int


def write_export(pipe: Pipeline, out: Path, opts: ExportOptions | None = None) -> ExportSummary:
    """Export the index of ``pipe`` to ``out``. Raises ExportError (exit code 2) before any
    work when an option is wrong or ``out`` / ``tables_csv`` cannot be written."""
    opts = opts or ExportOptions()
    t0 = time.time()
    if opts.fmt not in FORMATS:
        raise ExportError(f"--format {opts.fmt!r}: expected one of {', '.join(FORMATS)}")
    if opts.images not in IMAGE_MODES:
        raise ExportError(f"--images {opts.images!r}: expected one of {', '.join(IMAGE_MODES)}")
    since = parse_since(opts.since) if opts.since else None
    out = Path(out).absolute()
    check_writable(out, "--out", folder=opts.fmt == "parquet")
    if opts.tables_csv is not None:
        check_writable(Path(opts.tables_csv).absolute(), "--tables-csv", folder=True)
    db = _open_db(pipe)
    now = moment(db)
    if since is None and (unknown := sorted(set(opts.sources or ()) - set(now.docs))):
        raise ExportError(f"--doc {', '.join(unknown)}: not in the index at {pipe.index}")
    changes = diff(base_moment(db, since), now) if since is not None else None
    job = _Job(pipe, opts, now, changes, load_review_states(pipe), _runs(db))
    header = job.header()
    dim = _vector_dim(now) if opts.with_vectors else None
    writer = open_writer(opts.fmt, out, header, dim)
    try:
        counts = job.run(writer)
    except BaseException:
        writer.abort()
        raise
    writer.close(counts)
    size = sum(f.stat().st_size for f in out.iterdir()) if out.is_dir() else out.stat().st_size
    return ExportSummary(out, now.docs_version, counts, time.time() - t0, size)


def _open_db(pipe: Pipeline) -> Any:
    from folio.errors import ConfigError
    from index import schema as S

    path = pipe.index / "lancedb"
    if not path.is_dir():
        raise ConfigError(f"no index at {pipe.index}: run `ingest.py run --pipeline {pipe.name}` first")
    import lancedb

    db = lancedb.connect(str(path))
    if S.DOCUMENTS not in set(db.list_tables().tables):
        raise ConfigError(f"the index at {pipe.index} holds no documents yet")
    return db


def _runs(db: Any) -> RunIndex:
    from index import schema as S

    if S.RUNS not in set(db.list_tables().tables):
        return RunIndex([])
    runs = db.open_table(S.RUNS)
    runs.checkout(runs.version)
    return RunIndex([r for rows in scan(runs, ["run_id", "started_at", "finished_at"]) for r in rows])


def _vector_dim(now: Moment) -> int | None:
    return None if now.chunks is None else int(now.chunks.schema.field("vector").type.list_size)


@dataclass
class _Job:
    pipe: Pipeline
    opts: ExportOptions
    now: Moment
    changes: Diff | None
    review: ReviewStates
    runs: RunIndex
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("documents", "elements", "chunks", "tombstones", "crops", "tables_csv"), 0))

    def __post_init__(self) -> None:
        wanted = set(self.opts.sources) if self.opts.sources is not None else None
        self._in_filter = (lambda s: s in wanted) if wanted is not None else (lambda s: True)
        selected = {s for s in self.now.docs if self._in_filter(s)}
        if self.changes is not None:
            selected &= self.changes.added | self.changes.changed
        self.selected = selected
        # write_id -> source of the documents whose rows are exported
        self.writes = {w: s for w, s in self.now.committed.items() if s in selected}
        self.reviewed: set[str] = set()
        if self.changes is not None:
            self.reviewed = self.review.changed_since(self.changes.base.at)
        self._renderer: Any = None

    def header(self) -> dict[str, Any]:
        from folio import __version__

        since = None
        if self.changes is not None:
            base = self.changes.base
            since = {"given": self.opts.since, "documents_version": base.docs_version,
                     "at": base.at.isoformat() if base.docs_version else None}
        return {
            "format": "folio-export", "format_version": FORMAT_VERSION, "schema": SCHEMA_ID,
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "folio_version": __version__,
            "pipeline": self.pipe.name, "index": str(self.pipe.index),
            "documents_version": self.now.docs_version, "since": since,
            "filter": {"sources": sorted(self.opts.sources)} if self.opts.sources is not None else None,
            "images": self.opts.images, "with_vectors": self.opts.with_vectors,
            "prompt_versions": prompt_versions(),
        }

    def run(self, writer: Writer) -> dict[str, int]:
        provs: dict[str, dict[str, Any]] = {}
        for source in sorted(self.selected):
            row = self.now.docs[source]
            provs[source] = doc_provenance(row, self.pipe, self.runs)
            change = self.changes.change_of(source) if self.changes else None
            writer.write("documents", document_record(row, provs[source], change))
            self.counts["documents"] += 1
        self._provs = provs  # reviewed elements of other documents get theirs on demand
        old = ids_of_writes(self.changes.base.elements, self.changes.old_writes) if self.changes else {}
        kept = self._write_rows(writer, "elements", self.now.elements, old)
        if self.opts.with_vectors:
            old_chunks = ids_of_writes(self.changes.base.chunks, self.changes.old_writes) if self.changes else {}
            kept_chunks = self._write_rows(writer, "chunks", self.now.chunks, old_chunks)
        if self.changes is not None:
            self._tombstones(writer, "element", old, kept)
            if self.opts.with_vectors:
                self._tombstones(writer, "chunk", old_chunks, kept_chunks)
        return self.counts

    def _rows(self, tbl: Any) -> Iterator[tuple[dict[str, Any], str, bool]]:
        """(row, source, reviewed-only) of the rows to export."""
        committed = self.now.committed
        for rows in scan(tbl):
            for r in rows:
                source = self.writes.get(r["write_id"])
                if source is not None:
                    yield r, source, False
                elif element_key(r) in self.reviewed and (s := committed.get(r["write_id"])) and self._in_filter(s):
                    yield r, s, True

    def _write_rows(self, writer: Writer, section: str, tbl: Any, old: dict[str, set[str]]) -> dict[str, set[str]]:
        """Write the section's records; returns the ids now present of documents that changed."""
        kept: dict[str, set[str]] = {}
        changed = self.changes.changed if self.changes else set()
        for r, source, review_only in self._rows(tbl):
            change = None
            if self.changes is not None:
                change = "reviewed" if review_only else "changed" if r["id"] in old.get(source, ()) else "added"
            if source in changed:
                kept.setdefault(source, set()).add(r["id"])
            if section == "chunks":
                writer.write(section, chunk_record(r, change))
            else:
                writer.write(section, self._element(r, source, change))
            self.counts[section] += 1
        return kept

    def _element(self, r: dict[str, Any], source: str, change: str | None) -> dict[str, Any]:
        prov = self._provs.get(source)
        if prov is None:
            prov = self._provs[source] = doc_provenance(self.now.docs[source], self.pipe, self.runs)
        crop = self._crop(r) if self.opts.images != "none" and r["kind"] in CROPPED_KINDS else None
        if self.opts.tables_csv is not None and r["kind"] == "table":
            from export.tables_csv import write_table_csv

            folder = Path(self.opts.tables_csv)
            folder.mkdir(parents=True, exist_ok=True)
            if write_table_csv(folder, r) is not None:
                self.counts["tables_csv"] += 1
        return element_record(r, prov, self.review.get(element_key(r)), crop, change)

    def _crop(self, r: dict[str, Any]) -> dict[str, Any] | None:
        from index.pages import Renderer, crop_path

        if self._renderer is None:
            from index.store import Store

            self._renderer = Renderer(self.pipe.index / "assets", Store(self.pipe.index))
        rel = crop_path(as_element(r))
        path = self._renderer.ensure(rel) if rel else None
        if path is None:
            return None
        self.counts["crops"] += 1
        if self.opts.images == "paths":
            return {"asset": rel, "path": str(path)}
        return {"asset": rel, "png_base64": base64.b64encode(path.read_bytes()).decode("ascii")}

    def _tombstones(self, writer: Writer, of: str, old: dict[str, set[str]], kept: dict[str, set[str]]) -> None:
        assert self.changes is not None
        if of == "element":  # document tombstones once, before their elements'
            for source in sorted(self.changes.deleted):
                if self._in_filter(source):
                    writer.write("tombstones", tombstone("document", source, self.changes.base.docs[source]["doc_id"]))
                    self.counts["tombstones"] += 1
        for source in sorted(old):
            if not self._in_filter(source):
                continue
            for id_ in sorted(old[source] - kept.get(source, set())):
                writer.write("tombstones", tombstone(of, source, id_))
                self.counts["tombstones"] += 1
