"""Rows of the LanceDB tables from the project's types and back (index/store.py writes and
reads through these), and the column additions older tables get on open."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from folio.element import Element
    from index.chunk import Chunk

log = logging.getLogger(__name__)


def add_missing_columns(tbl: Any, schema: pa.Schema, names: tuple[str, ...]) -> None:
    """Add the columns of ``names`` that an older ``tbl`` lacks, all null (a metadata-only
    change in Lance: no data file is rewritten)."""
    missing = [schema.field(n) for n in names if n not in tbl.schema.names]
    if missing:
        import pyarrow as pa

        log.info("adding columns %s to %s", [f.name for f in missing], tbl.name)
        tbl.add_columns(pa.schema(missing))


def chunk_table(
    chunks: list[Chunk], vectors: np.ndarray, source: str, model: str, write_id: str, schema: pa.Schema
) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    rows = [
        {
            "id": c.id, "doc_id": c.doc_id, "source": source, "doc_sha256": c.doc_sha256,
            "kind": c.kind, "text": c.text, "section": list(c.section),
            "element_ids": list(c.element_ids), "pages": list(c.pages),
            "boxes": json.dumps([list(b) for b in c.boxes]), "order": c.order,
            "embed_model": model, "write_id": write_id,
        }
        for c in chunks
    ]
    vec_field = schema.field("vector")
    flat = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1)
    if flat.size != len(chunks) * vec_field.type.list_size:
        raise ValueError(f"{source}: vectors of width {vectors.shape[-1]}, store holds {vec_field.type.list_size}")
    table = pa.Table.from_pylist(rows, schema=schema.remove(schema.get_field_index("vector")))
    vec = pa.FixedSizeListArray.from_arrays(pa.array(flat), vec_field.type.list_size)
    return table.add_column(schema.get_field_index("vector"), vec_field, vec).replace_schema_metadata(schema.metadata)


def row_element(row: dict[str, Any]) -> Element:
    from folio.element import Element

    row.pop("write_id", None)
    row["meta"] = json.loads(row["meta"]) if row.get("meta") else {}
    return Element.from_dict(row)


def element_row(e: Element, source: str, write_id: str) -> dict[str, Any]:
    d = e.to_dict()
    d["source"] = source
    d["meta"] = json.dumps(e.meta, ensure_ascii=False, default=str)
    d["write_id"] = write_id
    return d


def document_tables(
    source: str, doc_id: str, write_id: str, elements: list[Element], chunks: list[Chunk],
    vectors: np.ndarray, profile: dict[str, Any] | None, schemas: dict[str, pa.Schema], model: str,
) -> dict[str, pa.Table]:
    """One document's new rows, by table (chunks, elements, profiles; empty ones left out),
    all carrying ``write_id``: what the store appends itself (Store.replace_document) and
    what a Ray worker writes as Lance data files (index/fragments.py)."""
    import pyarrow as pa

    from index import schema as S

    if len(chunks) != len(vectors):
        raise ValueError(f"{source}: {len(chunks)} chunks but {len(vectors)} vectors")
    out: dict[str, pa.Table] = {}
    if chunks:
        out[S.CHUNKS] = chunk_table(chunks, vectors, source, model, write_id, schemas[S.CHUNKS])
    if elements:
        rows = [element_row(e, source, write_id) for e in elements]
        out[S.ELEMENTS] = pa.Table.from_pylist(rows, schema=schemas[S.ELEMENTS])
    if profile is not None:
        row = {"source": source, "doc_id": doc_id, "profile": json.dumps(profile), "write_id": write_id}
        out[S.PROFILES] = pa.Table.from_pylist([row], schema=schemas[S.PROFILES])
    return out
