"""``ingest.py ask``: the terminal way to ask. Streams the answer, then the numbered sources."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from folio.element import KINDS
from folio.exitcodes import EXIT_FATAL, EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("ask", help="answer a question from the index, with checked citations")
    sp.add_argument("--pipeline", default="default", help="pipeline name in the config (default: %(default)s)")
    sp.add_argument("--db", help="index folder or s3://bucket/prefix (overrides the pipeline's index)")
    sp.add_argument("question")
    sp.add_argument("-k", type=int, default=None, help="blocks of context (default: the pipeline's answer.k)")
    sp.add_argument("--session", help="continue this conversation (its id is printed after each answer)")
    sp.add_argument("--doc", help="only this document (its source path)")
    sp.add_argument("--kind", choices=KINDS)
    sp.add_argument("--page", type=int, help="only this page (1-based)")
    sp.add_argument("--show-prompt", action="store_true", help="print the exact prompt sent to the model")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(func=_ask)


def _ask(args: argparse.Namespace) -> int:
    from answer.engine import Engine
    from answer.requests import Ask, AskError, validate
    from folio.targets import resolve_pipeline

    pipe = resolve_pipeline(args)
    filters = {k: v for k, v in (("source", args.doc), ("kind", args.kind), ("page", args.page)) if v is not None}
    req = Ask(args.question, session_id=args.session, k=args.k, filters=filters, show_prompt=args.show_prompt)
    try:
        validate(req, pipe)  # before the model loads: a bad question fails at once
    except AskError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_FATAL
    engine = Engine.load(pipe)
    out = sys.stdout
    try:
        result: dict[str, Any] = {}
        for ev in engine.ask(req):
            if args.json:
                if ev.kind == "done":
                    result = ev.data
                continue
            if ev.kind == "query":
                out.write(f"(searching for: {ev.data['standalone_query']})\n")
            elif ev.kind == "sources" and args.show_prompt:
                out.write(f"----- prompt sent to the model ({ev.data['prompt_tokens']} tokens) -----\n"
                          f"{ev.data['prompt']}\n----- end of prompt -----\n")
            elif ev.kind == "token":
                out.write(ev.data)
                out.flush()
            elif ev.kind == "done":
                result = ev.data
    except AskError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_FATAL
    if args.json:
        if not args.show_prompt:
            result.pop("prompt", None)
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        return EXIT_OK
    out.write("\n")
    for line in format_result(result):
        out.write(line + "\n")
    return EXIT_OK


def format_result(result: dict[str, Any]) -> list[str]:
    """What follows the streamed text: the checked answer, flags, sources, timings."""
    from answer.context import where

    lines = ["", f"Checked answer: {result['answer']}"]
    for u in result.get("unsupported") or []:
        why = f"figures {', '.join(map(str, u['figures']))} are in no source" if u["figures"] else u.get("reason", "")
        lines.append(f"  unsupported ({why}): {u['sentence']}")
    if result["citations"]:
        lines.append("Sources:")
        for c in result["citations"]:
            loc = where(c["source"], c["page"], c["page_label"])
            lines.append(f"  [{c['n']}] {c['source']}{', ' + loc if loc else ''}  ({c['kind']})")
    t = result["timings"]
    lines.append(
        f"session {result['session_id']}  ·  retrieval {t['retrieve_ms']:.0f} ms, first token "
        f"{t['ttft_ms'] / 1000:.1f} s, total {t['total_ms'] / 1000:.1f} s, {result['prompt_tokens']} prompt tokens"
    )
    return lines
