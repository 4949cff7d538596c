#!/usr/bin/env python3
"""Folio batch CLI: init | partition | run | status | search | eval | export | models | doctor.

Exit codes: 0 ok, 1 some documents failed, 2 configuration or fatal error, 3 locked,
4 the Ray engine could not use its cluster (run.ray_deadline_s).
Each command lives in the package it belongs to; that module's ``register(subparsers)``
adds its parser and sets ``func(args) -> int``. Heavy imports happen inside ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from folio.offline import enforce_offline

enforce_offline()

from folio.config import DEFAULT_CONFIG  # noqa: E402
from folio.errors import FolioError, report  # noqa: E402

# Modules that register subcommands, in the order they appear in --help.
COMMAND_MODULES = [
    "commands.init",
    "partition.cli",
    "pipeline.cli",
    "commands.cli",
    "commands.models",
    "answer.cli",
    "export.cli",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ingest.py", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--config", default=DEFAULT_CONFIG, help="pipelines file (default: %(default)s)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # a command whose module is not written yet
        module.register(sub)
    _config_after_command(sub)
    return p


def _config_after_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``--config`` is also accepted after the command (``ingest.py run --config x.toml``),
    the place people type it; SUPPRESS keeps the top-level value when it is not given there."""
    for parser in set(sub.choices.values()):
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            _config_after_command(nested[0])
        elif not any("--config" in a.option_strings for a in parser._actions):
            parser.add_argument("--config", default=argparse.SUPPRESS, help="pipelines file (as before the command)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except FolioError as e:
        return report(e)


if __name__ == "__main__":
    sys.exit(main())
