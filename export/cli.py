"""``ingest.py export``: the enriched index as JSON, JSON Lines or Parquet (docs/export.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from export import FORMATS, IMAGE_MODES
from folio.exitcodes import EXIT_OK
from folio.sizes import human_size


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("export", help="write every document and element (enrichments, provenance, review state)")
    sp.add_argument("--pipeline", default="default", help="pipeline name in the config (default: %(default)s)")
    sp.add_argument("--db", type=Path, help="index folder (overrides the pipeline's index)")
    sp.add_argument("--format", choices=FORMATS, default="json", help="default: %(default)s")
    sp.add_argument("--out", type=Path, required=True,
                    help="output file (json, jsonl) or folder (parquet)")
    sp.add_argument("--since", metavar="VERSION|DATE",
                    help="only what changed since this documents_version (printed by every export) or ISO date; "
                         "deletions as tombstones")
    sp.add_argument("--images", choices=IMAGE_MODES, default="none",
                    help="crops of tables and pictures: file paths, base64 PNG, or none (default: %(default)s)")
    sp.add_argument("--with-vectors", action="store_true", help="add the chunks with their vectors")
    sp.add_argument("--doc", action="append", metavar="SOURCE", help="only this document (repeatable)")
    sp.add_argument("--tables-csv", type=Path, metavar="DIR", help="also write each table as a CSV file here")
    sp.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from export.run import ExportOptions, write_export
    from folio.targets import resolve_pipeline

    pipe = resolve_pipeline(args)
    opts = ExportOptions(fmt=args.format, images=args.images, with_vectors=args.with_vectors, since=args.since,
                         sources=args.doc, tables_csv=args.tables_csv)
    s = write_export(pipe, args.out, opts)
    c = s.counts
    extra = "".join(f", {c[k]} {k.replace('_', ' ')}" for k in ("chunks", "tombstones", "crops", "tables_csv")
                    if c[k])
    sys.stdout.write(
        f"folio export {pipe.name}: {c['documents']} documents, {c['elements']} elements{extra} -> {s.out} "
        f"({human_size(s.bytes)}) in {s.seconds:.1f} s; documents_version {s.documents_version} "
        f"(next time: --since {s.documents_version})\n"
    )
    return EXIT_OK
