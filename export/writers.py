"""Export writers: records in, one file (JSON, JSON Lines) or a folder (Parquet) out.

Every writer writes as records arrive (memory holds one record, or one Parquet row group)
and into a ``.part`` name first, renamed at ``close``: an export that fails midway leaves
nothing that looks finished. Records come in section order: documents, elements, chunks,
tombstones.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Protocol

from export.versions import ExportError

SECTIONS = ("documents", "elements", "chunks", "tombstones")
MANIFEST = "manifest.json"


class Writer(Protocol):
    def write(self, section: str, record: dict[str, Any]) -> None: ...
    def close(self, counts: dict[str, int]) -> None: ...
    def abort(self) -> None: ...


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable(path: Path, flag: str, folder: bool) -> None:
    """Fail before any work when ``path`` cannot be written: a folder where a file is
    expected (or the reverse), a parent that is a file, a read-only place. Nothing is left
    behind by the check."""
    if folder and path.is_file():
        raise ExportError(f"{flag} {path}: is a file; this writes a folder there (give a folder name)")
    if not folder and path.is_dir():
        raise ExportError(f"{flag} {path}: is a folder; this writes one file (give a file name)")
    if folder and path.is_dir() and any(path.iterdir()) and flag == "--out" and not (path / MANIFEST).is_file():
        raise ExportError(f"{flag} {path}: a folder that is not empty and holds no earlier export")
    base = _existing_ancestor(path.parent)
    if not base.is_dir():
        raise ExportError(f"{flag} {path}: cannot create it: {base} is not a folder")
    try:
        with tempfile.TemporaryDirectory(dir=base, prefix=".folio-export-check-"):
            pass
    except OSError as e:
        raise ExportError(f"{flag} {path}: cannot write in {base}: {e.strerror or e}") from None


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class _TextWriter:
    """A text file written as ``<out>.part`` and renamed into place once complete."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[str] = _part(out).open("w", encoding="utf-8", buffering=1 << 20)

    def _finish(self, tail: str) -> None:
        self._f.write(tail)
        self._f.close()
        _part(self.out).replace(self.out)

    def abort(self) -> None:
        self._f.close()
        _part(self.out).unlink(missing_ok=True)


class JsonWriter(_TextWriter):
    """One JSON object: the header's keys, then the four arrays, then ``counts``."""

    def __init__(self, out: Path, header: dict[str, Any]) -> None:
        super().__init__(out)
        self._f.write("{" + _dumps(header)[1:-1])
        self._section = -1
        self._first = True

    def _enter(self, index: int) -> None:
        while self._section < index:
            if self._section >= 0:
                self._f.write("]")
            self._section += 1
            self._f.write(f',"{SECTIONS[self._section]}":[')
            self._first = True

    def write(self, section: str, record: dict[str, Any]) -> None:
        index = SECTIONS.index(section)
        if index < self._section:
            raise ValueError(f"{section} records after {SECTIONS[self._section]}")
        self._enter(index)
        self._f.write(("" if self._first else ",\n") + _dumps(record))
        self._first = False

    def close(self, counts: dict[str, int]) -> None:
        self._enter(len(SECTIONS) - 1)
        self._finish(f'],"counts":{_dumps(counts)}}}\n')


class JsonlWriter(_TextWriter):
    """One record per line: a ``header`` line, the records (``type`` says which), an ``end``
    line with the counts (a file without it was cut short)."""

    def __init__(self, out: Path, header: dict[str, Any]) -> None:
        super().__init__(out)
        self._f.write(_dumps({"type": "header", **header}) + "\n")

    def write(self, section: str, record: dict[str, Any]) -> None:
        self._f.write(_dumps(record) + "\n")

    def close(self, counts: dict[str, int]) -> None:
        self._finish(_dumps({"type": "end", "counts": counts}) + "\n")


class ParquetWriter:
    """A folder: ``documents.parquet``, ``elements.parquet``, ``tombstones.parquet``,
    ``chunks.parquet`` (with vectors only), and ``manifest.json`` (the header and counts).
    Rows go out in row groups of ``ROW_GROUP`` records."""

    ROW_GROUP = 2000

    def __init__(self, out: Path, header: dict[str, Any], vector_dim: int | None) -> None:
        import pyarrow.parquet as pq

        from export.parquet_schema import schemas

        self.out, self.header = out, header
        self._dir = _part(out)
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir.mkdir(parents=True)
        self._schemas = schemas(vector_dim)
        self._writers = {name: pq.ParquetWriter(self._dir / f"{name}.parquet", sch)
                         for name, sch in self._schemas.items()}
        self._buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in self._schemas}

    def write(self, section: str, record: dict[str, Any]) -> None:
        from export.parquet_schema import flatten

        buf = self._buffers[section]
        buf.append(flatten(record))
        if len(buf) >= self.ROW_GROUP:
            self._flush(section)

    def _flush(self, section: str) -> None:
        import pyarrow as pa

        buf = self._buffers[section]
        if buf:
            self._writers[section].write_table(pa.Table.from_pylist(buf, schema=self._schemas[section]))
            buf.clear()

    def close(self, counts: dict[str, int]) -> None:
        for name, w in self._writers.items():
            self._flush(name)
            w.close()
        manifest = {**self.header, "files": {n: f"{n}.parquet" for n in self._writers}, "counts": counts}
        (self._dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
        if self.out.is_dir():  # an earlier export (checked before the work began)
            shutil.rmtree(self.out)
        self._dir.replace(self.out)

    def abort(self) -> None:
        for w in self._writers.values():
            w.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def open_writer(fmt: str, out: Path, header: dict[str, Any], vector_dim: int | None) -> Writer:
    if fmt == "json":
        return JsonWriter(out, header)
    if fmt == "jsonl":
        return JsonlWriter(out, header)
    return ParquetWriter(out, header, vector_dim)
