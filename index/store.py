"""The LanceDB store: chunks (vectors + FTS), elements, documents, runs.

Commit protocol (survives SIGKILL at any point, see ``replace_document``): new rows are
written with a fresh ``write_id``; the documents row naming that write_id is the commit
point; only then are the source's older rows deleted. ``repair()`` (run start) removes
rows whose write_id is not committed, so an interrupted write leaves the previous good
version in place and never duplicates.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index import schema as S
from index.records import DOC_FIELDS, DocRecord, sources_in, sql_str
from index.rows import add_missing_columns as _add_missing_columns
from index.rows import chunk_table, document_tables, element_row
from index.rows import row_element as _row_element
from index.vector_index import DISTANCE, ensure_indexes, ensure_source_index, update_source_index, vector_index_config

__all__ = [
    "DISTANCE", "DocRecord", "Store", "chunk_table", "element_row", "ensure_indexes", "open_index", "sql_str",
    "vector_index_config",
]

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from folio.config import Pipeline
    from folio.element import Element
    from index.chunk import Chunk

log = logging.getLogger(__name__)

# The tables whose rows belong to one document write (write_id protocol).
_DOC_TABLES = (S.CHUNKS, S.ELEMENTS, S.PROFILES)

# Below this many chunks an exact scan is fast enough: it costs ~1.6 ms per 1,000 chunks of
# 384-d vectors here (164 ms at 100k); with an IVF_SQ index ~10-20 ms (bench/query_latency.py).
VECTOR_INDEX_MIN_ROWS = 20_000
# Old table versions kept for rollback / nightly diffs; older ones are pruned by optimize().
KEEP_VERSIONS = timedelta(days=7)
READ_CONSISTENCY = timedelta(seconds=5)
# A delete reads every row the source index does not cover, and each commit of a run adds
# such rows: after this many commits, a delete first updates the index (bench/commit_scale.py).
SOURCE_INDEX_EVERY = 10


def open_index(pipe: Pipeline, dim: int | None = None, embed_model: str | None = None) -> Store:
    """The store of a pipeline's index, local or remote."""
    return Store(pipe.location, dim=dim, embed_model=embed_model, storage_options=pipe.store_options())


