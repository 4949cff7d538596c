"""``ingest.py status | search | eval``: the index's read commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from folio.targets import add_target, resolve_pipeline

SEARCH_MODES = ("hybrid", "vector", "fts")
KINDS = ("text", "table", "image")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("status", help="documents, enrichment backlog, review queue, last runs, failures "
                        "(read-only)")
    add_target(sp)
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.add_argument("--runs", type=int, default=5, help="how many recent runs to show (default: %(default)s)")
    sp.add_argument("--no-review", action="store_true",
                    help="leave out the review queue (it reads every table and picture: seconds on a large index)")
    sp.set_defaults(func=_status)

    sp = sub.add_parser("search", help="retrieve chunks for a query, with citations")
    add_target(sp)
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
    add_target(sp)
    sp.add_argument("--questions", type=Path, required=True, help="JSONL: doc, question, evidence_page, evidence_type")
    sp.add_argument("-k", type=int, default=5, help="the k of the headline recall (default: %(default)s)")
    sp.add_argument("--mode", choices=SEARCH_MODES, default="hybrid")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(func=_eval)


def _status(args: argparse.Namespace) -> int:
    from commands.status import print_status

    if args.runs < 1:
        from folio.errors import ConfigError

        raise ConfigError("--runs must be at least 1")
    return print_status(resolve_pipeline(args), args.runs, args.json, review=not args.no_review)


def _search(args: argparse.Namespace) -> int:
    from commands.search import search_command

    pipe = resolve_pipeline(args)
    k = args.k or pipe.search.k
    return search_command(pipe, args.query, k, args.json, args.doc, args.kind, args.page, args.mode,
                          explain=args.explain)


def _eval(args: argparse.Namespace) -> int:
    from commands.eval import eval_command

    return eval_command(resolve_pipeline(args), args.questions, args.k, args.mode, args.json)
