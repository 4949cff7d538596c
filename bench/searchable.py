#!/usr/bin/env python3
"""Time to searchable: the plain run vs the default enriched run, in one go.

    nice python bench/searchable.py [--source ../shared/corpus] [--backfill-minutes 10]
        [--engine local|ray] [--enrich-actors N] [--include GLOB ...] [--enriched-only | --backfill-only]

1. the plain run (enrichment off) into a fresh index: its wall time;
2. the same sources with enrichment on (the default pipeline's enrich and model settings)
   into another fresh index (so an empty enrichment cache): the end of phase 1 is when
   every document is searchable; phase 2 (the backfill) then runs for --backfill-minutes
   (enrich.max_seconds) and its items per minute are printed.
Target: phase 1 <= 1.5x the plain run. ``--engine ray`` runs both on a local Ray
(phase 2 on ``--enrich-actors`` actors); ``--include`` limits the files (globs).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _scratch import REPO, bench_dir

from folio.config import Pipeline, Source, load_config
from folio.offline import enforce_offline
from pipeline.plan import INDEXED
from pipeline.report import DocResult
from pipeline.runner import Runner, RunOptions


def one_run(pipe: Pipeline, label: str, fresh: bool = True) -> dict[str, object]:
    if fresh:
        shutil.rmtree(pipe.index, ignore_errors=True)
    committed: list[tuple[float, str, str]] = []
    t0 = time.time()

    def on_document(result: DocResult) -> None:
        committed.append((round(time.time() - t0, 1), result.source, result.status))

    runner = Runner(pipe, RunOptions(progress=False, on_document=on_document))
    report = runner.run()
    wall = time.time() - t0
    from index.store import Store

    docs = Store(pipe.index).documents()
    out = {
        "label": label, "wall_s": round(wall, 1), "status": report.status, "phases": report.phases,
        "counts": report.counts, "enrich": report.enrich,
        "indexed_docs": sum(1 for d in docs.values() if d.status in INDEXED),
        "enrich_items_left": sum(d.enrich_left or 0 for d in docs.values()),
    }
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--backfill-minutes", type=float, default=10.0)
    ap.add_argument("--engine", choices=["local", "ray"], default="local")
    ap.add_argument("--enrich-actors", type=int, default=1)
    ap.add_argument("--include", action="append", help="only these files (globs under --source)")
    ap.add_argument("--enriched-only", action="store_true", help="skip the plain run")
    ap.add_argument("--backfill-only", action="store_true",
                    help="phase 2 alone on --engine, from a backlog indexed once by the local engine (kept)")
    args = ap.parse_args()
    enforce_offline()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = load_config(REPO / "pipelines.toml")
    default = cfg.pipeline("default")
    src = Source(path=args.source.resolve(), include=args.include or ["**/*"], exclude=["**/*.md", "**/.*"])
    run = default.run.model_copy(update={"engine": args.engine, "enrich_actors": args.enrich_actors})
    plain = default.model_copy(update={
        "name": "searchable-plain", "sources": [src], "index": bench_dir() / "searchable-plain", "run": run,
        "enrich": default.enrich.model_copy(update={"enabled": False}),
    })
    enriched = default.model_copy(update={
        "name": "searchable-enriched", "sources": [src], "index": bench_dir() / "searchable-enriched", "run": run,
        "enrich": default.enrich.model_copy(update={"enabled": True, "max_seconds": args.backfill_minutes * 60}),
    })
    if args.engine == "ray":
        # A Ray of its own even when another one runs on this machine (ray.init without an
        # address joins that one; pipeline/engines/ray/workers.init_ray then fails on num_cpus).
        import ray

        from pipeline.engines.ray.workers import REPO as CHECKOUT
        from pipeline.engines.ray.workers import keep_signal_handlers

        with keep_signal_handlers():
            ray.init(address="local", num_cpus=run.workers, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": str(CHECKOUT)}})
    if args.backfill_only:
        # Every document indexed with all its items left (no model item), once; each
        # engine's phase 2 then starts from a copy of it (same documents, empty cache).
        backlog = bench_dir() / "searchable-backlog"
        if not backlog.is_dir():
            cut = enriched.enrich.model_copy(update={"max_items": 0, "max_seconds": None})
            one_run(enriched.model_copy(update={"index": backlog, "enrich": cut, "run": default.run}), "backlog")
        shutil.rmtree(enriched.index, ignore_errors=True)
        shutil.copytree(backlog, enriched.index)
    p = None if args.enriched_only or args.backfill_only else one_run(plain, f"plain ({args.engine})")
    e = one_run(enriched, f"enriched ({args.engine})", fresh=not args.backfill_only)
    phases = e["phases"]
    assert isinstance(phases, dict)
    if p is None:
        print(f"phase 1 {phases.get('index')} s; phase 2 {phases.get('enrich')} s: {e['enrich']}; "
              f"{e['enrich_items_left']} items left")
        return
    enrich = e["enrich"]
    assert isinstance(enrich, dict)
    made = enrich.get("made", 0)
    backfill_min = phases.get("enrich", 0.0) / 60
    print(f"plain run: {p['wall_s']} s, {p['indexed_docs']} documents indexed")
    print(f"enriched run, phase 1 (every document searchable): {phases.get('index')} s "
          f"= {phases.get('index', 0) / float(p['wall_s']):.2f}x the plain run; "  # type: ignore[arg-type]
          f"{e['indexed_docs']} documents indexed")
    print(f"phase 2 (backfill): {made} captions/summaries made in {backfill_min:.1f} min "
          f"= {made / backfill_min if backfill_min else 0:.1f} items/min; {e['enrich_items_left']} items left")


if __name__ == "__main__":
    main()
