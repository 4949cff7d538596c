"""The gate every request passes first (a pure ASGI middleware: server-sent events stream
through untouched, where BaseHTTPMiddleware would buffer them).

In order:
1. A path with a dot segment the client did not normalise away: 404 (no route sees it).
2. The Host header must name this server (the bind address, loopback names on a loopback
   bind, or a name given with ``--allowed-host``): a DNS-rebinding page in the reader's
   browser reaches the port under its own host name, and is refused here.
3. Login, when required (ui/auth.py).
4. Changes only from this site: a POST/PUT/PATCH/DELETE from a browser must come from this
   origin (``Origin``, else ``Sec-Fetch-Site``), and the JSON routes take a body only
   as ``Content-Type: application/json``. A page elsewhere can make the reader's browser send
   a form or a ``text/plain`` "simple request" with the reader's Basic credentials; both
   are refused before any route runs. Clients that are not browsers send neither header
   and must log in (or sit on loopback).
5. The body size limit, for bodies with and without Content-Length (413); the upload
   route (ui/uploads_api.py) has its own, larger one, and takes only
   ``application/octet-stream`` (which no other site's form can send).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ui.uploads import UPLOAD_PATH

if TYPE_CHECKING:
    from ui.auth import Authenticator

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
JSON_ROUTES = ("/api/", "/v1/")
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


class BodyTooLarge(Exception):
    """A chunked body went past the limit (answered 413 by the guard)."""


def allowed_hosts(bind: str, extra: list[str] | tuple[str, ...] = ()) -> set[str] | None:
    """Host names (lower case, no port) the server answers to; None: any (a wildcard bind
    with no names given, where login is required anyway)."""
    names = {h.lower().strip("[]") for h in extra}
    host = bind.lower().strip("[]")
    if host in ("0.0.0.0", "::", ""):
        return names or None
    names.add(host)
    if _is_loopback(host):
        names |= LOOPBACK_NAMES | {"127.0.0.1", "::1"}
    return names


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """"Example.org:7860" -> "example.org"; "[::1]:7860" -> "::1"."""
    return (urlsplit("//" + value).hostname or "").lower()


class Guard:
    def __init__(self, app: ASGI, auth: Authenticator | None, max_body: int,
                 hosts: set[str] | None = None, upload_max: int = 0) -> None:
        self.app, self.auth, self.max_body, self.hosts = app, auth, max_body, hosts
        self.upload_max = upload_max  # 0: uploads off, the upload route gets max_body too

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = await self.check(scope, headers)
        if refusal is not None:
            if scope["type"] == "websocket":  # closed before it is accepted: the handshake fails (403)
                await send({"type": "websocket.close", "code": 1008})
                return
            status, message, extra = refusal
            await reply(send, status, {"error": message}, extra)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length")
        limit = max(self.upload_max, self.max_body) if scope.get("path") == UPLOAD_PATH else self.max_body
        if length is not None and length.isdigit() and int(length) > limit:
            await reply(send, 413, {"error": f"request body over {limit} bytes"})
            return
        if scope.get("path", "").endswith("/queue/join"):
            send = _busy_is_429(send)
        if length is not None:
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _limited(receive, limit), sending)
        except BodyTooLarge:
            if not started:
                await reply(send, 413, {"error": f"request body over {limit} bytes"})

    async def check(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        path = scope.get("path", "")
        if any(seg in ("..", ".") for seg in path.split("/")):
            return 404, "not found", []
        if self.hosts is not None and host_name(headers.get("host", "")) not in self.hosts:
            return 421, "this server does not answer to that host name (see serve.py --allowed-host)", []
        if self.auth is not None:
            from ui.auth import LoginThrottled

            try:
                user = await self.auth.check(headers.get("authorization"), (scope.get("client") or ("?",))[0])
            except LoginThrottled as e:
                return 429, str(e), [(b"retry-after", str(e.retry_after).encode())]
            if user is None:
                return 401, "login required", [(b"www-authenticate", b'Basic realm="Folio", charset="UTF-8"')]
            scope.setdefault("state", {})["user"] = user.name
            scope["state"]["role"] = user.role
        if scope["type"] == "http" and scope.get("method", "GET") in UNSAFE:
            return self.same_origin(path, headers)
        if scope["type"] == "websocket":
            return self.same_origin(path, headers, json_body=False)
        return None

    def same_origin(self, path: str, headers: dict[str, str],
                    json_body: bool = True) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
        origin = headers.get("origin")
        site = headers.get("sec-fetch-site")
        if origin is not None and origin != "null":
            if host_name(urlsplit(origin).netloc) != host_name(headers.get("host", "")) or \
                    urlsplit(origin).port != urlsplit("//" + headers.get("host", "")).port:
                return 403, "cross-site request refused: changes only from this site's own pages", []
        elif origin == "null" or (site is not None and site not in ("same-origin", "none")):
            return 403, "cross-site request refused: changes only from this site's own pages", []
        if json_body and path == UPLOAD_PATH:
            if headers.get("content-type", "").split(";")[0].strip().lower() != "application/octet-stream":
                return 415, "Content-Type must be application/octet-stream (the file's bytes)", []
        elif json_body and path.startswith(JSON_ROUTES):
            # A body must be declared JSON (forms and text/plain are what other sites can
            # send without asking); a bodiless POST (/hide, /approve) needs no type.
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            if (ctype or has_body) and ctype != "application/json":
                return 415, "Content-Type must be application/json", []
        return None


def _busy_is_429(send: Any) -> Any:
    """Gradio answers a full queue with 503; clients back off on 429 with Retry-After, as
    the JSON API and the OpenAI endpoint answer a full line."""

    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] == 503:
            message = {**message, "status": 429, "headers": [*message.get("headers", []), (b"retry-after", b"5")]}
        await send(message)

    return wrapped


def _limited(receive: Any, limit: int) -> Any:
    """A chunked body without Content-Length is cut off once past the limit (413)."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        msg = await receive()
        if msg["type"] == "http.request":
            seen += len(msg.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return msg

    return wrapped


async def reply(send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": data})
