"""Which pipeline a command works on: ``--pipeline NAME`` in the config file, with the
command line's ``--source`` / ``--db`` applied. Every entry point resolves its target here."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from folio.config import Pipeline, Source, load_config
from folio.storage import is_uri


def add_target(sp: argparse.ArgumentParser) -> None:
    # None, not "default": a run must be able to say that it fell back to "default" (settings()).
    sp.add_argument("--pipeline", default=None, help="pipeline name in the config (default: default)")
    sp.add_argument("--db", help="index folder or object-store prefix, s3://bucket/prefix "
                    "(overrides the pipeline's index)")


def resolve_pipeline(args: argparse.Namespace) -> Pipeline:
    """The named pipeline with the command line's --source / --db applied.

    A --source folder takes the include/exclude globs of the pipeline's first source, so
    an ad-hoc run over another copy of a share filters it the same way.
    """
    folders: list[Any] = [p if is_uri(p) else Path(p).resolve() for p in getattr(args, "source", None) or []]
    config_path = Path(args.config)
    db: str | None = None
    if args.db:
        db = args.db if is_uri(args.db) else str(Path(args.db).resolve())
    if not config_path.exists() and db:
        # An index named on the command line needs no config (read commands, ad-hoc runs).
        sources = [Source(path=p, exclude=["**/.*"]) for p in folders]
        return Pipeline(name="adhoc", sources=sources, index=db)  # type: ignore[arg-type]
    pipe = load_config(config_path).pipeline(getattr(args, "pipeline", None) or "default")
    update: dict[str, object] = {}
    if folders:
        globs = pipe.sources[0].model_dump(include={"include", "exclude"}) if pipe.sources else {}
        update["sources"] = [Source(path=p, **globs) for p in folders]
    if db:
        # validated again (not model_copy): a URI becomes ``remote`` plus a local cache folder
        data = {**pipe.model_dump(), **update, "index": db, "remote": None}
        return Pipeline.model_validate(data)
    return pipe.model_copy(update=update) if update else pipe


def settings_line(pipe: Pipeline, args: argparse.Namespace) -> str:
    """Which settings a command took when no --pipeline named them: the "default" pipeline's
    (enrichment and all), or built-in ones for an index named by --db without a config."""
    if pipe.name == "adhoc":
        origin = f"no {args.config}: built-in settings"
    else:
        origin = f"no --pipeline given: the settings of [pipelines.{pipe.name}] in {args.config}"
    enrich = pipe.enrich
    if enrich.enabled:
        what = " and ".join(w for w, on in (("captions", enrich.captions), ("table summaries", enrich.tables)) if on)
        state = f"enrichment on ({what or 'nothing'} with {pipe.models.llm})"
    else:
        state = "enrichment off"
    where = ", ".join(str(s.remote or s.path) for s in pipe.sources) or "none"
    return f"{origin}; sources {where}; index {pipe.location}; {state}"
