"""The real server (serve.py subprocess, SmolLM2, real HTTP) under a crowd: issue 19, item 1.

Before the fix about 40 simultaneous streamed questions hung the server for good: the
request holding the model needed a pool thread for each next token, and the waiting ones
held all of them. Now the line is bounded (a full line is a 429 with Retry-After, at once),
waiting holds no thread, clients that leave take their place with them, /api/health keeps
answering, and the server answers normally afterwards.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bench.load import burst, report
from tests.app_fixtures import copy_app, server

N = 48  # above the 40 threads of the pool that used to run out
# One answer takes 20-100 s here (SmolLM2, several model calls per question, 2 shared
# cores): the bound on every request is generous, the point is that each one ends.
TIMEOUT = 600


@pytest.fixture
def line_of_4(app_config: Path, tmp_path: Path) -> Path:
    return copy_app(app_config, tmp_path / "app", "queue_size = 4")


def test_a_crowd_of_streamed_questions_never_hangs_the_server(line_of_4: Path) -> None:
    with server(line_of_4) as base:
        b = asyncio.run(burst(base, N, leave_share=0.5, timeout=TIMEOUT))
        out = report(b, N)
        print(out)
        assert out["failed"] == 0, out  # every request ended within its timeout: answered, refused or left
        assert out["answered"] >= 1 and out["left"] >= 1
        assert out["refused"] >= N - 4 - out["left"], out  # the line holds 4 (some left and freed theirs)
        assert out["refused_max_s"] is not None and out["refused_max_s"] < 10, out  # refused at once
        assert all(o.retry_after and int(o.retry_after) >= 1 for o in b.outcomes if o.kind == "refused")
        assert out["health_failures"] == 0 and out["health_max_ms"] < 2000, out
        assert b.after["queue"] == 0 and b.after["status"] == 200 and b.after["answer"], b.after


def test_a_client_that_leaves_the_line_frees_its_place(line_of_4: Path) -> None:
    """Four streamed questions fill the line; their clients go away (most while waiting);
    the next ones are admitted (no 429), because leaving took their places with them."""

    async def scenario(base: str) -> tuple[list[int], list[int], int]:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            first: list[int] = []
            streams = []
            for i in range(4):
                cm = client.stream("POST", base + "/api/ask", json={"question": f"What is on slide {i}?",
                                                                   "stream": True})
                r = await cm.__aenter__()
                first.append(r.status_code)
                streams.append(cm)
            over = (await client.post(base + "/api/ask", json={"question": "one too many?", "stream": True}))
            for cm in streams:  # every client leaves, most of them while still waiting
                await cm.__aexit__(None, None, None)
            queue = -1
            for _ in range(100):
                queue = (await client.get(base + "/api/health")).json()["queue"]
                if queue == 0:
                    break
                await asyncio.sleep(0.2)
            again = await asyncio.gather(*(client.post(base + "/api/ask", json={"question": q, "k": 2})
                                           for q in ("What is the early shift?", "How many staff work weekends?")))
            return [*first, over.status_code], [r.status_code for r in again], queue

    with server(line_of_4) as base:
        statuses, again, queue = asyncio.run(scenario(base))
    assert statuses[:4] == [200] * 4 and statuses[4] == 429, statuses
    assert queue == 0  # all four left the line within seconds
    assert again == [200, 200]
