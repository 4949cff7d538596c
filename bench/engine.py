#!/usr/bin/env python3
"""Local engine vs Ray engine, plain run, in one go; then Ray with the index on S3 (moto).

    nice python bench/engine.py [--source ../shared/corpus] [--limit N]

Each run starts from an empty index. Prints wall times, Ray's overhead against the local
run, whether documents and chunk ids are identical, and the driver's commit cost
(commits per second, documents and rows per commit: the local engine's
Store.replace_document timed, the Ray driver's batch commits as it records them), for the
scaling estimate in the README (bench/commit.py measures the commit alone, in isolation).
--limit takes the N smallest files (a quicker sample).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _scratch import REPO, bench_dir

from folio.config import Pipeline, RunSettings, Source
from folio.offline import enforce_offline
from index.store import Store, open_index
from pipeline.runner import Runner, RunOptions

COMMITS: list[tuple[float, int, int]] = []  # (seconds, documents, rows) per commit


def timed_commits() -> None:
    original = Store.replace_document

    def replace(self: Store, doc: Any, elements: list[Any], chunks: list[Any], vectors: Any, **kw: Any) -> None:
        t = time.perf_counter()
        original(self, doc, elements, chunks, vectors, **kw)
        COMMITS.append((time.perf_counter() - t, 1, len(elements) + len(chunks) + 1))

    Store.replace_document = replace  # type: ignore[method-assign]


def one(pipe: Pipeline, label: str) -> dict[str, Any]:
    if pipe.remote is None:
        shutil.rmtree(pipe.index, ignore_errors=True)
    COMMITS.clear()
    t0 = time.time()
    runner = Runner(pipe, RunOptions(progress=False))
    report = runner.run()
    wall = time.time() - t0
    COMMITS.extend(runner.ctx.commits)  # the Ray driver's batches
    store = open_index(pipe)
    docs = {s: (d.sha256, d.status, d.chunks) for s, d in store.documents().items()}
    tbl = store.chunks_table
    ids = sorted(tbl.to_arrow()["id"].to_pylist()) if tbl is not None else []
    pages = sum(d.pages for d in report.documents)
    secs = sum(d.seconds for d in report.documents)
    commit_s = sum(c[0] for c in COMMITS)
    committed = sum(c[1] for c in COMMITS)
    rows = sum(c[2] for c in COMMITS)
    out = {"label": label, "wall_s": round(wall, 1), "ok": report.counts["ok"], "failed": report.counts["failed"],
           "pages": pages, "doc_seconds": round(secs, 1), "commits": len(COMMITS),
           "commit_s": round(commit_s, 2), "committed": committed, "rows": rows,
           "stages": {k: round(v, 1) for k, v in runner.ctx.stage_seconds.items()}, "docs": docs, "ids": ids}
    print(json.dumps({k: v for k, v in out.items() if k not in ("docs", "ids")}), flush=True)
    return out


def moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([shutil.which("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            break
        except OSError:
            time.sleep(0.2)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
                       "AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true"})
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="folio-bench")
    return proc, "s3://folio-bench/engine"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    enforce_offline()
    logging.basicConfig(level=logging.WARNING)
    timed_commits()
    files = sorted((p for p in args.source.resolve().iterdir() if p.is_file() and p.suffix != ".md"),
                   key=lambda p: p.stat().st_size)
    include = [p.name for p in files[: args.limit]] if args.limit else ["**/*"]
    src = Source(path=args.source.resolve(), include=include, exclude=["**/*.md", "**/.*"])
    base = Pipeline(name="engine", sources=[src], index=bench_dir() / "engine-local")
    local = one(base, "local")
    on_ray = one(base.model_copy(update={"index": bench_dir() / "engine-ray", "run": RunSettings(engine="ray")}), "ray")
    same = local["docs"] == on_ray["docs"] and local["ids"] == on_ray["ids"]
    over = (on_ray["wall_s"] - local["wall_s"]) / local["wall_s"] * 100
    print(f"local engine {local['wall_s']} s, ray engine {on_ray['wall_s']} s: overhead {over:+.0f}%; "
          f"identical documents and chunk ids: {same}")
    proc, uri = moto()
    try:
        s3 = one(Pipeline.model_validate({**base.model_dump(), "index": uri, "remote": None,
                                          "run": {"engine": "ray"}}), "ray+s3")
    finally:
        proc.terminate()
    same_s3 = local["docs"] == s3["docs"] and local["ids"] == s3["ids"]
    print(f"ray engine, index on the local S3 server: {s3['wall_s']} s "
          f"({(s3['wall_s'] - local['wall_s']) / local['wall_s'] * 100:+.0f}% vs local); identical: {same_s3}")
    for r in (local, on_ray, s3):
        if r["commits"]:
            print(f"{r['label']}: {r['commits']} commits of {r['committed']} documents in {r['commit_s']} s = "
                  f"{r['committed'] / r['commit_s']:.1f} documents/s, {r['rows'] / r['commits']:.0f} rows per commit; "
                  f"{r['pages']} pages in {r['doc_seconds']} s of document time "
                  f"= {r['pages'] / max(r['doc_seconds'], 1e-9):.2f} pages/s")


if __name__ == "__main__":
    main()
