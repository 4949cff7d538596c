"""What every HTTP front end of the engine shares: the 429 of a full line, and answers that
stop when their client goes away.

A client that disconnects must leave the model's line at once, not when its first token
is finally written to a dead socket (by then the model has started on it for nobody).
Starlette cancels a streaming response on disconnect only for older ASGI servers, so the
disconnect is watched here, explicitly, for streamed and plain answers alike.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from starlette.requests import Request

from answer.worker import Busy

T = TypeVar("T")


def busy_response(e: Busy, body: dict[str, Any] | None = None) -> JSONResponse:
    """429 (line full, too many of this user's questions) or 503 (no turn in time), with
    ``Retry-After`` so well-behaved clients back off instead of hammering."""
    return JSONResponse(body or {"error": str(e)}, status_code=e.status,
                        headers={"Retry-After": str(e.retry_after)})


async def _disconnected(request: Request) -> None:
    # The body has been read, so the next message the server has for us is the disconnect.
    while True:
        msg = await request.receive()
        if msg["type"] == "http.disconnect":
            return


async def until_disconnect(request: Request, work: Awaitable[T]) -> T | None:
    """``work``'s result, or None (``work`` cancelled) if the client went away first."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()


async def watched(request: Request, items: AsyncIterator[T]) -> AsyncIterator[T]:
    """``items`` until the client goes away; then ``items`` is closed, which cancels its
    place in the line or its generation."""
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        while True:
            step = asyncio.ensure_future(anext(items))
            await asyncio.wait({step, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():  # the client went away while we waited for the next item
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        watch.cancel()
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()
