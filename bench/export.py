#!/usr/bin/env python3
"""Export of the whole corpus index: size, seconds, peak RSS, and that memory stays flat.

The corpus index (built with ``ingest.py run --pipeline corpus --db DB`` when missing) is
copied to a work folder ``--factors`` times over: copy k > 1 holds every document again
under ``copy<k>/`` with its own write ids, so an index "the corpus twice over" has twice
the documents, elements and chunks. Each export runs as ``ingest.py export`` in a child
process under ``/usr/bin/time -v`` (peak RSS of that process alone). The original index
is only read (copied), never written.

    nice python bench/export.py --db /work/main/.folio/corpus
    nice python bench/export.py --db .folio/corpus --factors 1 2 4 --formats json parquet
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 500
FORMATS = {"json": ("json", []), "jsonl": ("jsonl", []), "parquet": ("parquet", []),
           "json+vectors": ("json", ["--with-vectors"])}


def build_corpus_index(db: Path) -> None:
    print(f"no index at {db}: building it (ingest.py run --pipeline corpus, several minutes)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "ingest.py"), "run", "--pipeline", "corpus", "--db", str(db)],
                   check=False, cwd=ROOT)


def multiply(src: Path, dst: Path, factor: int) -> dict[str, int]:
    """``dst/lancedb``: the tables of ``src`` with every document ``factor`` times; rows per table."""
    import lancedb
    import pyarrow as pa

    shutil.rmtree(dst, ignore_errors=True)
    sdb = lancedb.connect(str(src / "lancedb"))
    ddb = lancedb.connect(str(dst / "lancedb"))
    counts = {}
    for name in sdb.list_tables().tables:
        tbl = sdb.open_table(name)
        out = ddb.create_table(name, schema=tbl.schema)
        for k in range(1, factor + 1 if name != "runs" else 2):
            for batch in tbl.search().limit(None).to_batches(4096):
                t = pa.Table.from_batches([batch])
                if k > 1:
                    t = _renamed(t, k)
                out.add(t)
        counts[name] = out.count_rows()
    return counts


def _renamed(t: object, k: int) -> object:
    """Rows of copy ``k``: another source folder, another write (ids stay content hashes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    assert isinstance(t, pa.Table)
    for col, fmt in (("source", f"copy{k}/{{}}"), ("write_id", f"{{}}-{k}")):
        if col in t.column_names:
            i = t.column_names.index(col)
            prefix, suffix = fmt.split("{}")
            values = pc.binary_join_element_wise(prefix, t[col], suffix, "")
            t = t.set_column(i, t.schema.field(i), values.cast(t.schema.field(i).type))
    return t


def export(db: Path, out: Path, fmt: str, extra: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MB, summary line) of one export in a child process."""
    cmd = ["/usr/bin/time", "-v", sys.executable, str(ROOT / "ingest.py"), "--config", "/nonexistent/none.toml",
           "export", "--db", str(db), "--out", str(out), "--format", fmt, "--images", "none", *extra]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"export failed ({r.returncode}):\n{r.stderr}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return seconds, int(m.group(1)) / 1024 if m else float("nan"), r.stdout.strip()


def size_mb(path: Path) -> float:
    files = list(path.iterdir()) if path.is_dir() else [path]
    return sum(f.stat().st_size for f in files) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--db", type=Path, default=ROOT / ".folio" / "corpus", help="the corpus index (read only)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/folio-export-bench"))
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--formats", nargs="+", choices=sorted(FORMATS), default=["json", "jsonl", "parquet"])
    args = ap.parse_args()
    if not (args.db / "lancedb").is_dir():
        build_corpus_index(args.db)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in args.factors:
        idx = args.work / f"x{f}"
        counts = multiply(args.db, idx, f)
        print(f"x{f}: {counts.get('documents', 0)} documents, {counts.get('elements', 0)} elements, "
              f"{counts.get('chunks', 0)} chunks", flush=True)
        for name in args.formats:
            fmt, extra = FORMATS[name]
            out = args.work / f"out-x{f}-{name.replace('+', '-')}" if fmt == "parquet" else \
                args.work / f"out-x{f}-{name.replace('+', '-')}.{fmt}"
            seconds, rss, line = export(idx, out, fmt, extra)
            print(f"  {line}", flush=True)
            rows.append((f, name, counts.get("documents", 0), counts.get("elements", 0), size_mb(out), seconds, rss))
    print(f"\n{'corpus':>7} {'format':>13} {'docs':>6} {'elements':>9} {'size MB':>8} {'seconds':>8} "
          f"{'peak RSS MB':>12}")
    for f, name, docs, els, mb, s, rss in rows:
        print(f"{'x' + str(f):>7} {name:>13} {docs:>6} {els:>9} {mb:>8.1f} {s:>8.1f} {rss:>12.0f}")
    peak = max(r[6] for r in rows)
    verdict = "ok" if peak < TARGET_MB else "OVER"
    print(f"\npeak RSS over all exports: {peak:.0f} MB (target < {TARGET_MB} MB): {verdict}")
    for name in args.formats:
        by_f = {r[0]: r[6] for r in rows if r[1] == name}
        if len(by_f) > 1:
            lo, hi = min(by_f), max(by_f)
            print(f"{name}: x{hi} / x{lo} peak RSS = {by_f[hi] / by_f[lo]:.2f} "
                  f"(elements x{hi // lo}; flat memory keeps this near 1)")
    return 0 if peak < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
