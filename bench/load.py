#!/usr/bin/env python3
"""The server under load: N simultaneous streamed questions, some clients leaving mid-answer,
while /api/health is polled (issue 19: the server used to hang for good at about 40).

    python bench/load.py                                   # the default pipeline, 128 questions
    python bench/load.py --config /tmp/x/pipelines.toml --pipeline apptest -n 128
    python bench/load.py --url http://127.0.0.1:7860       # a server already running

Every question is a streamed POST /api/ask (one in eight goes to /v1/chat/completions).
With --disconnect 0.5 half the clients close their connection after the first token (or
after the sources when the line made them wait). A request ends as one of:
``answered`` (200 and a ``done`` event / the last OpenAI chunk), ``refused`` (429 or 503
with Retry-After), ``left`` (the client went away on purpose), ``failed`` (anything else,
including its timeout). While the burst runs, /api/health is called every 50 ms and its
latency recorded; after it, one more question must be answered normally and the line
must be empty again (clients that left took their places with them).

Only 127.0.0.1 is contacted; every wait is bounded. Exit code 0 when no request failed, the
health p99 is under --health-p99-ms and the server answers afterwards; 1 otherwise; 2 when
the server could not be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve import QUESTIONS, failed, loopback_url, percentile, start_server, stop_server, wait_healthy


@dataclass
class Outcome:
    kind: str  # answered | refused | left | failed
    status: int = 0
    seconds: float = 0.0
    detail: str = ""
    retry_after: str | None = None


@dataclass
class Burst:
    outcomes: list[Outcome]
    health_ms: list[float]
    health_failures: int
    wall_s: float
    after: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> Counter[str]:
        return Counter(o.kind for o in self.outcomes)

    def health_p99(self) -> float | None:
        return percentile(self.health_ms, 99)


async def one_question(client: httpx.AsyncClient, base: str, i: int, leave: bool, timeout: float,
                       headers: dict[str, str] | None = None) -> Outcome:
    question = QUESTIONS[i % len(QUESTIONS)][0]
    openai = i % 8 == 7
    url, body = ((base + "/v1/chat/completions", {"model": "folio", "stream": True,
                                                  "messages": [{"role": "user", "content": question}]})
                 if openai else (base + "/api/ask", {"question": question, "stream": True, "k": 3}))
    t0 = time.monotonic()

    async def run() -> Outcome:
        async with client.stream("POST", url, json=body, headers=headers) as r:
            if r.status_code in (429, 503):
                await r.aread()
                return Outcome("refused", r.status_code, detail=r.text[:120], retry_after=r.headers.get("retry-after"))
            if r.status_code != 200:
                await r.aread()
                return Outcome("failed", r.status_code, detail=r.text[:200])
            event = None
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "error":
                        continue
                    if leave and event in ("token", "queued"):
                        return Outcome("left", 200)  # closing the stream closes the connection
                elif line.startswith("data: "):
                    data = line[6:]
                    if event == "error" or '"error"' in data[:12]:
                        # No turn within the server's queue timeout: refused in-band (the
                        # stream had begun), a bounded answer all the same.
                        busy = '"status": 503' in data or '"code": 503' in data
                        return Outcome("refused" if busy else "failed", 503 if busy else 200, detail=data[:200])
                    if leave and openai and '"content": "' in data and '"content": ""' not in data:
                        return Outcome("left", 200)
                    if event == "done" or (openai and '"finish_reason": "stop"' in data):
                        return Outcome("answered", 200)
            return Outcome("failed", 200, detail="stream ended without an answer")

    try:
        out = await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        out = Outcome("failed", detail=f"no end within {timeout:.0f} s")
    except httpx.HTTPError as e:
        out = Outcome("failed", detail=f"{type(e).__name__}: {e}")
    out.seconds = time.monotonic() - t0
    return out


async def poll_health(client: httpx.AsyncClient, base: str, stop: asyncio.Event, ms: list[float],
                      headers: dict[str, str] | None = None) -> int:
    failures = 0
    while not stop.is_set():
        t = time.monotonic()
        try:
            r = await client.get(base + "/api/health", headers=headers, timeout=5)
            if r.status_code != 200:
                failures += 1
        except httpx.HTTPError:
            failures += 1
        ms.append((time.monotonic() - t) * 1000)
        await asyncio.sleep(0.05)
    return failures


async def burst(base: str, n: int, leave_share: float = 0.5, timeout: float = 600.0,
                headers: dict[str, str] | None = None) -> Burst:
    """``n`` questions at once; every ``1/leave_share``-th client leaves mid-answer."""
    limits = httpx.Limits(max_connections=n + 8, max_keepalive_connections=0)
    step = round(1 / leave_share) if leave_share > 0 else 0
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(timeout, connect=30)) as client, \
            httpx.AsyncClient(timeout=5) as probe:
        stop = asyncio.Event()
        health_ms: list[float] = []
        poller = asyncio.ensure_future(poll_health(probe, base, stop, health_ms, headers))
        t0 = time.monotonic()
        outcomes = await asyncio.gather(*(one_question(client, base, i, bool(step) and i % step == 1, timeout,
                                                       headers) for i in range(n)))
        wall = time.monotonic() - t0
        stop.set()
        failures = await poller
        result = Burst(list(outcomes), health_ms, failures, wall)
        # Afterwards: the line empties (clients that left took their places with them) ...
        try:
            deadline = time.monotonic() + 60
            while True:
                h = (await probe.get(base + "/api/health", headers=headers)).json()
                if h.get("queue") == 0 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            result.after["queue"] = h.get("queue")
            # ... and a new question is answered normally.
            t = time.monotonic()
            r = await client.post(base + "/api/ask", json={"question": QUESTIONS[0][0], "k": 3}, headers=headers,
                                  timeout=timeout)
            result.after["status"] = r.status_code
            result.after["answer"] = r.json().get("answer") if r.status_code == 200 else r.text[:200]
            result.after["seconds"] = round(time.monotonic() - t, 1)
        except httpx.HTTPError as e:  # the server no longer answers: what this bench is here to catch
            result.after["error"] = f"{type(e).__name__}: {e}"
    return result


def report(b: Burst, n: int) -> dict[str, Any]:
    c = b.counts()
    answered = [o.seconds for o in b.outcomes if o.kind == "answered"]
    refused = [o.seconds for o in b.outcomes if o.kind == "refused"]
    out = {
        "questions": n, "wall_s": round(b.wall_s, 1), **{k: c.get(k, 0) for k in ("answered", "refused", "left",
                                                                                  "failed")},
        "refused_max_s": round(max(refused), 2) if refused else None,
        "answered_p50_s": round(percentile(answered, 50) or 0, 1), "answered_max_s": round(max(answered or [0]), 1),
        "retry_after": sorted({o.retry_after for o in b.outcomes if o.retry_after}),
        "health_calls": len(b.health_ms), "health_failures": b.health_failures,
        "health_p50_ms": round(percentile(b.health_ms, 50) or 0, 1),
        "health_p99_ms": round(b.health_p99() or 0, 1), "health_max_ms": round(max(b.health_ms or [0]), 1),
        "after": b.after,
        "failures": [o.detail for o in b.outcomes if o.kind == "failed"][:5],
    }
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.serve import REPO

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--config", type=Path, default=REPO / "pipelines.toml")
    p.add_argument("--pipeline", default="default")
    p.add_argument("--url", help="use the server at this http://127.0.0.1:PORT instead of starting one")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("-n", "--concurrency", type=int, default=128)
    p.add_argument("--disconnect", type=float, default=0.5, help="share of clients that leave mid-answer")
    p.add_argument("--timeout", type=float, default=600, help="seconds one request may take, its whole stream")
    p.add_argument("--start-timeout", type=float, default=300)
    p.add_argument("--health-p99-ms", type=float, default=200.0)
    args = p.parse_args(argv)
    proc = None
    with tempfile.TemporaryDirectory(prefix="folio-bench-load-") as tmp:
        log_path = Path(tmp) / "serve.log"
        try:
            if args.url:
                base = loopback_url(args.url)
            else:
                proc, base = start_server(args, log_path)
            health = wait_healthy(base, proc, args.start_timeout)
            print(f"server: {health.get('models')}; {args.concurrency} streamed questions at once, "
                  f"{args.disconnect:.0%} leaving mid-answer", flush=True)
            b = asyncio.run(burst(base, args.concurrency, args.disconnect, args.timeout))
        except RuntimeError as e:
            return failed(e, log_path)
        finally:
            if proc is not None:
                stop_server(proc)
    out = report(b, args.concurrency)
    print(json.dumps(out, indent=1))
    ok = (out["failed"] == 0 and out["health_failures"] == 0 and out["health_p99_ms"] < args.health_p99_ms
          and b.after.get("status") == 200 and b.after.get("queue") == 0)
    print("PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
