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
from collections.abc import AsyncGenerator, Awaitable
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


async def watched(request: Request, items: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    """``items`` until the client goes away; then ``items`` is cancelled, which takes its
    question out of the line or stops its generation.

    ``items`` runs whole in one task of its own: a generator advanced step by step from
    different tasks cannot be cancelled cleanly (closing it while a cancelled step still
    unwinds fails with "already running", and its place in the line stayed taken)."""
    out: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def produce() -> None:
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    out.put_nowait(("item", item))
            out.put_nowait(("end", None))
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # handed to the reader, who reports it
            out.put_nowait(("error", e))

    producer = asyncio.ensure_future(produce())
    watch = asyncio.ensure_future(_disconnected(request))
    try:
        while True:
            get = asyncio.ensure_future(out.get())
            await asyncio.wait({get, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not get.done():  # the client went away
                get.cancel()
                return
            kind, value = get.result()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        watch.cancel()
        producer.cancel()  # unwinds in its own task: the slot is released there
