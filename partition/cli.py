"""``ingest.py partition FILE``: show what one document turns into, without indexing it."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from folio.config import PartitionSettings, RunSettings, load_config
from folio.element import Element
from folio.errors import DocumentError
from partition import partition_file
from partition.isolate import run_isolated


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("partition", help="show what one document turns into (no indexing)")
    sp.add_argument("file", type=Path)
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.add_argument("--pipeline", default="default", help="take partition settings from this pipeline")
    sp.add_argument("--assets", type=Path, help="keep the crops in this folder (default: none kept)")
    sp.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings, timeout = PartitionSettings(), RunSettings().timeout_s
    if Path(args.config).exists():
        pipe = load_config(args.config).pipeline(args.pipeline)
        settings, timeout = pipe.partition, pipe.run.timeout_s
    return partition_command(args.file, settings, timeout, args.json, args.assets)


def partition_command(
    file: Path, settings: PartitionSettings, timeout_s: float, as_json: bool, assets: Path | None
) -> int:
    if assets is not None:
        return _partition(file, settings, timeout_s, as_json, assets, keep=True)
    # The crops must be written somewhere while partitioning, but nobody asked for them: a
    # folder per call left in /tmp piled up (one per `partition` run), so it goes at the end.
    with tempfile.TemporaryDirectory(prefix="folio-assets-") as tmp:
        return _partition(file, settings, timeout_s, as_json, Path(tmp), keep=False)


def _partition(
    file: Path, settings: PartitionSettings, timeout_s: float, as_json: bool, assets_root: Path, keep: bool
) -> int:
    result: dict[str, Any] = {"file": str(file), "status": "ok", "error": None, "elements": []}
    try:
        elements: list[Element] = run_isolated(
            partition_file, (file, settings, assets_root), timeout_s, str(file)
        )
    except DocumentError as e:
        result.update(status="error", error=e.reason)
        elements = []
    result["assets"] = str(assets_root) if keep else None
    result["elements"] = [e.to_dict() for e in elements]
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        _print_human(result, elements)
    return 0 if result["status"] == "ok" else 1


def _print_human(result: dict[str, Any], elements: list[Element]) -> None:
    out = sys.stdout
    if result["status"] != "ok":
        out.write(f"error: {result['file']}: {result['error']}\n")
        return
    counts: dict[str, int] = {}
    for e in elements:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    pages = {e.page for e in elements if e.page is not None}
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    out.write(f"{result['file']}: {len(elements)} elements ({summary}) on {len(pages)} pages\n")
    if any(e.image for e in elements):
        kept = result["assets"]
        out.write(f"crops in {kept}\n" if kept else "crops not kept (--assets DIR keeps them)\n")
    for e in elements:
        where = f"p{e.page}" if e.page is not None else "-"
        if e.page_label and e.page_label != str(e.page):
            where += f"({e.page_label})"
        section = " > ".join(e.section)
        text = " ".join(e.text.split())
        if len(text) > 100:
            text = text[:97] + "..."
        extra = f" [{e.image}]" if e.image else ""
        out.write(f"{where:>8} {e.kind:5} {e.role:10} {section[:40]:40} {text}{extra}\n")
