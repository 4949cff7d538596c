"""Explicit pyarrow schemas for the LanceDB tables.

Tables are always created from these schemas: rows built from Python objects or pandas
would otherwise get inferred types (pandas 3 strings become LargeUtf8, empty lists become
null-typed) and later adds would fail to match.

Schema evolution: a column is only ever added, nullable, at the end of a table's schema,
and listed in ``ADDED_COLUMNS``; nothing is renamed or retyped in place.

Every chunk and element row carries ``write_id``: the id of the ``replace_document`` call
that wrote it. The documents row names the write_id that is committed for its source, so
rows of an interrupted write are recognisable even when the file's bytes did not change.
"""

from __future__ import annotations

import pyarrow as pa

CHUNKS = "chunks"
ELEMENTS = "elements"
DOCUMENTS = "documents"
RUNS = "runs"
PROFILES = "profiles"

# Schema metadata keys on the chunks table: which embedder wrote the vectors.
META_EMBED_MODEL = b"embed_model"


def chunks_schema(dim: int, embed_model: str = "") -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("doc_id", pa.string()),
            pa.field("source", pa.string(), nullable=False),
            pa.field("doc_sha256", pa.string()),
            pa.field("kind", pa.string()),
            pa.field("text", pa.string()),
            pa.field("section", pa.list_(pa.string())),
            pa.field("element_ids", pa.list_(pa.string())),
            pa.field("pages", pa.list_(pa.int32())),
            # JSON list of [page, x0, y0, x1, y1]: only read back for citations, never filtered on.
            pa.field("boxes", pa.string()),
            pa.field("order", pa.int32()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
            pa.field("embed_model", pa.string()),
            pa.field("write_id", pa.string(), nullable=False),
        ],
        metadata={META_EMBED_MODEL: embed_model.encode()},
    )


ELEMENTS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("doc_sha256", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("role", pa.string()),
        pa.field("text", pa.string()),
        pa.field("html", pa.string()),
        pa.field("image", pa.string()),
        pa.field("caption", pa.string()),
        pa.field("caption_model", pa.string()),
        pa.field("summary", pa.string()),
        pa.field("summary_model", pa.string()),
        pa.field("page", pa.int32()),
        pa.field("page_label", pa.string()),
        pa.field("bbox", pa.list_(pa.float64())),
        pa.field("section", pa.list_(pa.string())),
        pa.field("order", pa.int32()),
        pa.field("embed_text", pa.string()),
        pa.field("meta", pa.string()),  # JSON
        pa.field("write_id", pa.string(), nullable=False),
    ]
)

DOCUMENTS_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("path", pa.string()),
        pa.field("doc_id", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime", pa.float64()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
        pa.field("pages", pa.int32()),
        pa.field("elements", pa.int32()),
        pa.field("chunks", pa.int32()),
        pa.field("fingerprint", pa.string()),
        pa.field("embed_model", pa.string()),
        pa.field("started_at", pa.string()),  # ISO 8601 UTC
        pa.field("finished_at", pa.string()),
        pa.field("seconds", pa.float64()),
        # The committed write (see module docstring); null for a failed document.
        pa.field("write_id", pa.string()),
        # Enrichment items (captions, summaries) not made yet: 0 when the document's
        # enrichment is complete, null when enrichment is off. Added after the first
        # release: Store adds it to older tables (ADDED_COLUMNS), readers tolerate its absence.
        pa.field("enrich_left", pa.int32()),
    ]
)

# One row per document: who issued it, its form and period (index/profile.py), read by
# query routing (index/routing.py). Same write_id protocol as chunks and elements.
PROFILES_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("doc_id", pa.string()),
        pa.field("profile", pa.string()),  # JSON of DocProfile
        pa.field("write_id", pa.string(), nullable=False),
    ]
)
# Nullable columns added to a table after indexes existed: a writer adds them (all null)
# to an older table on open; a reader of an older table sees None.
ADDED_COLUMNS = {DOCUMENTS: ("enrich_left",)}

RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("started_at", pa.string()),
        pa.field("finished_at", pa.string()),
        pa.field("status", pa.string()),
        pa.field("pipeline", pa.string()),
        pa.field("report", pa.string()),  # JSON
    ]
)
