"""The MCP server (ui/mcp.py) driven by the SDK's own client against the real small index
(tests/app_fixtures.py, SmolLM2 answering): over stdio, ``serve.py mcp`` spawned with a clean
environment as a desktop client would; over streamable HTTP at /mcp of a real ``serve.py`` on a
non-loopback bind, so login is on: no credentials are refused, a reader calls every tool."""

from __future__ import annotations

import json
import sqlite3
import sys
import warnings
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.app_fixtures import PIPELINE, REPO, server
from ui.app import basic
from ui.auth import hash_password

TOOLS = {"search", "ask", "get_element", "list_documents"}
LATE_SHIFT = "How many staff work the late shift according to the shift schedule?"
# What the app tests give a server process, and nothing of this shell's environment.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "HF_HUB_OFFLINE": "1",
             "GRADIO_ANALYTICS_ENABLED": "False"}

Connect = Callable[[], AbstractAsyncContextManager[Any]]


def _leaves(e: BaseException) -> list[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        return [leaf for sub in e.exceptions for leaf in _leaves(sub)]
    return [e]


def _indexed(cfg: Path) -> set[str]:
    return {f.name for f in (cfg.parent / "docs").iterdir()}


async def _call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    res = await session.call_tool(tool, arguments)
    assert not res.is_error, f"{tool}: {res.content}"  # type: ignore[union-attr]
    out = res.structured_content  # type: ignore[union-attr]
    # The text content carries the same JSON, for clients that ignore structured content.
    assert json.loads(res.content[0].text) == out  # type: ignore[union-attr]
    return out  # type: ignore[no-any-return]


async def _exercise(connect: Connect, indexed: set[str]) -> dict[str, Any]:
    """List the tools and call each against the real index; returns what ``ask`` said."""
    async with connect() as (read, write), ClientSession(read, write, read_timeout_seconds=600) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        for t in tools.values():
            assert t.description and t.annotations and t.annotations.read_only_hint

        docs = (await _call(session, "list_documents"))["documents"]
        assert {d["source"] for d in docs} == indexed
        assert all(d["status"] != "error" and d["chunks"] > 0 for d in docs)

        hits = (await _call(session, "search", query="late shift staff schedule", k=4))["hits"]
        assert 1 <= len(hits) <= 4
        for h in hits:
            assert h["source"] in indexed and h["kind"] in ("text", "table", "image")
            assert h["snippet"] and h["element_ids"] and h["citation"].startswith(h["source"])
        el = await _call(session, "get_element", element_id=hits[0]["element_ids"][0])
        assert el["id"] == hits[0]["element_ids"][0] and el["source"] == hits[0]["source"] and el["text"]
        narrowed = (await _call(session, "search", query="staff", k=3, kind="table"))["hits"]
        assert narrowed and all(h["kind"] == "table" for h in narrowed)

        answer = await _call(session, "ask", question=LATE_SHIFT, k=4)
        assert answer["answer"].strip() and answer["session_id"] and "prompt" not in answer
        assert isinstance(answer["citations"], list) and isinstance(answer["unsupported"], list)
        if not answer["citations"]:
            # SmolLM2-135M may cite nothing (as in the app tests); the ids a citation would
            # carry are the retrieved elements', which `search` and `get_element` checked above.
            warnings.warn(f"the small model cited nothing: {answer['answer'][:80]!r}", stacklevel=1)
        for c in answer["citations"]:
            assert c["source"] in indexed and c["element_ids"]
            for element_id in c["element_ids"]:
                cited = await _call(session, "get_element", element_id=element_id)
                assert cited["source"] == c["source"]

        # Refusals come back as tool errors the model can read, not as broken connections.
        missing = await session.call_tool("get_element", {"element_id": "no-such-element"})
        assert missing.is_error and "no element" in missing.content[0].text  # type: ignore[union-attr]
        empty = await session.call_tool("ask", {"question": "   "})
        assert empty.is_error and "empty" in empty.content[0].text  # type: ignore[union-attr]
        bad_kind = await session.call_tool("search", {"query": "staff", "kind": "video"})
        assert bad_kind.is_error and "kind" in bad_kind.content[0].text  # type: ignore[union-attr]
        return answer


def test_stdio_from_a_clean_environment(app_config: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(REPO / "serve.py"), "mcp", "--config", str(app_config), "--pipeline", PIPELINE],
        env=CLEAN_ENV, cwd=str(app_config.parent))
    with (app_config.parent / "mcp-stdio.log").open("w") as errlog:
        anyio.run(_exercise, lambda: stdio_client(params, errlog=errlog), _indexed(app_config))
    # Logs went to stderr, never into the protocol's stdout.
    assert "MCP server for pipeline" in (app_config.parent / "mcp-stdio.log").read_text()


def test_stdio_refuses_an_unknown_pipeline(app_config: Path) -> None:
    import subprocess

    r = subprocess.run([sys.executable, str(REPO / "serve.py"), "mcp", "--config", str(app_config),
                        "--pipeline", "nope"], capture_output=True, text=True, timeout=120, env=CLEAN_ENV,
                       cwd=app_config.parent, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "nope" in r.stderr and r.stdout == ""


def test_http_behind_login(app_config: Path) -> None:
    users = f"ann:reader:{hash_password('s3cret-pass')}"
    good = {"Authorization": basic("ann", "s3cret-pass")}
    with server(app_config, host="0.0.0.0", env={"FOLIO_USERS": users}, headers=good) as base:
        url = base + "/mcp"
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "raw", "version": "0"}}}
        accept = {"Accept": "application/json, text/event-stream"}
        assert httpx.post(url, json=init, headers=accept).status_code == 401
        wrong = {**accept, "Authorization": basic("ann", "wrong-pass")}
        assert httpx.post(url, json=init, headers=wrong).status_code == 401

        statuses: list[int] = []

        async def seen(response: Any) -> None:
            statuses.append(response.status_code)

        def anonymous() -> AbstractAsyncContextManager[Any]:
            client = create_mcp_http_client()
            client.event_hooks["response"].append(seen)
            return streamable_http_client(url, http_client=client)

        # The SDK's client without credentials cannot even initialise: the Guard answers 401.
        with pytest.raises(BaseException) as refused:
            anyio.run(_exercise, anonymous, _indexed(app_config))
        assert any(isinstance(e, MCPError) for e in _leaves(refused.value)), refused.value
        assert statuses == [401]

        def reader() -> AbstractAsyncContextManager[Any]:
            return streamable_http_client(url, http_client=create_mcp_http_client(headers=good))

        answer = anyio.run(_exercise, reader, _indexed(app_config))
        # The conversation is kept, and belongs to the logged-in reader, as with /api/ask.
        s = httpx.get(f"{base}/api/sessions/{answer['session_id']}", headers=good)
        assert s.status_code == 200 and s.json()["turns"][0]["question"] == LATE_SHIFT
    with sqlite3.connect(app_config.parent / "index" / "folio.sqlite") as db:
        owner = db.execute("SELECT owner FROM sessions WHERE id = ?", (answer["session_id"],)).fetchone()
    assert owner == ("ann",)
