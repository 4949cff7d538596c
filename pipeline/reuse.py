"""Elements of an indexed document, read back from the store for re-chunking.

When only the chunk settings or the embedder changed, a document's elements are still
what partitioning would produce again (same bytes, same partition settings), and
partitioning is by far the slowest stage.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from folio.element import Element

if TYPE_CHECKING:
    from index.store import Store

log = logging.getLogger(__name__)

_NOT_ELEMENT_FIELDS = ("write_id",)


def stored_elements(store: Store, source: str, sha256: str) -> list[Element]:
    """The committed elements of ``source`` at ``sha256`` in reading order; [] if none."""
    from index.schema import ELEMENTS
    from index.store import sql_str

    if ELEMENTS not in set(store.db.list_tables().tables):
        return []
    where = f"source = {sql_str(source)} AND doc_sha256 = {sql_str(sha256)}"
    rows = store.db.open_table(ELEMENTS).search().where(where).limit(None).to_arrow().to_pylist()
    # Rows of an uncommitted write would duplicate ids; repair() removed them at run start,
    # but keep one row per id all the same.
    seen: dict[str, Element] = {}
    for row in rows:
        for key in _NOT_ELEMENT_FIELDS:
            row.pop(key, None)
        row["meta"] = json.loads(row["meta"]) if row.get("meta") else {}
        try:
            el = Element.from_dict(row)
        except TypeError:  # the elements schema moved on: partition again instead
            log.debug("cannot rebuild elements of %s", source, exc_info=True)
            return []
        seen.setdefault(el.id, el)
    return sorted(seen.values(), key=lambda e: e.order)
