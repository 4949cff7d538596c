"""Which files a pipeline covers: its sources with include/exclude globs.

A document's ``source`` key is its path relative to the source root (what users see and
what the documents table is keyed by). With several source folders the key is prefixed
by the folder's name so two ``report.pdf`` in different roots stay distinct.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from folio.config import Source
from folio.errors import ConfigError


@dataclass(frozen=True)
class FileEntry:
    source: str  # key in the documents table
    path: Path  # absolute
    size: int
    mtime: float
    # An object of a source on an object store: its URI; ``path`` is where ``fetch`` puts
    # this machine's copy (only when the file has to be read: hashed or partitioned).
    remote: str | None = None


def _match(rel: str, patterns: list[str]) -> bool:
    """Glob match where ``**/`` may also match nothing (so ``**/*.md`` covers ``a.md``)."""
    for pat in patterns:
        if fnmatchcase(rel, pat):
            return True
        if pat.startswith("**/") and fnmatchcase(rel, pat[3:]):
            return True
    return False


def walk_remote(src: Source, prefix: str, options: dict[str, str] | None) -> list[FileEntry]:
    """The objects under an object-store prefix: one list request per 1,000 objects, the
    object's size and last-modified time standing in for the file's stat."""
    from folio.storage import blobs_for, resolve_options

    uri = src.remote or ""
    blobs = blobs_for(uri, resolve_options(options))
    if not hasattr(blobs, "list_stat"):
        raise ConfigError(f"sources.path: {uri}: listing is only supported on s3:// so far")
    out: list[FileEntry] = []
    for rel, size, mtime in blobs.list_stat(""):
        if not rel or rel.endswith("/") or ".." in rel.split("/"):
            continue
        if not _match(rel, src.include) or _match(rel, src.exclude):
            continue
        out.append(FileEntry(prefix + rel, Path(src.path) / rel, size, mtime, remote=f"{uri}/{rel}"))
    return out


def fetch(entry: FileEntry, options: dict[str, str] | None = None) -> Path:
    """The local file of ``entry``: a source object is downloaded unless this machine's copy
    has the listed size and time already (the copy gets the object's time as its mtime)."""
    if entry.remote is None:
        return entry.path
    try:
        st = entry.path.stat()
        if (st.st_size, st.st_mtime) == (entry.size, entry.mtime):
            return entry.path
    except OSError:
        pass
    from folio.storage import S3Blobs, resolve_options

    bucket_uri, _, key = entry.remote.partition("://")[2].partition("/")
    S3Blobs(f"s3://{bucket_uri}", resolve_options(options)).download(key, entry.path)
    os.utime(entry.path, (entry.mtime, entry.mtime))
    return entry.path


def walk_source(src: Source, prefix: str = "", options: dict[str, str] | None = None) -> list[FileEntry]:
    if src.remote is not None:
        return walk_remote(src, prefix, options)
    root = Path(src.path)
    if not root.is_dir():
        raise ConfigError(f"sources.path: {root} is not a folder")
    out: list[FileEntry] = []
    # os.walk + one stat per file: this runs every night over the whole share, so no
    # per-file Path objects or globbing of the tree once per pattern.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if not _match(rel, src.include) or _match(rel, src.exclude):
                continue
            try:
                st = os.stat(full)
            except OSError:
                continue  # vanished between listing and stat
            if not os.path.isfile(full):
                continue
            out.append(FileEntry(prefix + rel, Path(full), st.st_size, st.st_mtime))
    return out


def _prefix(sources: list[Source], src: Source) -> str:
    name = src.remote.rsplit("/", 1)[-1] if src.remote else Path(src.path).name
    return name + "/" if len(sources) > 1 else ""


def source_key(sources: list[Source], path: Path) -> str | None:
    """The source key a file at ``path`` has (or would have) under the pipeline's local sources."""
    for src in sources:
        root = Path(src.path).resolve()
        if src.remote is None and path.resolve().is_relative_to(root):
            return _prefix(sources, src) + path.resolve().relative_to(root).as_posix()
    return None


def walk_sources(sources: list[Source], options: dict[str, str] | None = None) -> dict[str, FileEntry]:
    """All files of the pipeline, by source key; ``options``: the pipeline's (non-secret)
    storage options for sources on an object store."""
    files: dict[str, FileEntry] = {}
    for src in sources:
        prefix = _prefix(sources, src)
        for entry in walk_source(src, prefix, options):
            files.setdefault(entry.source, entry)
    return files
