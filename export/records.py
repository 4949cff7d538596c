"""Index rows -> export records (the shapes of ``docs/export-schema.json``).

Provenance comes from what the index stores (documents row: settings fingerprint, embedder,
committed write; element row: the caption and summary models), the runs table (which run
wrote the row) and this checkout (partitioner module and library version, prompt
versions): the index does not record the library versions a document was parsed with, so
those are the versions installed at export time, next to the settings fingerprint that
changes whenever the partition or enrichment settings, models or prompts change.
"""

from __future__ import annotations

import bisect
import json
from functools import cache
from pathlib import Path
from typing import Any

from folio.config import Pipeline
from folio.element import Element

_DOC_FIELDS = ("source", "path", "doc_id", "sha256", "size", "mtime", "status", "error", "pages",
               "elements", "chunks", "started_at", "finished_at", "seconds")
_ELEMENT_FIELDS = ("id", "doc_id", "source", "doc_sha256", "kind", "role", "text", "html", "image",
                   "caption", "summary", "page", "page_label", "bbox", "section", "order", "embed_text")
_CHUNK_FIELDS = ("id", "doc_id", "source", "doc_sha256", "kind", "text", "section", "element_ids",
                 "pages", "order", "embed_model")


def prompt_versions() -> dict[str, str]:
    from enrich import prompts

    return {"caption_ocr": prompts.CAPTION_OCR_VERSION, "caption_vlm": prompts.CAPTION_VLM_VERSION,
            "table_summary": prompts.TABLE_SUMMARY_VERSION, "checks": prompts.OUTPUT_CHECKS_VERSION}


@cache
def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def partitioner(row: dict[str, Any], pipe: Pipeline) -> tuple[str | None, str | None]:
    """(partitioner, library version) for a documents row: the type is sniffed from the file
    when it is still there (a PDF named .docx is parsed as a PDF), else taken from its suffix."""
    from folio.filetype import TEXT_SUFFIXES, sniff
    from partition import FORMATS

    kind: str | None = None
    path = Path(row.get("path") or "")
    try:
        kind = sniff(path) if path.is_file() else None
    except OSError:
        kind = None
    if kind is None:
        suffix = Path(row["source"]).suffix.lower()
        kind = TEXT_SUFFIXES.get(suffix) or suffix.lstrip(".")
    fmt = FORMATS.get(kind or "")
    if fmt is None:
        return None, None
    lib = fmt.library
    module = name = fmt.module
    if module == "partition.pdf":
        engine = pipe.partition.pdf_engine
        name = f"{module}:{engine}"
        lib = "pymupdf" if engine == "pymupdf" else "unstructured"
    v = _version(lib)
    return name, f"{lib} {v}" if v else lib


class RunIndex:
    """Which run wrote a documents row: runs never overlap (the run lock), so it is the
    last run started before the row was finished, if that run had not ended before."""

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        rows = sorted((r["started_at"] or "", r["finished_at"] or "", r["run_id"]) for r in runs)
        self._starts = [r[0] for r in rows]
        self._rows = rows

    def run_for(self, finished_at: str | None) -> str | None:
        if not finished_at:
            return None
        i = bisect.bisect_right(self._starts, finished_at) - 1
        if i < 0:
            return None
        _, end, run_id = self._rows[i]
        return run_id if not end or finished_at <= end else None


def doc_provenance(row: dict[str, Any], pipe: Pipeline, runs: RunIndex) -> dict[str, Any]:
    name, version = partitioner(row, pipe)
    return {"run_id": runs.run_for(row.get("finished_at")), "write_id": row.get("write_id"),
            "settings_fingerprint": row.get("fingerprint") or None, "embed_model": row.get("embed_model"),
            "partitioner": name, "partitioner_version": version}


def document_record(row: dict[str, Any], provenance: dict[str, Any], change: str | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"type": "document", **{k: row.get(k) for k in _DOC_FIELDS}}
    rec["provenance"] = provenance
    rec["change"] = change
    return rec


def element_record(
    row: dict[str, Any], doc_prov: dict[str, Any], review: dict[str, Any] | None,
    crop: dict[str, Any] | None, change: str | None,
) -> dict[str, Any]:
    meta = json.loads(row["meta"]) if row.get("meta") else {}
    rec: dict[str, Any] = {"type": "element", **{k: row.get(k) for k in _ELEMENT_FIELDS}}
    rec["section"] = list(rec["section"] or [])
    rec["ocr_text"] = meta.get("ocr_text")
    rec["meta"] = meta
    versions = prompt_versions()
    caption_model, summary_model = row.get("caption_model"), row.get("summary_model")
    caption_prompt = (versions["caption_vlm"] if str(caption_model).startswith("vlm:")
                      else versions["caption_ocr"] if caption_model else None)
    rec["provenance"] = {
        "run_id": doc_prov["run_id"], "write_id": row.get("write_id"),
        "partitioner": doc_prov["partitioner"], "partitioner_version": doc_prov["partitioner_version"],
        "caption_model": caption_model, "caption_method": meta.get("caption_path"),
        "caption_prompt_version": caption_prompt, "summary_model": summary_model,
        "summary_prompt_version": versions["table_summary"] if summary_model else None,
        "embed_model": doc_prov["embed_model"],
    }
    rec["crop"] = crop
    rec["review"] = review
    rec["change"] = change
    return rec


def chunk_record(row: dict[str, Any], change: str | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"type": "chunk", **{k: row.get(k) for k in _CHUNK_FIELDS}}
    rec["boxes"] = json.loads(row["boxes"]) if row.get("boxes") else []
    rec["vector"] = row["vector"]
    rec["change"] = change
    return rec


def tombstone(of: str, source: str, id_: str | None) -> dict[str, Any]:
    """A deletion: a whole document (``id`` its old doc_id), or one element or chunk."""
    return {"type": "tombstone", "of": of, "source": source, "id": id_}


def as_element(row: dict[str, Any]) -> Element:
    """An elements row as the Element the renderer takes."""
    from dataclasses import fields

    d = {f.name: row.get(f.name) for f in fields(Element) if f.name != "meta"}
    return Element.from_dict(d)
