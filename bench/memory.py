#!/usr/bin/env python3
"""Peak memory of partitioning one large document, measured from outside.

Each document is partitioned in a fresh child process (as the pipeline does); this
script samples the RSS of the child and all of its descendants (page workers) every
50 ms and reports the peak of the sum, plus the largest single process (ru_maxrss).
Summing RSS counts pages shared after fork once per process, so it overstates: an upper
bound. Target: <= 1500 MB.

    nice python bench/memory.py
    nice python bench/memory.py --files PEPSICO_2022_10K.pdf --workers 1
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_FILES = ["PEPSICO_2022_10K.pdf", "handbook-872p.docx"]
TARGET_MB = 1500

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from folio.offline import enforce_offline
enforce_offline()
from pathlib import Path
from folio.config import PartitionSettings
from partition import partition_file
from partition import pdf
pdf.set_workers({workers})
t = time.perf_counter()
els = partition_file(Path({path!r}), PartitionSettings(), Path({assets!r}))
print(len(els), round(time.perf_counter() - t, 1))
"""


def tree_rss(proc: object) -> int:
    import psutil

    assert isinstance(proc, psutil.Process)
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that just exited
            total += p.memory_info().rss
    return total


def measure(path: Path, workers: int) -> tuple[float, float, str]:
    import psutil

    assets = tempfile.mkdtemp(prefix="folio-mem-")
    code = CHILD.format(root=str(ROOT), workers=workers, path=str(path), assets=assets)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            peak = max(peak, tree_rss(proc))
        except psutil.Error:
            break
        time.sleep(0.05)
    out = (child.stdout.read() if child.stdout else "").strip()
    max_single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB on Linux
    if child.returncode != 0:
        out = f"FAILED (exit {child.returncode})"
    return peak / 2**20, max(max_single, before) / 1024, out


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--files", nargs="*", default=DEFAULT_FILES)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(f"{'file':32} {'peak tree RSS MB':>17} {'max single MB':>14} {'elements secs':>14}  target")
    ok = True
    for name in args.files:
        peak, single, out = measure(CORPUS / name, args.workers)
        verdict = "ok" if peak <= TARGET_MB else "OVER"
        ok &= verdict == "ok"
        print(f"{name:32} {peak:17.0f} {single:14.0f} {out:>14}  <= {TARGET_MB} MB {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
