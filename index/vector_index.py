"""The tables' indexes: a BTree on source on every document table (chunks, elements,
profiles), and on the chunks table native FTS and IVF_SQ vectors once the table is big
enough (retrained as it grows)."""

from __future__ import annotations

import logging
from typing import Any, Literal

log = logging.getLogger(__name__)

# IVF centroids are trained once; new rows are merged into existing partitions by
# optimize(). Retrain when the table has grown this many times past the training size.
VECTOR_RETRAIN_GROWTH = 4
_VECTOR_INDEX_PREFIX = "vector_idx_n"
DISTANCE: Literal["cosine"] = "cosine"


def vector_index_config(rows: int, dim: int) -> Any:
    """IVF_SQ: ~sqrt(rows) partitions of 8-bit scalar-quantized vectors (1 byte a dimension).

    Measured at 50k-100k clustered 384-d vectors on this machine (bench/query_latency.py
    and the comparison in the report): recall@10 vs exact 0.86 for both IVF_SQ and
    IVF_HNSW_SQ, IVF_PQ 0.53 without a refine step. IVF_HNSW_SQ queries are ~2x faster, but
    compaction rebuilds HNSW graphs: the nightly optimize() after one changed document took
    196 s with IVF_HNSW_SQ and 2.4 s with IVF_SQ at 50k rows. ``dim`` is unused by IVF_SQ.
    """
    from lancedb.index import IvfSq

    return IvfSq(distance_type=DISTANCE, num_partitions=max(1, int(rows**0.5)))


def ensure_source_index(tbl: Any, indexes: dict[tuple[str, ...], str] | None = None) -> None:
    """A BTree on ``source``: a batch commit deletes the replaced rows by source
    (Store.commit_documents), which without it reads every row's source and write_id.
    Measured (bench/commit_scale.py, 20 replaced documents a batch, two runs on a shared
    2-core box): 0.09-0.13 s at 100k chunk rows and 0.40-0.43 s at 2M without it (the
    delete 0.05-0.09 -> 0.33-0.35 s); 0.10-0.11 -> 0.14-0.17 s with it; built in 2-4 s at 2M.
    Built once on a non-empty table; the table's ``optimize()`` then adds new rows to it
    and remaps it through compaction, and rows not yet in it are scanned, so it is never
    stale, only partial until the next optimize."""
    from lancedb.index import BTree

    if indexes is None:
        if int(tbl.count_rows()) == 0:
            return
        indexes = {tuple(i.columns): i.name for i in tbl.list_indices()}
    if ("source",) not in indexes:
        tbl.create_index("source", config=BTree())


def update_source_index(tbl: Any) -> None:
    """Bring the index on ``source`` over the rows added since it was last updated (a
    run's commits add small fragments it does not cover; a delete reads each of them)."""
    names = [i.name for i in tbl.list_indices() if list(i.columns) == ["source"]]
    if names:
        tbl.to_lance().optimize.optimize_indices(index_names=names)
        tbl.checkout_latest()


def ensure_indexes(tbl: Any, vector_min_rows: int, vector_config: Any = None) -> None:
    """Create the FTS index, and the vector index once the table is big enough.

    Otherwise existing indexes are kept: the table's ``optimize()`` merges new rows into
    them. The vector index's name records how many rows it was trained on, so it is
    retrained (rebuilt) once the table has grown VECTOR_RETRAIN_GROWTH times past that.
    """
    from lancedb.index import FTS

    rows = int(tbl.count_rows())
    if rows == 0:
        return
    indexes = {tuple(i.columns): i.name for i in tbl.list_indices()}
    if ("text",) not in indexes:
        tbl.create_index("text", config=FTS())
    ensure_source_index(tbl, indexes)
    vec_name = indexes.get(("vector",))
    trained = int(vec_name[len(_VECTOR_INDEX_PREFIX):]) if vec_name and vec_name.startswith(
        _VECTOR_INDEX_PREFIX) and vec_name[len(_VECTOR_INDEX_PREFIX):].isdigit() else 0
    if rows >= vector_min_rows and (vec_name is None or rows >= trained * VECTOR_RETRAIN_GROWTH):
        dim = int(tbl.schema.field("vector").type.list_size)
        log.info("building the vector index over %d chunks (previously trained on %d)", rows, trained)
        if vec_name is not None:
            tbl.drop_index(vec_name)
        tbl.create_index("vector", config=vector_config or vector_index_config(rows, dim),
                         name=f"{_VECTOR_INDEX_PREFIX}{rows}")
