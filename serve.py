#!/usr/bin/env python3
"""Folio app: the Gradio UI, the JSON API and the OpenAI-compatible endpoint in one process.

    python serve.py [--pipeline NAME] [--db PATH] [--host 127.0.0.1] [--port 7860] [--login auto|always]
                    [--allowed-host NAME ...]
    python serve.py users add NAME [--role reader|reviewer]   # password read from the terminal
    python serve.py mcp [--pipeline NAME] [--db PATH]          # MCP over stdio (desktop clients)

Login is required whenever --host is not a loopback address (and with --login always).
With nothing indexed yet, every page says which `ingest.py run` to type, and the app starts
by itself once the first document is indexed (ui/first_run.py).
Exit codes: 0 stopped normally, 2 configuration error (no users for a public bind, ...).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from folio.offline import enforce_offline

enforce_offline()

from folio.config import DEFAULT_CONFIG  # noqa: E402
from folio.errors import ConfigError, FolioError, report  # noqa: E402
from folio.exitcodes import EXIT_FATAL, EXIT_OK  # noqa: E402

DEFAULT_USERS = Path(".folio/users.json")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="serve.py", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--config", default=DEFAULT_CONFIG, help="pipelines file (default: %(default)s)")
    p.add_argument("--pipeline", default="default", help="pipeline to serve (default: %(default)s)")
    p.add_argument("--db", help="index folder or s3://bucket/prefix (overrides the pipeline's index)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--login", choices=["auto", "always"], default=None,
                   help="auto: login required off loopback; always: on loopback too (shared machines) "
                        "(default: serve.login of the pipeline, auto)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a host name clients use to reach this server (behind a reverse proxy: its public "
                        "name); requests naming any other host are refused (DNS rebinding). Repeatable.")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def users_command(argv: list[str]) -> int:
    from ui.auth import ROLES, AuthError, add_user

    p = argparse.ArgumentParser(prog="serve.py users")
    p.add_argument("action", choices=["add"])
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, default="reader")
    p.add_argument("--file", type=Path, default=None,
                   help=f"users file (default: $FOLIO_USERS_FILE or {DEFAULT_USERS})")
    args = p.parse_args(argv)
    path = args.file or Path(os.environ.get("FOLIO_USERS_FILE") or DEFAULT_USERS)
    password = os.environ.get("FOLIO_NEW_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
    if len(password) < 8:
        sys.stderr.write("error: password: at least 8 characters\n")
        return EXIT_FATAL
    try:
        add_user(path, args.name, password, args.role)
    except AuthError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_FATAL
    print(f"{args.name} ({args.role}) saved in {path} (scrypt hash)")
    return EXIT_OK


def first_command(args: argparse.Namespace, pipeline: str) -> str:
    """The indexing command a new user types, as they would type it here."""
    import shlex

    here = Path(__file__).resolve().parent
    script = "ingest.py" if Path.cwd().resolve() == here else str(here / "ingest.py")
    parts = ["python3", script]
    if args.config != DEFAULT_CONFIG:
        parts += ["--config", args.config]
    parts += ["run", "--pipeline", pipeline, *(["--db", args.db] if args.db else [])]
    return shlex.join(parts)


def _serve(app: Any, args: argparse.Namespace, pipe: Any, ready: Callable[[], bool] | None = None) -> bool:
    """Serve ``app`` until stopped, or (with ``ready``) until ``ready()`` turns true, checked
    every few seconds; True when it stopped because of ``ready``."""
    import threading

    import uvicorn

    from ui.first_run import POLL_S

    # limit_concurrency: past it uvicorn answers 503 at once instead of accepting without
    # bound; it sits above the model's line plus the other routes so the line's own 429
    # comes first. Short keep-alive: idle or slow clients do not hold connections open.
    server = uvicorn.Server(uvicorn.Config(
        app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5,
        limit_concurrency=pipe.serve.max_connections, timeout_keep_alive=5))
    became_ready = threading.Event()
    if ready is not None:
        def watch() -> None:
            while not server.should_exit:
                try:
                    if ready():
                        became_ready.set()
                        server.should_exit = True
                        return
                except Exception:  # an index being written right now: look again later
                    logging.getLogger("folio.serve").debug("index check failed", exc_info=True)
                time.sleep(POLL_S)

        threading.Thread(target=watch, name="folio-first-run", daemon=True).start()
    server.run()
    return became_ready.is_set()


def _check_sessions_database(pipe: Any) -> None:
    """A sessions database named by FOLIO_DATABASE_URL is reached before the first-run page
    is served: a wrong URL or a server down ends the start with the reason (exit 2)."""
    from folio.db import database_url

    url = database_url()
    if url:
        from answer.sessions import Sessions

        Sessions(pipe.index, url)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["users"]:
        return users_command(argv[1:])
    if argv[:1] == ["mcp"]:
        from ui.mcp import stdio_command

        return stdio_command(argv[1:], DEFAULT_CONFIG)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        from folio.targets import resolve_pipeline
        from ui.auth import Authenticator, AuthError, is_loopback, load_users

        pipe = resolve_pipeline(args)
        auth = None
        login = args.login or pipe.serve.login
        if login == "always" or not is_loopback(args.host):
            try:
                users = load_users(pipe.serve.users_file or DEFAULT_USERS)
            except AuthError as e:
                raise ConfigError(str(e)) from None
            if not users:
                why = "--login always" if login == "always" else f"--host {args.host} is not a loopback address"
                raise ConfigError(
                    f"{why}, so login is required, and no users are "
                    "configured: add one with `python serve.py users add NAME` (or set FOLIO_USERS_FILE)")
            auth = Authenticator(users, max_failures=pipe.serve.login_max_failures)
        from ui import first_run
        from ui.guard import allowed_hosts

        hosts = allowed_hosts(args.host, args.allowed_host)
        if first_run.index_is_empty(pipe):
            _check_sessions_database(pipe)  # Engine.load checks it otherwise, before the models
            command = first_command(args, pipe.name)
            print(f"Folio: nothing indexed yet in pipeline {pipe.name}; run `{command}`. Until then "
                  f"http://{args.host}:{args.port}/ shows that command; the app starts once a document is indexed.",
                  flush=True)
            if not _serve(first_run.build_app(pipe, command, auth, hosts), args, pipe,
                          ready=lambda: not first_run.index_is_empty(pipe)):
                return EXIT_OK  # stopped (Ctrl-C, SIGTERM) before anything was indexed
        from answer.engine import Engine
        from ui.app import build_app

        engine = Engine.load(pipe)
        # Uploads are indexed by the pipeline's own run command (ui/uploads.py), this pipeline's.
        ingest = [sys.executable, str(Path(__file__).resolve().parent / "ingest.py"), "--config",
                  str(Path(args.config).resolve()), "run", "--pipeline", pipe.name,
                  *(["--db", args.db] if args.db else [])]
        app = build_app(engine, auth, hosts, ingest)
    except FolioError as e:
        return report(e)
    login = "login required" if auth else "no login (loopback only)"
    print(f"Folio serving pipeline {pipe.name} on http://{args.host}:{args.port}/ ({login}); "
          f"API at /api, OpenAI-compatible at /v1, MCP at /mcp", flush=True)
    _serve(app, args, pipe)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
