#!/usr/bin/env python3
"""Enrichment costs, side by side in one run, on real corpus documents.

  - captions, OCR + LLM path (default model): seconds per image, split into OCR and LLM
  - captions, vision path with the tiny random LLaVA (meaningless words; the cost of the
    handler plumbing, not of a real VLM)
  - table summaries: seconds per table
  - a second pass over everything with the warm cache: model calls (must be 0) and time

    nice python3 bench/enrich.py [--llm qwen2.5-coder-1.5b-q4_k_m] [--threads N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from folio.offline import enforce_offline

enforce_offline()

from enrich.cache import EnrichCache  # noqa: E402
from enrich.engines import EnrichModels  # noqa: E402
from enrich.stage import EnrichStats, enrich_elements  # noqa: E402
from folio import llm  # noqa: E402
from folio.config import EnrichSettings, ModelSettings, PartitionSettings, Pipeline  # noqa: E402
from folio.element import Element  # noqa: E402
from partition import partition_file  # noqa: E402
from tests.tiny_llava import write_tiny_llava  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
DOCS = ["markitdown-test.pptx", "powerpoint_with_image.pptx", "docx-tables.docx", "word_tables.docx"]


def load_elements(assets: Path) -> list[Element]:
    out: list[Element] = []
    for name in DOCS:
        path = CORPUS / name
        if path.exists():
            out += partition_file(path, PartitionSettings(), assets, source=name)
    return out


def run(label: str, pipe: Pipeline, models: EnrichModels, cache: EnrichCache, elements: list[Element]) -> dict:
    calls = llm.call_count()
    stats = EnrichStats()
    ocr_seconds = [0.0]
    ocr = models._ocr

    def timed_ocr(png: bytes) -> str:
        t = time.perf_counter()
        try:
            return ocr(png)
        finally:
            ocr_seconds[0] += time.perf_counter() - t

    models._ocr = timed_ocr
    t = time.perf_counter()
    _, complete = enrich_elements(elements, pipe, models, cache, None, stats=stats)
    seconds = time.perf_counter() - t
    models._ocr = ocr
    row = {
        "label": label, "seconds": seconds, "calls": llm.call_count() - calls, "ocr_s": ocr_seconds[0],
        "items": stats.made + stats.cache_hits, "hits": stats.cache_hits, "complete": complete,
        "failed": len(stats.failed),
    }
    per = seconds / row["items"] if row["items"] else 0.0
    print(f"{label:44} items={row['items']:2} model_calls={row['calls']:2} cache_hits={row['hits']:2} "
          f"total={seconds:7.2f}s per_item={per:6.2f}s ocr={row['ocr_s']:5.2f}s failed={row['failed']}",
          flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--llm", default="qwen2.5-coder-1.5b-q4_k_m")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    ap.add_argument("--max-tables", type=int, default=4, help="summarize only the first N tables")
    args = ap.parse_args()

    # Not "folio-*": other tools sweep those temp folders away.
    work = Path(tempfile.mkdtemp(prefix="enrichbench-"))
    index = work / "idx"
    t = time.perf_counter()
    elements = load_elements(index / "assets")
    tables = [i for i, e in enumerate(elements) if e.kind == "table"]
    drop = set(tables[args.max_tables:])
    elements = [e for i, e in enumerate(elements) if i not in drop]
    kinds = {k: sum(1 for e in elements if e.kind == k) for k in ("image", "table")}
    print(f"partitioned {', '.join(DOCS)}: {kinds['image']} images, {kinds['table']} tables "
          f"({time.perf_counter() - t:.1f}s)")

    tiny_model, tiny_proj = write_tiny_llava(work / "tiny")
    base = ModelSettings(llm=args.llm, threads=args.threads)
    vision = base.model_copy(update={"vlm": tiny_model, "mmproj": tiny_proj})
    configs = [
        ("captions: OCR + " + args.llm, base, EnrichSettings(enabled=True, tables=False)),
        ("captions: vision path (tiny random LLaVA)", vision, EnrichSettings(enabled=True, tables=False)),
        ("table summaries: " + args.llm, base, EnrichSettings(enabled=True, captions=False)),
    ]
    cache = EnrichCache.in_index(index)
    cold = []
    for label, ms, es in configs:
        pipe = Pipeline(sources=[], index=index, models=ms, enrich=es)
        models = EnrichModels.from_settings(ms)
        models.llm() if es.tables or not ms.vlm else models.vlm()  # load outside the timing
        cold.append(run(label, pipe, models, cache, elements))

    print("-- second pass, warm cache (same models, prompts and documents)")
    warm = []
    for label, ms, es in configs:
        pipe = Pipeline(sources=[], index=index, models=ms, enrich=es)
        warm.append(run("warm: " + label, pipe, EnrichModels.from_settings(ms), cache, elements))
    warm_calls = sum(r["calls"] for r in warm)
    print(f"warm pass model calls: {warm_calls} (call counter total {llm.call_count()})")
    cold_s, warm_s = sum(r["seconds"] for r in cold), sum(r["seconds"] for r in warm)
    print(f"cold {cold_s:.2f}s vs warm {warm_s:.3f}s: warm/cold = {warm_s / cold_s:.5f}")
    ocr_llm = cold[0]
    if ocr_llm["items"] and ocr_llm["calls"]:
        # Pictures with no text of their own and no caption or alt text get no LLM call.
        llm_part = (ocr_llm["seconds"] - ocr_llm["ocr_s"]) / ocr_llm["calls"]
        print(f"OCR+LLM caption: OCR {ocr_llm['ocr_s'] / ocr_llm['items']:.2f}s per image + LLM {llm_part:.2f}s "
              f"per LLM caption ({ocr_llm['calls']} of {ocr_llm['items']} images went to the LLM)")
    if cold[1]["items"] and ocr_llm["items"]:
        print(f"vision path (tiny) / OCR+LLM per image = "
              f"{(cold[1]['seconds'] / cold[1]['items']) / (ocr_llm['seconds'] / ocr_llm['items']):.3f}")
    cache.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0 if warm_calls == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
