#!/usr/bin/env python3
"""The app under a burst of simultaneous questions: N streamed POST /api/ask at once.

    python bench/serve.py                                  # starts serve.py for the default pipeline
    python bench/serve.py --pipeline apptest --config /tmp/x/pipelines.toml -n 16
    python bench/serve.py --url http://127.0.0.1:7860      # a server already running (its pid found
                                                           # by its listening port, or --pid)

Each request asks one of 8 fixed questions about the bundled samples (cycled when N > 8)
with ``"stream": true`` and reads the server-sent events: the time to the ``sources``
event (retrieval done), to the first ``token`` event (TTFT) and to ``done`` (latency),
all measured from the moment the request is sent. A request is ok when it answers HTTP 200
and its ``done`` event holds a non-empty answer. The server's resident memory is polled
every 0.2 s (psutil, the process and its children) from before the burst to its end.

Only 127.0.0.1 is contacted. Every wait is bounded: the server start (--start-timeout), each
request (--timeout, its whole stream), and the shutdown of a server this script started.
Exit code: 0 when every request was ok, 1 otherwise, 2 when the server could not be used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"

# (question, a fact its answer should hold) about samples/docs (samples/make_samples.py).
QUESTIONS: list[tuple[str, str]] = [
    ("How many staff work the late shift?", "15"),  # warehouse-memo.docx, shift table
    ("What was the North region revenue in Q4?", "501.2"),  # northwind-report.pdf, Table 1
    ("What was the total revenue of all regions in Q1?", "897.8"),  # Table 1, total row
    ("What are the hours of the early shift?", "06:00"),  # warehouse-memo.docx, shift table
    ("How many pallets does the Tromso warehouse hold?", "12,000"),  # warehouse-memo.docx
    ("How many days did delivery from Oslo to Tromso take after the change?", "2"),  # deck slide 3 table
    ("What share of sales were online orders in 2025?", "46"),  # report drivers, deck slide 1
    ("How many products did the spring catalogue add?", "140"),  # report drivers
]


@dataclass
class Result:
    question: str
    expect: str
    status: int | None = None
    sources_s: float | None = None
    ttft_s: float | None = None
    last_token_s: float | None = None
    tokens: int = 0
    total_s: float | None = None
    answer: str = ""
    citations: int = 0
    queued: int = 0
    error: str | None = None
    server_timings: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None and bool(self.answer.strip())


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def loopback_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in (LOOPBACK, "localhost") or not parts.port:
        raise SystemExit(f"--url must be http://127.0.0.1:PORT (this benchmark talks to loopback only), not {url}")
    return f"http://{LOOPBACK}:{parts.port}"


def listening_pid(port: int) -> int | None:
    """The pid of the process listening on ``port`` on this machine, when it can be seen."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


def wait_healthy(base: str, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"serve.py exited with code {proc.returncode} before answering")
        try:
            r = httpx.get(base + "/api/health", timeout=5)
            if r.status_code == 200:
                return dict(r.json())
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer /api/health within {timeout_s:.0f} s")
        time.sleep(0.5)


