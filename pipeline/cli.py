"""``ingest.py run``: the nightly batch job."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from folio.config import Pipeline
from folio.errors import ConfigError
from folio.exitcodes import EXIT_FATAL, EXIT_LOCKED, EXIT_OK, EXIT_PARTIAL, EXIT_RAY
from folio.targets import add_target, resolve_pipeline, settings_line


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("run", help="index what changed in a pipeline's sources (the nightly job)")
    add_target(sp)
    sp.add_argument("--source", action="append",
                    help="folder or s3://bucket/prefix to index instead of the pipeline's sources (repeatable)")
    sp.add_argument("--max-minutes", type=float, help="stop starting new documents after this long")
    sp.add_argument("--engine", choices=("local", "ray"), help="where partitioning and embedding run "
                    "(default: the pipeline's run.engine)")
    sp.add_argument("--ray-address", help="a Ray cluster to join (default: run.ray_address, else a local one)")
    sp.add_argument("--ray-deadline", type=float, metavar="SECONDS",
                    help="Ray engine: stop with exit code 4 when no worker runs within this long, or no "
                    "document comes back for run.timeout_s + this (default: run.ray_deadline_s, 300)")
    sp.add_argument("--only", action="append", metavar="SOURCE",
                    help="index (or, when its file is gone, remove) just this document, by its source key; "
                    "the rest is left for the next run (repeatable; the app's uploads use it)")
    sp.add_argument("--reindex", action="store_true", help="with --only: redo the documents even if unchanged")
    sp.add_argument("--skip-enrich", action="store_true",
                    help="phase 1 only: captions and summaries are left to the next run")
    sp.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pipeline.lock import LockedError
    from pipeline.report import ProgressLines
    from pipeline.runner import Runner, RunOptions

    pipe = resolve_pipeline(args)
    if args.pipeline is None:
        # Said before the run, not after: an unintended enrichment costs minutes per document.
        sys.stderr.write(f"folio run {pipe.name}: {settings_line(pipe, args)}\n")
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise ConfigError("--max-minutes must be > 0")
    if args.ray_deadline is not None and args.ray_deadline <= 0:
        raise ConfigError("--ray-deadline must be > 0")
    run_update = {k: v for k, v in (("engine", args.engine), ("ray_address", args.ray_address),
                                    ("ray_deadline_s", args.ray_deadline)) if v}
    if args.ray_address and not args.engine:
        run_update["engine"] = "ray"
    if run_update:
        pipe = pipe.model_copy(update={"run": pipe.run.model_copy(update=run_update)})
    if args.reindex and not args.only:
        raise ConfigError("--reindex needs --only SOURCE")
    only = frozenset(_source_key(pipe, s) for s in args.only) if args.only else None
    # A terminal gets tqdm's bar (RunOptions.progress); a cron log one plain line per document.
    lines = None if sys.stderr.isatty() else ProgressLines(pipe.name, sys.stderr)
    runner = Runner(pipe, RunOptions(max_minutes=args.max_minutes, only=only, skip_enrich=args.skip_enrich,
                                     reindex=only if args.reindex and only else frozenset(), on_document=lines))
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
    if report.stopped and report.stopped.startswith(RAY_STOPPED):
        sys.stderr.write(f"folio run {pipe.name}: {report.stopped}\n")
    return exit_code(report.status, report.stopped, report.counts["failed"])


def _source_key(pipe: Pipeline, only: str) -> str:
    """A source key as given, or the key of a file path under one of the sources."""
    if not os.path.isabs(only):
        return only
    from pipeline.walk import source_key

    key = source_key(pipe.sources, Path(only))
    if key is None:
        raise ConfigError(f"--only {only}: not inside any of the pipeline's source folders")
    return key


# How the run records a RayUnavailable (pipeline/engines/ray/watch.py): "<class name>: <message>"
RAY_STOPPED = "RayUnavailable: "


def exit_code(status: str, stopped: str | None, failed: int) -> int:
    if stopped and stopped.startswith(RAY_STOPPED):
        return EXIT_RAY
    if status == "failed" and stopped and stopped not in ("budget", "SIGTERM", "SIGINT"):
        return EXIT_FATAL
    if failed or stopped in ("SIGTERM", "SIGINT"):
        return EXIT_PARTIAL
    return EXIT_OK  # a run stopped by its time budget did what it was asked to
