#!/usr/bin/env python3
"""PDF partitioning speed: Folio (PyMuPDF, tables and images on, page workers) vs
unstructured ``partition_pdf(strategy="fast")`` (pdfminer), in one process and one run.

unstructured is slow, so it runs on a page sample of each document (``--sample-pages``
pages spread evenly); Folio runs on the same sample too (the like-for-like ratio) and on
the full documents. Pages/s is the comparable number.

    nice python bench/partition.py                       # the 12 FinanceBench PDFs
    nice python bench/partition.py --files AMAZON_2017_10K.pdf --limit-pages 20
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from folio.offline import enforce_offline  # noqa: E402

enforce_offline()

CORPUS = ROOT.parent / "shared" / "corpus"
# SOURCES.md section 1: the FinanceBench filings.
FINANCEBENCH = [
    "3M_2022_10K.pdf",
    "AMAZON_2017_10K.pdf",
    "AMCOR_2023_10K.pdf",
    "AMCOR_2023Q4_EARNINGS.pdf",
    "AMERICANEXPRESS_2022_10K.pdf",
    "BESTBUY_2024Q2_10Q.pdf",
    "BOEING_2022_10K.pdf",
    "JOHNSON_JOHNSON_2023_8K_dated-2023-08-30.pdf",
    "MGMRESORTS_2022Q4_EARNINGS.pdf",
    "PEPSICO_2022_10K.pdf",
    "Pfizer_2023Q2_10Q.pdf",
    "ULTABEAUTY_2023Q4_EARNINGS.pdf",
]


def subset_pdf(src: Path, pages: list[int], out: Path) -> Path:
    import pymupdf

    with pymupdf.open(src) as doc, pymupdf.open() as sub:
        for p in pages:
            sub.insert_pdf(doc, from_page=p, to_page=p)
        sub.save(out, garbage=3, deflate=True)
    return out


def page_count(path: Path) -> int:
    import pymupdf

    with pymupdf.open(path) as doc:
        return int(doc.page_count)


def sample(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children (page workers): unlike wall
    time, it does not depend on what else runs on the machine."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_folio(paths: list[Path], workers: int, assets: Path) -> tuple[int, int, float, float]:
    from folio.config import PartitionSettings

    # bench/partition.py shares its name with the package; ROOT is first on sys.path.
    from partition import partition_file  # type: ignore[attr-defined]
    from partition import pdf as pdf_partitioner  # type: ignore[attr-defined]

    pdf_partitioner.set_workers(workers)
    settings = PartitionSettings(pdf_engine="pymupdf", tables="fast", images=True, ocr=True)
    pages = elements = 0
    cpu, start = cpu_seconds(), time.perf_counter()
    for p in paths:
        els = partition_file(p, settings, assets)
        elements += len(els)
        pages += page_count(p)
    return pages, elements, time.perf_counter() - start, cpu_seconds() - cpu


def prepare_unstructured() -> None:
    try:
        from partition.unstructured_compat import prepare_unstructured as prep
    except ImportError:
        prep = _patch_unstructured
    prep()


def _patch_unstructured() -> None:
    """Fallback when partition/unstructured_compat.py is absent: no spaCy download."""
    import spacy
    from unstructured.nlp import tokenize

    def local() -> Any:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        return nlp

    os.environ["DO_NOT_TRACK"] = "1"
    tokenize._load_spacy_model = local  # type: ignore[assignment]
    tokenize._get_nlp.cache_clear()


def run_unstructured(paths: list[Path]) -> tuple[int, int, float, float]:
    prepare_unstructured()
    from unstructured.partition.pdf import partition_pdf

    pages = elements = 0
    cpu, start = cpu_seconds(), time.perf_counter()
    for p in paths:
        els = partition_pdf(filename=str(p), strategy="fast")
        elements += len(els)
        pages += page_count(p)
    return pages, elements, time.perf_counter() - start, cpu_seconds() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--files", nargs="*", default=FINANCEBENCH, help="file names in the corpus")
    ap.add_argument("--limit-pages", type=int, default=None, help="first N pages of each file only")
    ap.add_argument("--sample-pages", type=int, default=6, help="pages per document for the sampled run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-full", action="store_true", help="only the sampled like-for-like comparison")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="folio-bench-"))
    full: list[Path] = []
    sampled: list[Path] = []
    for name in args.files:
        src = CORPUS / name
        n = page_count(src)
        if args.limit_pages and n > args.limit_pages:
            src = subset_pdf(src, list(range(args.limit_pages)), tmp / f"first-{name}")
            n = args.limit_pages
        full.append(src)
        sampled.append(subset_pdf(src, sample(n, args.sample_pages), tmp / f"sample-{name}"))

    print(f"files: {len(full)}; sample: up to {args.sample_pages} pages each; workers: {args.workers}")
    # Warm-up, untimed: imports and first-call set-up of both engines on one page.
    warm = subset_pdf(sampled[0], [0], tmp / "warm-up.pdf")
    run_folio([warm], args.workers, tmp / "assets-warm")
    run_unstructured([warm])
    rows = []
    f_run = run_folio(sampled, args.workers, tmp / "assets-sample")
    rows.append(("folio, sampled pages", *f_run))
    u_run = run_unstructured(sampled)
    rows.append(("unstructured fast, same sampled pages", *u_run))
    if not args.skip_full:
        rows.append(("folio, full documents", *run_folio(full, args.workers, tmp / "assets-full")))
    print(f"{'run':40} {'pages':>6} {'elements':>9} {'wall s':>7} {'pages/s':>8} {'cpu s':>7} {'pages/cpu-s':>11}")
    for name, pages, els, wall, cpu in rows:
        print(f"{name:40} {pages:6d} {els:9d} {wall:7.1f} {pages / wall:8.2f} {cpu:7.1f} {pages / cpu:11.2f}")
    u_pages, u_els, u_wall, u_cpu = u_run
    for name, pages, _els, wall, cpu in (rows[0], *rows[2:]):
        print(
            f"ratio {name} vs unstructured (sampled): {(pages / wall) / (u_pages / u_wall):.1f}x pages/s, "
            f"{(pages / cpu) / (u_pages / u_cpu):.1f}x pages per CPU-second (target >= 10x pages/s)"
        )
    print("unstructured was timed on the page sample only (pdfminer is slow); pages/s are comparable.")
    if u_els == 0:
        print("WARNING: unstructured returned no elements (spaCy patch not applied?)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