class RSSPoller(threading.Thread):
    """Peak resident memory of a process and its children, sampled every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self.stopped = threading.Event()

    def rss(self) -> int:
        total = self.proc.memory_info().rss
        for child in self.proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # a child that just ended
                total += child.memory_info().rss
        return int(total)

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.peak = max(self.peak, self.rss())
                self.samples += 1
            except psutil.Error:
                return
            self.stopped.wait(self.interval)

    def stop(self) -> int:
        self.stopped.set()
        self.join(5)
        return self.peak


def ask(client: httpx.Client, base: str, question: str, expect: str, start: threading.Barrier,
        timeout_s: float) -> Result:
    """One streamed question; times are from the moment the request is sent."""
    res = Result(question, expect)
    event = ""
    start.wait(60)
    t0 = time.monotonic()
    try:
        with client.stream("POST", base + "/api/ask", json={"question": question, "stream": True}) as r:
            res.status = r.status_code
            if r.status_code != 200:
                res.error = f"HTTP {r.status_code}: {r.read().decode(errors='replace')[:200]}"
                return res
            for line in r.iter_lines():
                now = time.monotonic() - t0
                if now > timeout_s:
                    res.error = f"no done event within {timeout_s:.0f} s"
                    break
                if line.startswith("event:"):
                    event = line[6:].strip()
                    if event == "sources" and res.sources_s is None:
                        res.sources_s = now
                    elif event == "token":
                        res.ttft_s = now if res.ttft_s is None else res.ttft_s
                        res.last_token_s = now
                        res.tokens += 1
                    elif event == "queued":
                        res.queued += 1
                elif line.startswith("data:") and event in ("done", "error"):
                    data = json.loads(line[5:])
                    if event == "error":
                        res.error = f"error event: {data.get('error')}"
                        break
                    res.total_s = now
                    res.answer = data.get("answer") or ""
                    res.citations = len(data.get("citations") or [])
                    res.server_timings = data.get("timings") or {}
                    break
            else:
                res.error = "the stream ended without a done event"
    except httpx.HTTPError as e:
        res.error = f"{type(e).__name__}: {e}"
    return res


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def report(results: list[Result], wall_s: float, health: dict[str, Any], rss_idle: int | None,
           rss_peak: int | None, rss_samples: int, load: tuple[float, float]) -> None:
    ok = [r for r in results if r.ok]
    print()
    for i, r in enumerate(results, 1):
        state = "ok" if r.ok else f"FAILED ({r.error or 'empty answer'})"
        fact = "yes" if r.expect and r.expect in r.answer else "no"
        st = r.server_timings
        server = (f"  (server: TTFT {st['ttft_ms'] / 1000:.2f} s, total {st['total_ms'] / 1000:.2f} s)"
                  if "ttft_ms" in st and "total_ms" in st else "")
        print(f"{i:2d}. {state:<6} total {fmt_s(r.total_s):>9}  sources {fmt_s(r.sources_s):>9}  "
              f"TTFT {fmt_s(r.ttft_s):>9}  cites {r.citations}  fact {fact:<3}  {r.question}{server}")
        if r.ttft_s is not None and r.last_token_s is not None and r.total_s is not None:
            print(f"    {r.tokens} token events over {r.last_token_s - r.ttft_s:.2f} s, then "
                  f"{r.total_s - r.last_token_s:.2f} s from the last token to done (checks, session, pictures)")
        print(f"    -> {' '.join(r.answer.split())[:160]!r}")
    models = health.get("models") or {}
    print()
    print(f"pipeline {health.get('pipeline')} · llm {models.get('llm')} · {health.get('documents')} document(s), "
          f"{health.get('chunks')} chunk(s) · {len(results)} simultaneous streamed POST /api/ask · "
          f"wall {wall_s:.1f} s")
    print(f"machine: {os.cpu_count()} CPU(s), load average {load[0]:.2f} before the burst, {load[1]:.2f} after "
          "(other work on the machine slows the model down)")
    rows: list[tuple[str, str]] = [
        ("requests ok / failed", f"{len(ok)} / {len(results) - len(ok)}"),
        ("answers holding the expected fact", f"{sum(1 for r in ok if r.expect in r.answer)} / {len(results)}"),
    ]
    for name, vals in (("latency (to done)", [r.total_s for r in ok]),
                       ("time to sources", [r.sources_s for r in ok]),
                       ("TTFT (first token)", [r.ttft_s for r in ok]),
                       ("last token -> done", [r.total_s - r.last_token_s for r in ok
                                               if r.total_s is not None and r.last_token_s is not None])):
        xs = [x for x in vals if x is not None]
        rows.append((name, f"p50 {fmt_s(percentile(xs, 50))}   p95 {fmt_s(percentile(xs, 95))}   "
                           f"max {fmt_s(max(xs) if xs else None)}"))
    if rss_peak:
        idle = f" (before the burst {rss_idle / 2**20:.0f} MiB)" if rss_idle else ""
        rows.append(("server peak RSS", f"{rss_peak / 2**20:.0f} MiB{idle}, {rss_samples} samples"))
    else:
        rows.append(("server peak RSS", "unknown (no server pid: pass --pid)"))
    width = max(len(k) for k, _ in rows)
    print("-" * (width + 60))
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print("-" * (width + 60))


def run_burst(base: str, pid: int | None, n: int, timeout_s: float, health: dict[str, Any]) -> int:
    poller = RSSPoller(pid) if pid else None
    rss_idle = poller.rss() if poller else None
    if poller:
        poller.start()
    load_before = os.getloadavg()[0]
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(n)]
    start = threading.Barrier(n)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    timeout = httpx.Timeout(timeout_s, connect=10.0)
    print(f"asking {n} questions at once at {base} (each bounded to {timeout_s:.0f} s)...", flush=True)
    t0 = time.monotonic()
    with httpx.Client(limits=limits, timeout=timeout) as client, ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(ask, client, base, q, expect, start, timeout_s) for q, expect in questions]
        results = [f.result() for f in futures]
    wall = time.monotonic() - t0
    peak = poller.stop() if poller else None
    report(results, wall, health, rss_idle, peak, poller.samples if poller else 0, (load_before, os.getloadavg()[0]))
    return 0 if all(r.ok for r in results) else 1


def start_server(args: argparse.Namespace, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = args.port or free_port()
    cmd = [sys.executable, str(REPO / "serve.py"), "--config", str(args.config), "--pipeline", args.pipeline,
           "--host", LOOPBACK, "--port", str(port)]
    print(f"starting: {' '.join(cmd)} (log: {log_path})", flush=True)
    log = log_path.open("wb")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    log.close()  # the child keeps its own handle
    return proc, f"http://{LOOPBACK}:{port}"


def failed(e: Exception, log_path: Path) -> int:
    """The error and the end of the server's log, for a bench that could not run: exit 2."""
    print(f"error: {e}", file=sys.stderr)
    if log_path.exists():
        print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
    return 2


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        print("serve.py did not stop within 30 s of SIGTERM: killed", flush=True)
        proc.kill()
        proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--config", type=Path, default=REPO / "pipelines.toml", help="pipelines file (default: %(default)s)")
    p.add_argument("--pipeline", default="default", help="pipeline to serve (default: %(default)s)")
    p.add_argument("--url", help="use the server at this http://127.0.0.1:PORT instead of starting one")
    p.add_argument("--pid", type=int, help="with --url: the server's pid, for its memory (default: found by port)")
    p.add_argument("--port", type=int, default=0, help="port for the server started here (default: a free one)")
    p.add_argument("-n", "--concurrency", type=int, default=8, help="simultaneous questions (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=900, help="seconds one request may take, its whole stream "
                   "(default: %(default)s; they queue for one model, so the last waits for the others)")
    p.add_argument("--start-timeout", type=float, default=300, help="seconds to wait for the server to answer")
    args = p.parse_args(argv)
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")

    proc: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="folio-bench-serve-") as tmp:
        log_path = Path(tmp) / "serve.log"
        try:
            if args.url:
                base = loopback_url(args.url)
                pid = args.pid or listening_pid(urlsplit(base).port or 0)
            else:
                proc, base = start_server(args, log_path)
                pid = proc.pid
            t = time.monotonic()
            health = wait_healthy(base, proc, args.start_timeout)
            if proc is not None:
                print(f"server up in {time.monotonic() - t:.1f} s (pid {pid})", flush=True)
            return run_burst(base, pid, args.concurrency, args.timeout, health)
        except RuntimeError as e:
            return failed(e, log_path)
        finally:
            if proc is not None:
                stop_server(proc)


if __name__ == "__main__":
    sys.exit(main())
