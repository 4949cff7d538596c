#!/usr/bin/env python3
"""First run vs nothing-changed re-run of `ingest.py run`, in one go.

    nice python bench/rerun.py [--source ../shared/corpus] [--keep]

Both runs are real `ingest.py run` processes (process start and imports included) into a
temporary index. A third, identical re-run under `python -X importtime` lists which heavy
modules the nothing-changed path imported (it should need none of them).
Targets: re-run <= 3 s and >= 100x faster than the first run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _scratch import REPO, bench_dir  # bench/ is on sys.path when run as a script

HEAVY = ("onnxruntime", "tokenizers", "pymupdf", "fitz", "unstructured", "docx", "pptx", "rapidocr", "torch")


def run(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    return time.perf_counter() - t0, proc


def heavy_imports(importtime_stderr: str) -> list[str]:
    found = set()
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        name = line.rsplit("|", 1)[-1].strip()
        top = name.split(".")[0]
        if top in HEAVY:
            found.add(top)
    return sorted(found)


def import_seconds(importtime_stderr: str, module: str) -> float | None:
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == module:
            return int(line.split("|")[1]) / 1e6
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    ap.add_argument("--source", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--keep", action="store_true", help="keep the temporary index")
    ap.add_argument("--index", type=Path, help="index folder to build (must not exist; kept); default: temp")
    args = ap.parse_args()

    if args.index is not None:
        if args.index.exists():
            ap.error(f"--index {args.index} exists: the first run must start from nothing")
        index, args.keep = args.index.resolve(), True
    else:
        index = Path(tempfile.mkdtemp(prefix="rerun-", dir=bench_dir()))
    base = [sys.executable, str(REPO / "ingest.py"), "--config", str(REPO / "pipelines.toml"), "run",
            "--pipeline", "corpus", "--source", str(args.source.resolve()), "--db", str(index)]
    try:
        first_s, first = run(base)
        print(f"first run:  {first_s:8.2f} s  exit {first.returncode}  {first.stdout.splitlines()[0]}")
        again_s, again = run(base)
        print(f"re-run:     {again_s:8.2f} s  exit {again.returncode}  {again.stdout.splitlines()[0]}")
        print(f"ratio:      {first_s / again_s:8.1f}x  (targets: re-run <= 3 s, >= 100x)")
        last = json.loads((index / "reports" / "last.json").read_text())
        print(f"re-run inside the process: {last['seconds']:.2f} s; counts {last['counts']}")

        _, probe = run([sys.executable, "-X", "importtime", *base[1:]])
        heavy = heavy_imports(probe.stderr)
        print("heavy modules imported by the re-run:", ", ".join(heavy) or "none")
        for mod in ("lancedb", "pyarrow", "pydantic", "numpy"):
            s = import_seconds(probe.stderr, mod)
            if s is not None:
                print(f"  import {mod}: {s:.2f} s")
    finally:
        if args.keep:
            print(f"index kept at {index}")
        else:
            shutil.rmtree(index, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
