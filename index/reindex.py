"""Elements -> searchable chunks, and re-writing one committed document after a review edit.

Hidden elements are dropped here, before chunking (``build_chunks``), rather than
filtered at search time: a text chunk packs several paragraphs, so a search-time filter
on element ids would hide the paragraphs around a hidden one too, and its words would
still sit in the full-text index. Re-chunking without it leaves nothing searchable that
contains it, so it can never be retrieved nor cited; its element row stays (review,
export, unhide).

``refresh_document`` applies an edit at once: the document's committed elements are
re-chunked with the same chunker and settings as the nightly run, only chunks whose text
changed are embedded again, and rows are replaced in place under the committed write_id
(one merge per table, so a reader never sees the document without its chunks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from folio.review import is_hidden
from index.chunk import Chunk, CountTokens, chunk_elements
from index.store import chunk_table, element_row, sql_str

if TYPE_CHECKING:
    import numpy as np

    from folio.element import Element
    from index.store import Store


class DocumentGone(LookupError):
    """The document is no longer committed in the index (deleted, or failed on re-ingest)."""


class TextEmbedder(Protocol):
    """What refreshing needs of an embedder (index.embed.Embedder; tests pass a fake)."""

    model_id: str

    def count_tokens(self, texts: list[str]) -> list[int]: ...
    def embed(self, texts: list[str]) -> np.ndarray: ...


def searchable(elements: list[Element]) -> list[Element]:
    return [e for e in elements if not is_hidden(e)]


def build_chunks(elements: list[Element], count_tokens: CountTokens, max_tokens: int) -> list[Chunk]:
    """The chunks of a document's elements; hidden elements are left out (module docstring)."""
    return chunk_elements(searchable(elements), count_tokens, max_tokens)


@dataclass
class Refresh:
    source: str
    write_id: str
    elements_changed: int
    chunks: int
    chunks_embedded: int
    chunks_removed: int
    seconds: float


def refresh_document(
    store: Store, embedder: TextEmbedder, max_tokens: int, source: str,
    apply: Callable[[list[Element]], list[Element]],
) -> Refresh:
    """Re-write ``source``'s committed elements as ``apply`` returns them, with their chunks."""
    import pyarrow as pa

    t0 = time.perf_counter()
    write_id = store.committed_writes().get(source)
    if not write_id:
        raise DocumentGone(f"{source}: no longer in the index")
    old = store.elements(source, write_id=write_id)
    if not old:
        raise DocumentGone(f"{source}: no elements in its committed version")
    new = apply(old)
    by_id = {e.id: e for e in old}
    changed = [e for e in new if by_id.get(e.id) != e]
    chunks = build_chunks(new, embedder.count_tokens, max_tokens)

    chunks_tbl = store.chunks_table
    same_write = f"source = {sql_str(source)} AND write_id = {sql_str(write_id)}"
    rows = chunks_tbl.search().where(same_write).select(["id", "text"]).limit(None).to_arrow().to_pylist()
    old_text = {r["id"]: r["text"] for r in rows}
    todo = [c for c in chunks if old_text.get(c.id) != c.text]
    gone = sorted(set(old_text) - {c.id for c in chunks})
    if todo:
        vectors = embedder.embed([c.text for c in todo])
        data = chunk_table(todo, vectors, source, store.embed_model or embedder.model_id, write_id, chunks_tbl.schema)
        merge = chunks_tbl.merge_insert(["id", "write_id"]).when_matched_update_all().when_not_matched_insert_all()
        if gone:
            ids = ", ".join(sql_str(i) for i in gone)
            merge = merge.when_not_matched_by_source_delete(f"{same_write} AND id IN ({ids})")
        merge.execute(data)
    elif gone:
        chunks_tbl.delete(f"{same_write} AND id IN ({', '.join(sql_str(i) for i in gone)})")
    if changed:
        el_tbl = store.elements_table
        data = pa.Table.from_pylist([element_row(e, source, write_id) for e in changed], schema=el_tbl.schema)
        el_tbl.merge_insert(["id", "write_id"]).when_matched_update_all().when_not_matched_insert_all().execute(data)
    if todo or gone:
        store.set_chunk_count(source, write_id, len(chunks))
    return Refresh(source, write_id, len(changed), len(chunks), len(todo), len(gone),
                   round(time.perf_counter() - t0, 3))
