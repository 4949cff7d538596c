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


def _match(rel: str, patterns: list[str]) -> bool:
    """Glob match where ``**/`` may also match nothing (so ``**/*.md`` covers ``a.md``)."""
    for pat in patterns:
        if fnmatchcase(rel, pat):
            return True
        if pat.startswith("**/") and fnmatchcase(rel, pat[3:]):
            return True
    return False


def walk_source(src: Source, prefix: str = "") -> list[FileEntry]:
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


def walk_sources(sources: list[Source]) -> dict[str, FileEntry]:
    """All files of the pipeline, by source key."""
    files: dict[str, FileEntry] = {}
    multi = len(sources) > 1
    for src in sources:
        prefix = Path(src.path).name + "/" if multi else ""
        for entry in walk_source(src, prefix):
            files.setdefault(entry.source, entry)
    return files
