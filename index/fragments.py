"""Workers write a document's rows as Lance data files; the driver alone commits them.

With the Ray engine a worker turns one document into the rows of the chunks, elements and
profiles tables (index/rows.py: document_tables, each row carrying the document's
write_id) and writes them as Lance fragments beside the tables (``write_fragments``:
data files, no new table version). What goes back to the driver is the fragments'
metadata and the row counts, not the rows. The driver then commits a batch of documents:
one ``Append`` of every fragment per table, then the documents rows (the commit point,
Store.commit_documents), then the deletion of the replaced rows. A fragment written but
never committed (a worker retried after a lost node, a driver killed) is a data file no
table version names: invisible to readers, and removed by the next ``optimize`` cleanup
once older than the versions kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from index.store import Store


@dataclass(frozen=True)
class Target:
    """A table a worker writes into: where its dataset lives and how its files look."""

    uri: str
    schema: pa.Schema
    storage_version: str


@dataclass
class Written:
    """A document's fragments by table (Lance FragmentMetadata), and how many rows each
    table was given (the driver checks the fragments hold as many before committing)."""

    fragments: dict[str, list[Any]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def short(self) -> list[str]:
        """Tables whose fragments hold fewer (or more) rows than were written."""
        return [name for name, n in self.rows.items()
                if sum(f.physical_rows for f in self.fragments.get(name, [])) != n]


def targets(store: Store) -> dict[str, Target]:
    """The driver's description of the document tables, for the workers."""
    out = {}
    for name, schema in store.doc_schemas().items():
        ds = store.lance_dataset(name)
        out[name] = Target(uri=ds.uri, schema=schema, storage_version=ds.data_storage_version)
    return out


def write_document(tables: dict[str, pa.Table], where: dict[str, Target],
                   storage_options: dict[str, str] | None) -> Written:
    """Worker: write one document's tables as uncommitted fragments."""
    from lance.fragment import write_fragments

    out = Written()
    for name, data in tables.items():
        t = where[name]
        out.fragments[name] = write_fragments(
            data, t.uri, schema=t.schema, data_storage_version=t.storage_version,
            storage_options=storage_options or None,
        )
        out.rows[name] = data.num_rows
    return out


def append(store: Store, fragments: dict[str, list[Any]]) -> None:
    """Driver: commit the fragments of a batch of documents, one new version per table.
    Rows appended here are not visible as documents until Store.commit_documents."""
    import lance

    for name, frags in fragments.items():
        if not frags:
            continue
        ds = store.lance_dataset(name)
        lance.LanceDataset.commit(ds.uri, lance.LanceOperation.Append(frags), read_version=ds.version,
                                  storage_options=store.storage_options or None)
    store.refresh()
