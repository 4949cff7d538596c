"""Arrow schemas of the Parquet export: the JSON records' fields, typed.

Explicit, because a row group whose values are all null would otherwise infer a null
type and the next row group would not match. Objects with free keys (an element's
``meta``, a review's ``overlay``) are JSON strings; the fixed objects (provenance, crop,
review) are structs.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

_S = pa.string()


def _strings(*names: str) -> list[pa.Field]:
    return [pa.field(n, _S) for n in names]


DOC_PROVENANCE = pa.struct(_strings("run_id", "write_id", "settings_fingerprint", "embed_model",
                                    "partitioner", "partitioner_version"))
ELEMENT_PROVENANCE = pa.struct(_strings(
    "run_id", "write_id", "partitioner", "partitioner_version", "caption_model", "caption_method",
    "caption_prompt_version", "summary_model", "summary_prompt_version", "embed_model"))
CROP = pa.struct(_strings("asset", "path", "png_base64"))
REVIEW = pa.struct([pa.field("overlay", _S), pa.field("who", _S), pa.field("when", _S),
                    pa.field("approved", pa.bool_()), pa.field("hidden", pa.bool_())])

DOCUMENTS = pa.schema([
    *_strings("type", "source", "path", "doc_id", "sha256"),
    pa.field("size", pa.int64()), pa.field("mtime", pa.float64()),
    *_strings("status", "error"),
    pa.field("pages", pa.int32()), pa.field("elements", pa.int32()), pa.field("chunks", pa.int32()),
    *_strings("started_at", "finished_at"), pa.field("seconds", pa.float64()),
    pa.field("provenance", DOC_PROVENANCE), pa.field("change", _S),
])

ELEMENTS = pa.schema([
    *_strings("type", "id", "doc_id", "source", "doc_sha256", "kind", "role", "text", "html", "image",
              "caption", "summary"),
    pa.field("page", pa.int32()), pa.field("page_label", _S), pa.field("bbox", pa.list_(pa.float64())),
    pa.field("section", pa.list_(_S)), pa.field("order", pa.int32()),
    *_strings("embed_text", "ocr_text", "meta"),
    pa.field("provenance", ELEMENT_PROVENANCE), pa.field("crop", CROP), pa.field("review", REVIEW),
    pa.field("change", _S),
])

TOMBSTONES = pa.schema(_strings("type", "of", "source", "id"))


def chunks(dim: int) -> pa.Schema:
    return pa.schema([
        *_strings("type", "id", "doc_id", "source", "doc_sha256", "kind", "text"),
        pa.field("section", pa.list_(_S)), pa.field("element_ids", pa.list_(_S)),
        pa.field("pages", pa.list_(pa.int32())), pa.field("order", pa.int32()), pa.field("embed_model", _S),
        pa.field("boxes", pa.list_(pa.list_(pa.float64()))), pa.field("vector", pa.list_(pa.float32(), dim)),
        pa.field("change", _S),
    ])


def schemas(vector_dim: int | None) -> dict[str, pa.Schema]:
    """Section -> schema, in section order; chunks only when vectors are exported."""
    out = {"documents": DOCUMENTS, "elements": ELEMENTS}
    if vector_dim is not None:
        out["chunks"] = chunks(vector_dim)
    out["tombstones"] = TOMBSTONES
    return out


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """A JSON record as a Parquet row: free-form objects become JSON strings."""
    if record.get("type") != "element":
        return record
    row = dict(record)
    row["meta"] = json.dumps(record["meta"], ensure_ascii=False) if record.get("meta") else None
    if record.get("review"):
        row["review"] = {**record["review"], "overlay": json.dumps(record["review"]["overlay"], ensure_ascii=False)}
    return row
