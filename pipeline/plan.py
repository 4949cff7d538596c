"""Decide what a run has to do: compare the files on disk with the documents table.

Cheap first: (size, mtime) equal to the documents row and the same settings fingerprint
means unchanged, without reading the file. A differing stat is confirmed by hashing, so
a file that was only touched (same bytes) is still skipped; its new mtime is recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from folio.config import Pipeline
from index.records import INDEXED
from pipeline.walk import FileEntry


def settings_fingerprint(pipe: Pipeline, enrich: str | None = None) -> str:
    """What shapes a document's rows: partition + chunk settings + which embedder, and
    ``enrich``, the enrichment part (pipeline/enrichment.py: settings, resolved model ids,
    prompt versions), left out when None.

    The embedder part is its settings (model folder, precision) and the export recipe, so
    the check needs no model loading; the exact model id is compared once the embedder is loaded anyway.
    Readable parts (``p=..;c=..;e=..;x=..``) let the report say which part changed.
    """
    from index.onnx_cache import RECIPE_VERSION

    embed = pipe.embed.model_dump(mode="json", include={"model_dir", "precision"})
    # A new export recipe is a new model as far as the vectors go: re-embed.
    embed["recipe"] = RECIPE_VERSION
    e = hashlib.sha256(json.dumps(embed, sort_keys=True).encode()).hexdigest()[:12]
    from index.chunk import CHUNKER_VERSION

    # The chunker's version joins its settings: better chunk text re-chunks stored elements.
    from index.profile import PROFILE_VERSION

    # A better document profile (routing) is written with the chunks: it re-commits too.
    c = hashlib.sha256(f"{pipe.fingerprint('chunk')}:{CHUNKER_VERSION}:{PROFILE_VERSION}".encode()).hexdigest()[:12]
    from partition import PARTITIONER_VERSION

    # Better partitioning (e.g. tables joined over page breaks) re-partitions stored documents.
    p = hashlib.sha256(f"{pipe.fingerprint('partition')}:{PARTITIONER_VERSION}".encode()).hexdigest()[:12]
    from partition.office.render import render_state

    # Where office page images come from ("lo": LibreOffice, "off"): only DOCX/PPTX rows
    # carry this part (``for_document``), so installing LibreOffice later redoes only them.
    fp = f"p={p};c={c};e={e};o={render_state(pipe.partition.office_render)}"
    return fp if enrich is None else f"{fp};x={enrich}"


OFFICE_SUFFIXES = (".docx", ".pptx")


def for_document(fingerprint: str, source: str) -> str:
    """The fingerprint a document's row records: without the office-render part unless
    the document is a DOCX or PPTX."""
    if source.lower().endswith(OFFICE_SUFFIXES):
        return fingerprint
    return ";".join(p for p in fingerprint.split(";") if not p.startswith("o="))


def changed_parts(old: str | None, new: str) -> list[str]:
    """Which fingerprint parts differ: ["partition", "chunk", "embed", "render", "enrich"] (all if unreadable)."""
    names = {"p": "partition", "c": "chunk", "e": "embed", "o": "render", "x": "enrich"}

    def parts(fp: str | None) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in (fp or "").split(";"):
            key, _, value = item.partition("=")
            out[key] = value
        return out

    a, b = parts(old), parts(new)
    return [name for key, name in names.items() if a.get(key) != b.get(key)]




@dataclass
class Task:
    entry: FileEntry
    reason: str  # new | changed | fingerprint | model | incomplete | enrich
    sha256: str | None = None  # known when the plan had to hash the file
    previous_status: str | None = None
    reuse_elements: bool = False  # the stored elements are still valid: skip partitioning
    keep_vectors: bool = False  # stored vectors of unchanged chunk texts are re-used


@dataclass
class Plan:
    tasks: list[Task] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed_known: list[str] = field(default_factory=list)  # failed before, same bytes and settings
    deleted: list[str] = field(default_factory=list)
    touched: list[Any] = field(default_factory=list)  # DocRecords with a refreshed path/mtime
    seen: int = 0

    @property
    def needs_writes(self) -> bool:
        return bool(self.tasks or self.deleted or self.touched)


def make_plan(
    files: Mapping[str, FileEntry],
    docs: Mapping[str, Any],
    fingerprint: str,
    hasher: Callable[[Path], str],
    stored_model: str | None = None,
) -> Plan:
    """``docs``: DocRecords by source (index.store.Store.documents()); ``stored_model``:
    the embedder of the chunks table. An ok document embedded by another model (left
    over from an interrupted re-embedding) is redone."""
    plan = Plan(seen=len(files))
    for source, entry in files.items():
        old = docs.get(source)
        if old is None:
            plan.tasks.append(Task(entry, "new"))
            continue
        if old.status not in INDEXED and old.status != "error":
            plan.tasks.append(Task(entry, "incomplete", previous_status=old.status))
            continue
        same_stat = old.size == entry.size and old.mtime == entry.mtime
        sha = None if same_stat else hasher(entry.path)
        if sha is not None and sha != old.sha256:
            plan.tasks.append(Task(entry, "changed", sha, previous_status=old.status))
            continue
        doc_fp = for_document(fingerprint, source)
        if old.fingerprint != doc_fp:
            # Same bytes, other settings: if the partition settings still hold, the stored
            # elements are re-chunked and re-embedded instead of partitioning again.
            changed = changed_parts(old.fingerprint, doc_fp)
            reuse = old.status in INDEXED and not {"partition", "render"} & set(changed)
            # Only the office renderer changed: partition again for pages and boxes, but
            # a chunk whose text is unchanged keeps its stored vector.
            keep = old.status in INDEXED and changed == ["render"]
            plan.tasks.append(Task(entry, "fingerprint", old.sha256, old.status, reuse_elements=reuse,
                                   keep_vectors=keep))
            continue
        if old.status in INDEXED and stored_model is not None and old.embed_model != stored_model:
            plan.tasks.append(Task(entry, "model", old.sha256, old.status, reuse_elements=True))
            continue
        if old.status == "partial":
            # Indexed with its text, enrichment cut short by a budget: finish it from the
            # stored elements (the enrichment cache makes the done part free).
            plan.tasks.append(Task(entry, "enrich", old.sha256, old.status, reuse_elements=True))
            continue
        if sha is not None:
            plan.touched.append(
                dataclasses.replace(old, size=entry.size, mtime=entry.mtime, path=str(entry.path))
            )
        (plan.unchanged if old.status == "ok" else plan.failed_known).append(source)
    plan.deleted = sorted(set(docs) - set(files))
    # Finishing an enrichment cut short comes last: under a time budget every new or
    # changed document gets indexed (searchable by its text) before older backlog.
    plan.tasks.sort(key=lambda t: t.reason == "enrich")
    return plan


def narrow(plan: Plan, only: frozenset[str], reindex: frozenset[str], files: Mapping[str, FileEntry],
           docs: Mapping[str, Any]) -> list[str]:
    """Keep only the work on the documents ``only`` names (a run for the app's upload,
    removal or re-index); those in ``reindex`` are redone even when unchanged. Returns
    the names that are neither a file nor a document."""
    plan.tasks = [t for t in plan.tasks if t.entry.source in only]
    plan.deleted = [s for s in plan.deleted if s in only]
    plan.touched = [r for r in plan.touched if r.source in only]
    redo = [s for s in plan.unchanged + plan.failed_known if s in reindex and s in only]
    for source in redo:
        old = docs[source]
        plan.tasks.append(Task(files[source], "reindex", old.sha256, previous_status=old.status))
    plan.unchanged = [s for s in plan.unchanged if s in only and s not in redo]
    plan.failed_known = [s for s in plan.failed_known if s in only and s not in redo]
    plan.seen = len(only & set(files))
    return sorted(only - set(files) - set(docs))
