"""``ingest.py init DIR``: a pipeline for a folder, written into the config file.

A newcomer's first step: one command turns "my folder" into a ``[pipelines.NAME]`` table
(appended to the config file, or a new file; comments already there stay as they are)
and prints the commands that index it, ask it and serve it, with the right flags.
Enrichment (captions, table summaries) is off in the table it writes: on a CPU it costs
minutes per document, and answers work without it; the table says how to turn it on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path

from folio.config import DEFAULT_CONFIG
from folio.errors import ConfigError
from folio.filetype import TEXT_SUFFIXES

DOC_SUFFIXES = frozenset({".pdf", ".docx", ".pptx", *TEXT_SUFFIXES})


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("init", help="write a pipeline for a folder into the config file, then print "
                        "the commands that index it and ask it")
    sp.add_argument("folder", type=Path, help="the folder of documents (PDF, DOCX, PPTX, ...)")
    sp.add_argument("--name", help="the pipeline's name (default: the folder's name)")
    sp.add_argument("--index", help="where its index goes (default: .folio/NAME beside the config file)")
    sp.add_argument("--enrich", action="store_true",
                    help="caption pictures and summarize tables with the local LLM (slow on a CPU)")
    sp.set_defaults(func=_init)


def pipeline_name(folder: Path) -> str:
    """A TOML bare key from the folder's name ("My Docs" -> "my-docs")."""
    name = re.sub(r"[^a-z0-9_-]+", "-", folder.name.lower()).strip("-")
    return name or "docs"


def _toml_path(path: Path, root: Path) -> str:
    """``path`` relative to the config file's folder when it is under it (the file stays
    movable with its folder), else absolute; as a TOML string."""
    try:
        text = path.relative_to(root).as_posix() or "."
    except ValueError:
        text = path.as_posix()
    return json.dumps(text)  # JSON string escapes are valid TOML basic-string escapes


def pipeline_table(name: str, folder: Path, index: str, root: Path, enrich: bool) -> str:
    return (
        f"\n[pipelines.{name}]\n"
        f"# Written by `ingest.py init`; edit freely (docs/configuration.md lists every key).\n"
        f'sources = [{{ path = {_toml_path(folder, root)}, include = ["**/*"], exclude = ["**/.*"] }}]\n'
        f"index = {json.dumps(index)}\n"
        f"\n[pipelines.{name}.enrich]\n"
        f"# Captions for pictures and summaries for tables, written by the local LLM: minutes per\n"
        f"# document on a CPU. Answers work without them; true makes `run` add them.\n"
        f"enabled = {'true' if enrich else 'false'}\n"
    )


def count_documents(folder: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _dirpath, dirnames, files in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in files:
            suffix = Path(f).suffix.lower()
            if suffix in DOC_SUFFIXES and not f.startswith("."):
                counts[suffix] = counts.get(suffix, 0) + 1
    return counts


def _init(args: argparse.Namespace) -> int:
    from folio.config import load_config

    folder = Path(args.folder).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"{args.folder}: not a folder")
    config = Path(args.config)
    root = config.resolve().parent
    name = args.name or pipeline_name(folder)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"--name {name!r}: use letters, digits, '-' and '_' only")
    before = config.read_text(encoding="utf-8") if config.exists() else (
        "# Folio pipelines. Paths are relative to this file.\n"
        "# Each [pipelines.NAME] table is one pipeline; `python3 ingest.py run --pipeline NAME`.\n")
    if config.exists() and name in load_config(config).pipelines:
        raise ConfigError(f"{config}: a pipeline named {name!r} exists already; choose another with --name")
    index = args.index or f".folio/{name}"
    text = before.rstrip("\n") + "\n" + pipeline_table(name, folder, index, root, args.enrich)
    # Check the result parses before replacing the user's file (a half-written or invalid
    # config would break every command).
    tmp = config.with_name(f".{config.name}.init-tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        pipe = load_config(tmp).pipeline(name)
    except ConfigError:
        tmp.unlink()
        raise
    os.replace(tmp, config)

    counts = count_documents(folder)
    found = ", ".join(f"{n} {s[1:]}" for s, n in sorted(counts.items())) or "no documents Folio reads yet"
    out = sys.stdout
    out.write(f"wrote pipeline {name!r} to {config}: sources {folder} ({found}), index {pipe.index}, "
              f"enrichment {'on' if args.enrich else 'off'}\n")
    for line in next_commands(name, str(args.config), args.enrich):
        out.write(line + "\n")
    return 0


def next_commands(name: str, config: str, enrich: bool, script: str | None = None) -> list[str]:
    """The commands that take the new pipeline from a folder to an answer, runnable from
    the current folder (``script``: ingest.py as it was invoked)."""
    ingest = Path(script or sys.argv[0])
    serve = ingest.with_name("serve.py")
    flags = f"--pipeline {name}" + ("" if config == DEFAULT_CONFIG else f" --config {shlex.quote(config)}")
    steps = [(f"python3 {shlex.quote(str(ingest))} run {flags}", "index the folder (again after changes)"),
             (f'python3 {shlex.quote(str(ingest))} ask {flags} "your question"', "an answer with its sources"),
             (f"python3 {shlex.quote(str(serve))} {flags}", "the app on http://127.0.0.1:7860/")]
    if enrich:
        steps.insert(0, (f"python3 {shlex.quote(str(ingest))} models prepare {flags}",
                         "once: the models enrichment uses"))
    width = max(len(cmd) for cmd, _ in steps)
    return ["next:"] + [f"  {cmd:{width}}  # {why}" for cmd, why in steps]