class Store:
    def __init__(
        self,
        index_dir: Path | str,
        dim: int | None = None,
        embed_model: str | None = None,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        """Open or create the store at ``<index_dir>/lancedb``; ``index_dir`` may be an
        object-store URI (``s3://bucket/prefix``, with ``storage_options``: folio/storage.py).

        ``dim`` None opens read-only use (status, search with the stored width). With ``dim``
        (and optionally ``embed_model``) given, a chunks table written by a different
        embedder is dropped and recreated empty: documents rows keep their old
        ``embed_model``, which tells the runner to re-embed them.
        """
        import lancedb

        from folio.storage import is_uri, resolve_options

        if is_uri(index_dir):
            self.path: Path | str = str(index_dir).rstrip("/") + "/lancedb"
            options = storage_options if storage_options is not None else resolve_options()
        else:
            self.path = Path(index_dir) / "lancedb"
            self.path.mkdir(parents=True, exist_ok=True)
            options = storage_options or {}
        # Readers (the app) see the nightly run's commits within seconds, without a
        # manifest check on every query.
        self.db = lancedb.connect(
            str(self.path), read_consistency_interval=READ_CONSISTENCY, storage_options=options or None
        )
        self.storage_options = options or None
        self._tables: dict[str, Any] = {}
        self._unindexed_commits = 0
        if dim is not None:
            self._ensure_chunks(dim, embed_model)
            for name, sch in ((S.ELEMENTS, S.ELEMENTS_SCHEMA), (S.DOCUMENTS, S.DOCUMENTS_SCHEMA),
                              (S.RUNS, S.RUNS_SCHEMA), (S.PROFILES, S.PROFILES_SCHEMA)):
                _add_missing_columns(self._open(name, sch), sch, S.ADDED_COLUMNS.get(name, ()))

    # ---- tables -------------------------------------------------------------------------

    def _names(self) -> set[str]:
        return set(self.db.list_tables().tables)

    def _open(self, name: str, schema: pa.Schema | None = None) -> Any:
        """The table, created from ``schema`` if missing; None if missing and no schema."""
        if name in self._tables:
            return self._tables[name]
        if name in self._names():
            tbl = self.db.open_table(name)
        elif schema is not None:
            tbl = self.db.create_table(name, schema=schema)
        else:
            return None
        self._tables[name] = tbl
        return tbl

    def _ensure_chunks(self, dim: int, embed_model: str | None) -> None:
        tbl = self._open(S.CHUNKS)
        if tbl is not None:
            same_dim = self._dim_of(tbl) == dim
            stored = self._model_of(tbl)
            same_model = embed_model is None or stored in (None, embed_model)
            if same_dim and same_model:
                return
            log.warning("embedder changed (%s/%s -> %s/%s): dropping the chunks table to re-embed",
                        stored, self._dim_of(tbl), embed_model, dim)
            self.db.drop_table(S.CHUNKS)
            self._tables.pop(S.CHUNKS, None)
        self._tables[S.CHUNKS] = self.db.create_table(S.CHUNKS, schema=S.chunks_schema(dim, embed_model or ""))

    @staticmethod
    def _dim_of(tbl: Any) -> int:
        return int(tbl.schema.field("vector").type.list_size)

    @staticmethod
    def _model_of(tbl: Any) -> str | None:
        raw = (tbl.schema.metadata or {}).get(S.META_EMBED_MODEL)
        return raw.decode() if raw else None

    @property
    def dim(self) -> int:
        tbl = self._open(S.CHUNKS)
        if tbl is None:
            raise LookupError(f"no chunks table in {self.path}")
        return self._dim_of(tbl)

    @property
    def embed_model(self) -> str | None:
        tbl = self._open(S.CHUNKS)
        return None if tbl is None else self._model_of(tbl)

    @property
    def chunks_table(self) -> Any:
        """The LanceDB chunks table, or None before anything was indexed (used by search)."""
        return self._open(S.CHUNKS)

    @property
    def elements_table(self) -> Any:
        return self._open(S.ELEMENTS)

    @property
    def profiles_table(self) -> Any:
        return self._open(S.PROFILES)

    def lance_dataset(self, name: str) -> Any:
        """The Lance dataset under a table (index/fragments.py; needs pylance)."""
        return self._writable(name).to_lance()

    def _writable(self, name: str) -> Any:
        tbl = self._open(name)
        if tbl is None:
            raise RuntimeError(f"store opened read-only (dim=None) and has no {name} table yet")
        return tbl

    # ---- documents ----------------------------------------------------------------------

    def documents(self) -> dict[str, DocRecord]:
        tbl = self._open(S.DOCUMENTS)
        if tbl is None:
            return {}
        out: dict[str, DocRecord] = {}
        # An index written before a column was added lacks it (schema.ADDED_COLUMNS): the
        # field keeps its default.
        present = [f for f in DOC_FIELDS if f in tbl.schema.names]
        for row in tbl.to_arrow().select(present).to_pylist():
            out[row["source"]] = DocRecord(**row)
        return out

    def replace_document(
        self, doc: DocRecord, elements: list[Element], chunks: list[Chunk], vectors: np.ndarray,
        profile: dict[str, Any] | None = None,
    ) -> None:
        """Write a document's elements and chunks, replacing any previous version."""
        write_id = uuid.uuid4().hex
        model = doc.embed_model or self._model_of(self._writable(S.CHUNKS)) or ""
        tables = document_tables(doc.source, doc.doc_id, write_id, elements, chunks, vectors, profile,
                                 self.doc_schemas(), model)
        # 1. new rows, one add per table (a single fragment each)
        for name, data in tables.items():
            self._writable(name).add(data)
        # 2. the commit point, 3. the previous version dropped
        self.commit_documents([(doc, write_id)])

    def doc_schemas(self) -> dict[str, pa.Schema]:
        """The schemas of the tables a document write adds rows to."""
        return {name: self._writable(name).schema for name in _DOC_TABLES}

    def commit_documents(self, committed: list[tuple[DocRecord, str]], failed: Sequence[DocRecord] = ()) -> None:
        """The commit point of documents whose rows (each with its write_id) were added:
        their documents rows in one merge (one table version, so a batch commits all or
        nothing), then their previous rows dropped. ``failed``: documents recorded as
        failed in the same merge; a changed file that now fails loses its old rows."""
        rows = [{**asdict(doc), "write_id": write_id} for doc, write_id in committed]
        rows += [{**asdict(doc), "status": "error" if doc.status == "ok" else doc.status, "write_id": None}
                 for doc in failed]
        if not rows:
            return
        self._unindexed_commits += 1
        # A new source has no older rows (an interrupted write's go at repair()): no delete.
        known = sources_in(self._open(S.DOCUMENTS), [d.source for d, _ in committed])
        self._upsert_documents(rows)
        replaced = [(d, w) for d, w in committed if d.source in known]
        if replaced:
            sources = ", ".join(sql_str(d.source) for d, _ in replaced)
            writes = ", ".join(sql_str(w) for _, w in replaced)
            self._delete_rows(f"source IN ({sources}) AND write_id NOT IN ({writes})")
        if failed:
            self._delete_rows("source IN (" + ", ".join(sql_str(d.source) for d in failed) + ")")

    def touch_documents(self, records: list[DocRecord]) -> None:
        """Record the new stat (size, mtime, path) of files whose bytes did not change;
        no chunk or element row is rewritten."""
        tbl = self._writable(S.DOCUMENTS)
        for rec in records:
            tbl.update(
                where=f"source = {sql_str(rec.source)}",
                values={"size": rec.size, "mtime": rec.mtime, "path": rec.path},
            )

    def refresh(self) -> None:
        """See the latest commits of other processes now, not within READ_CONSISTENCY
        (before a read-modify-write such as a review edit)."""
        for tbl in self._tables.values():
            tbl.checkout_latest()

    def set_chunk_count(self, source: str, write_id: str, chunks: int) -> None:
        """After a review edit re-chunked a committed document in place."""
        self._writable(S.DOCUMENTS).update(
            where=f"source = {sql_str(source)} AND write_id = {sql_str(write_id)}", values={"chunks": chunks})

    def elements(self, source: str, sha256: str | None = None, write_id: str | None = None) -> list[Element]:
        """The stored elements of ``source`` (only those of ``sha256`` / of the write
        ``write_id`` when given), in reading order, one per id. Raises TypeError if the
        rows no longer fit Element."""
        tbl = self._open(S.ELEMENTS)
        if tbl is None:
            return []
        where = f"source = {sql_str(source)}"
        if sha256 is not None:
            where += f" AND doc_sha256 = {sql_str(sha256)}"
        if write_id is not None:
            where += f" AND write_id = {sql_str(write_id)}"
        seen: dict[str, Element] = {}
        for row in tbl.search().where(where).limit(None).to_arrow().to_pylist():
            el = _row_element(row)
            # Rows of an uncommitted write would repeat ids (repair() removes them at run
            # start); keep one row per id all the same.
            seen.setdefault(el.id, el)
        return sorted(seen.values(), key=lambda e: e.order)

    def elements_by_id(self, ids: list[str]) -> dict[str, Element]:
        """Stored elements by id (one query; ids not found are left out)."""
        tbl = self._open(S.ELEMENTS)
        if tbl is None or not ids:
            return {}
        where = "id IN (" + ", ".join(sql_str(i) for i in dict.fromkeys(ids)) + ")"
        out: dict[str, Element] = {}
        for row in tbl.search().where(where).limit(None).to_arrow().to_pylist():
            out.setdefault(row["id"], _row_element(row))
        return out

    def profiles(self) -> list[dict[str, Any]]:
        """The committed documents' profiles (JSON dicts, see index/profile.py)."""
        tbl = self._open(S.PROFILES)
        if tbl is None:
            return []
        committed = set(self.committed_writes().values())
        rows = tbl.to_arrow().select(["write_id", "profile"]).to_pylist()
        return [json.loads(r["profile"]) for r in rows if r["write_id"] in committed and r["profile"]]

    def chunk_vectors(self, source: str) -> dict[str, Any]:
        """text -> vector of the committed chunks of ``source`` (for re-use on a re-commit)."""
        tbl = self._open(S.CHUNKS)
        if tbl is None:
            return {}
        rows = tbl.search().where(f"source = {sql_str(source)}").select(["text", "vector"]).limit(None).to_arrow()
        return dict(zip(rows["text"].to_pylist(), rows["vector"].to_numpy(zero_copy_only=False), strict=True))

    def committed_writes(self) -> dict[str, str]:
        """source -> the write_id its documents row commits (indexed documents only)."""
        tbl = self._open(S.DOCUMENTS)
        if tbl is None:
            return {}
        rows = tbl.to_arrow().select(["source", "write_id", "status"]).to_pylist()
        return {r["source"]: r["write_id"] for r in rows if r["write_id"] and r["status"] != "error"}

    def record_failure(self, doc: DocRecord) -> None:
        """Record a failed document; a changed file that now fails loses its old rows."""
        self.commit_documents([], [doc])

    def delete_document(self, source: str) -> None:
        # Documents row first: if killed after it, repair() removes the orphaned rows.
        self._writable(S.DOCUMENTS).delete(f"source = {sql_str(source)}")
        self._delete_rows(f"source = {sql_str(source)}")

    def _upsert_documents(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        tbl = self._writable(S.DOCUMENTS)
        data = pa.Table.from_pylist(rows, schema=tbl.schema)
        tbl.merge_insert("source").when_matched_update_all().when_not_matched_insert_all().execute(data)

    def _delete_rows(self, where: str) -> None:
        tables = [t for t in map(self._open, _DOC_TABLES) if t is not None]
        if self._unindexed_commits >= SOURCE_INDEX_EVERY:
            self._unindexed_commits = 0
            for tbl in tables:
                update_source_index(tbl)
        for tbl in tables:
            tbl.delete(where)

    def repair(self) -> int:
        """Delete chunk/element rows not committed by a documents row; returns rows removed."""
        docs = self._open(S.DOCUMENTS)
        rows = docs.to_arrow().select(["write_id", "status"]).to_pylist() if docs is not None else []
        committed = {r["write_id"] for r in rows if r["write_id"] and r["status"] != "error"}
        removed = 0
        for name in _DOC_TABLES:
            tbl = self._open(name)
            if tbl is None:
                continue
            col = tbl.search().select(["write_id"]).limit(None).to_arrow()["write_id"]
            written = set(col.unique().to_pylist())
            stale = sorted(written - committed)
            if not stale:
                continue
            where = "write_id IN (" + ", ".join(sql_str(w) for w in stale) + ")"
            n = tbl.count_rows(where)
            tbl.delete(where)
            removed += n
            log.info("repair: removed %d uncommitted rows from %s (%d writes)", n, name, len(stale))
        return removed

    # ---- runs ---------------------------------------------------------------------------

    def add_run(self, run: dict[str, Any]) -> None:
        import pyarrow as pa

        tbl = self._writable(S.RUNS)
        row = {name: run.get(name) for name in tbl.schema.names}
        report = run.get("report")
        row["report"] = report if isinstance(report, str) or report is None else json.dumps(report)
        tbl.merge_insert("run_id").when_matched_update_all().when_not_matched_insert_all().execute(
            pa.Table.from_pylist([row], schema=tbl.schema)
        )

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        tbl = self._open(S.RUNS)
        if tbl is None:
            return []
        rows = sorted(tbl.to_arrow().to_pylist(), key=lambda r: r["started_at"] or "", reverse=True)
        for r in rows:
            r["report"] = json.loads(r["report"]) if r["report"] else None
        return rows[:limit]

    # ---- maintenance --------------------------------------------------------------------

    def count_chunks(self) -> int:
        tbl = self._open(S.CHUNKS)
        return 0 if tbl is None else int(tbl.count_rows())

    def optimize(self) -> None:
        """After a run: FTS, vector and source indexes cover every row (the source index
        built on tables lacking it, older indexes too), fragments compacted."""
        for name in (*_DOC_TABLES, S.DOCUMENTS, S.RUNS):
            tbl = self._open(name)
            if tbl is None:
                continue
            if name == S.CHUNKS:
                ensure_indexes(tbl, VECTOR_INDEX_MIN_ROWS)
            elif name in _DOC_TABLES:
                ensure_source_index(tbl)
            # Compacts small fragments (one per document write), folds deletions in, merges
            # new rows into existing indexes incrementally, prunes versions past KEEP_VERSIONS.
            tbl.optimize(cleanup_older_than=KEEP_VERSIONS)
        self._unindexed_commits = 0
