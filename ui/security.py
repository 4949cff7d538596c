"""Headers that tell the browser to keep the app's pages to themselves (issue 19, item 3).

- ``Content-Security-Policy``: scripts only from this server, and inline scripts only when
  they carry this response's nonce (Gradio's page holds its config in an inline script;
  the nonce is added to every ``<script`` of an HTML page as it goes out). A script that
  document text or a model smuggled into the page (an ``onerror=`` attribute, a ``<script>``
  in rendered HTML) carries no nonce and does not run. Images, fetches and frames from
  other hosts are refused: ``img-src 'self' data: blob:`` is what stops a Markdown image
  from sending data elsewhere even if one slipped past the escaping.
- ``'unsafe-eval'``: Gradio 6's HTML component compiles its (our) template with
  ``new Function`` and shows nothing without it (headless Chromium: "Error rendering
  HTML"). It lets scripts already running evaluate strings; it does not let an injected
  ``<script>`` or ``onerror=`` run (those still need the nonce), and document text reaches
  the template as a value, never as its code.
- Styles stay ``'unsafe-inline'``: Gradio's components set style attributes and insert
  style elements at run time (checked in headless Chromium: nothing works without it).
  Styles cannot run code or reach another host under this policy (img-src, font-src).
- No ``Access-Control-*`` header ever: Gradio's CORS middleware is overruled (item 5).
- ``X-Content-Type-Options: nosniff`` (an uploaded or rendered file is never run as a
  script), ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` for old browsers
  beside ``frame-ancestors 'none'`` (no clickjacking of the review buttons).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
       "worker-src 'self' blob:; frame-src 'self'; frame-ancestors 'none'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'")
STATIC = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
          (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.IGNORECASE)
MAX_HTML = 8 * 1024 * 1024  # an HTML page larger than this is sent as it is (no nonce: its inline scripts stop)


class SecurityHeaders:
    """Pure ASGI middleware (streams pass through untouched; only HTML pages are buffered,
    to put the nonce in their script tags)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        csp = CSP.format(nonce=nonce).encode()
        start: dict[str, Any] | None = None
        body: list[bytes] = []

        async def wrapped(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                # No CORS headers at all: the app's pages call it from its own origin, which
                # needs none, and Gradio's middleware would otherwise grant any Origin (with
                # credentials) on a non-loopback bind.
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"content-security-policy", b"x-frame-options")
                           and not k.lower().startswith(b"access-control-")]
                headers += [*STATIC, (b"content-security-policy", csp)]
                message = {**message, "headers": headers}
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    start = message  # held until the whole page is here
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                more = bool(message.get("more_body"))
                if more and sum(map(len, body)) < MAX_HTML:
                    return
                if more:  # too large to hold: sent unchanged
                    await send(start)
                    await send({"type": "http.response.body", "body": b"".join(body), "more_body": True})
                    start = None
                    return
                page = b"".join(body)
                page = _SCRIPT_TAG.sub(b'<script nonce="' + nonce.encode() + b'"', page)
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(page)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": page})
                start = None
            else:
                await send(message)

        await self.app(scope, receive, wrapped)
