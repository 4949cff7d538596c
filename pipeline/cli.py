"""``ingest.py run | status | search | eval``: the batch job and the index's read commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from folio.config import Pipeline, Source, load_config
from folio.errors import ConfigError
from folio.exitcodes import EXIT_FATAL, EXIT_LOCKED, EXIT_OK, EXIT_PARTIAL
from folio.storage import is_uri

SEARCH_MODES = ("hybrid", "vector", "fts")
KINDS = ("text", "table", "image")


def _add_target(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--pipeline", default="default", help="pipeline name in the config (default: %(default)s)")
    sp.add_argument("--db", help="index folder or object-store prefix, s3://bucket/prefix "
                    "(overrides the pipeline's index)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("run", help="index what changed in a pipeline's sources (the nightly job)")
    _add_target(sp)
    sp.add_argument("--source", action="append",
                    help="folder or s3://bucket/prefix to index instead of the pipeline's sources (repeatable)")
    sp.add_argument("--max-minutes", type=float, help="stop starting new documents after this long")
    sp.add_argument("--engine", choices=("local", "ray"), help="where partitioning and embedding run "
                    "(default: the pipeline's run.engine)")
    sp.add_argument("--ray-address", help="a Ray cluster to join (default: run.ray_address, else a local one)")
    sp.set_defaults(func=_run)

    sp = sub.add_parser("status", help="last runs, index size, failed documents")
    _add_target(sp)
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.add_argument("--runs", type=int, default=5, help="how many recent runs to show")
    sp.set_defaults(func=_status)

    sp = sub.add_parser("search", help="retrieve chunks for a query, with citations")
    _add_target(sp)
    sp.add_argument("query")
    sp.add_argument("-k", type=int, default=None, help="number of hits (default: the pipeline's search.k)")
    sp.add_argument("--json", action="store_true", help="print a JSON list of hits")
    sp.add_argument("--doc", help="only this document (its source path)")
    sp.add_argument("--kind", choices=KINDS)
    sp.add_argument("--page", type=int, help="only chunks on this page (1-based)")
    sp.add_argument("--mode", choices=SEARCH_MODES, default="hybrid")
    sp.add_argument("--explain", action="store_true",
                    help="show which documents the question was routed to and why, and each hit's leg ranks")
    sp.set_defaults(func=_search)

    sp = sub.add_parser("eval", help="retrieval recall@k / MRR on a questions file")
    _add_target(sp)
    sp.add_argument("--questions", type=Path, required=True, help="JSONL: doc, question, evidence_page, evidence_type")
    sp.add_argument("-k", type=int, default=5, help="the k of the headline recall (default: %(default)s)")
    sp.add_argument("--mode", choices=SEARCH_MODES, default="hybrid")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(func=_eval)


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
    pipe = load_config(config_path).pipeline(args.pipeline)
    update: dict[str, object] = {}
    if folders:
        globs = pipe.sources[0].model_dump(include={"include", "exclude"}) if pipe.sources else {}
        update["sources"] = [Source(path=p, **globs) for p in folders]
    if db:
        # validated again (not model_copy): a URI becomes ``remote`` plus a local cache folder
        data = {**pipe.model_dump(), **update, "index": db, "remote": None}
        return Pipeline.model_validate(data)
    return pipe.model_copy(update=update) if update else pipe


def _run(args: argparse.Namespace) -> int:
    from pipeline.lock import LockedError
    from pipeline.runner import Runner, RunOptions

    pipe = resolve_pipeline(args)
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise ConfigError("--max-minutes must be > 0")
    run_update = {k: v for k, v in (("engine", args.engine), ("ray_address", args.ray_address)) if v}
    if args.ray_address and not args.engine:
        run_update["engine"] = "ray"
    if run_update:
        pipe = pipe.model_copy(update={"run": pipe.run.model_copy(update=run_update)})
    runner = Runner(pipe, RunOptions(max_minutes=args.max_minutes))
    try:
        report = runner.run()
    except LockedError as e:
        sys.stderr.write(f"folio run {pipe.name}: {e}\n")
        return EXIT_LOCKED
    for line in report.summary_lines(runner.report_path):
        sys.stdout.write(line + "\n")
    if report.stopped in ("SIGTERM", "SIGINT"):
        sys.stderr.write(
            f"folio run {pipe.name}: stopped by {report.stopped} after the current document; "
            "recorded as a partial run, the rest is picked up next run\n"
        )
    return exit_code(report.status, report.stopped, report.counts["failed"])


def exit_code(status: str, stopped: str | None, failed: int) -> int:
    if status == "failed" and stopped and stopped not in ("budget", "SIGTERM", "SIGINT"):
        return EXIT_FATAL
    if failed or stopped in ("SIGTERM", "SIGINT"):
        return EXIT_PARTIAL
    return EXIT_OK  # a run stopped by its time budget did what it was asked to


def _status(args: argparse.Namespace) -> int:
    from pipeline.status import print_status

    return print_status(resolve_pipeline(args), args.runs, args.json)


def _search(args: argparse.Namespace) -> int:
    from pipeline.query import search_command

    pipe = resolve_pipeline(args)
    k = args.k or pipe.search.k
    return search_command(pipe, args.query, k, args.json, args.doc, args.kind, args.page, args.mode,
                          explain=args.explain)


def _eval(args: argparse.Namespace) -> int:
    from pipeline.eval import eval_command

    return eval_command(resolve_pipeline(args), args.questions, args.k, args.mode, args.json)
