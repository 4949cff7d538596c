#!/usr/bin/env python3
"""Table summaries before and after issue 22, on the tables of the shared corpus.

For each table the corpus pipelines summarise (the committed tables of the read-only
index /work/main/.folio/corpus with at least --min-cells cells, the corpus-enriched
pipeline's threshold), evenly sampled down to --limit:

  - before: the code at --base (prompt v4: the model reads the table; sentences with a
    figure not in the table dropped), what it would store;
  - after: this tree (the model phrases computed facts, the whole summary checked, asked
    again once, else the facts stored and queued for review), what it would store;
  - the computed facts alone, for every eligible table (no model): they must all check.

Each stored summary goes through the claims check of enrich/claims.py (figures and
superlatives against the grid). Printed: the share whose claims all check, how many
were cut mid-sentence, how many needed the retry and the fallback, seconds per table.

    nice python3 bench/summaries.py [--llm smollm2-135m-q4_1] [--limit 40] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from folio.offline import enforce_offline  # noqa: E402

enforce_offline()

from enrich import tables  # noqa: E402
from enrich.cache import EnrichCache  # noqa: E402
from enrich.claims import complete_sentences, summary_problems  # noqa: E402
from enrich.engines import EnrichModels  # noqa: E402
from enrich.table_facts import facts_text, table_facts  # noqa: E402
from folio.config import EnrichSettings, ModelSettings  # noqa: E402
from folio.element import Element  # noqa: E402

INDEX = ROOT.parent / "main" / ".folio" / "corpus"
BASE = "01aba03"  # the commit before issue 22's summary work


def old_tables() -> types.ModuleType:
    """enrich/prompts.py and enrich/tables.py as they were at ``BASE``, loaded side by side."""
    mods = {}
    for name in ("prompts", "tables"):
        src = subprocess.check_output(["git", "show", f"{BASE}:enrich/{name}.py"], cwd=ROOT, text=True)
        src = src.replace("from enrich.prompts import", "from old_enrich_prompts import")
        mod = types.ModuleType(f"old_enrich_{name}")
        sys.modules[mod.__name__] = mod  # dataclasses look their module up
        exec(compile(src, f"{BASE}:enrich/{name}.py", "exec"), mod.__dict__)
        mods[name] = mod
    return mods["tables"]


def corpus_tables(min_cells: int) -> list[Element]:
    import lancedb

    db = lancedb.connect(str(INDEX / "lancedb"))
    committed = {r["source"]: r["write_id"] for r in db.open_table("documents").search().limit(None)
                 .select(["source", "write_id"]).to_arrow().to_pylist()}
    rows = db.open_table("elements").search().where("kind = 'table'").limit(None).to_arrow().to_pylist()
    els = []
    for r in rows:
        if committed.get(r["source"]) != r["write_id"]:
            continue
        r = {k: v for k, v in r.items() if k in Element.__dataclass_fields__}
        r["meta"] = json.loads(r["meta"]) if isinstance(r.get("meta"), str) else (r.get("meta") or {})
        els.append(Element.from_dict(r))
    els.sort(key=lambda e: (e.source, e.order))
    return [els[j.index] for j in tables.plan_tables(els, min_cells)[0]]


def sample(items: list[Any], k: int) -> list[Any]:
    if k <= 0 or k >= len(items):
        return items
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)] if k > 1 else items[:1]


def verdict(summary: str | None, job: tables.TableJob) -> dict[str, Any]:
    if not summary:
        return {"stored": False, "ok": True, "cut": False, "problems": []}
    problems = summary_problems(summary, tables.job_grid(job))
    return {"stored": True, "ok": not problems, "cut": complete_sentences(summary) != " ".join(summary.split()),
            "problems": problems}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llm", default="smollm2-135m-q4_1")
    ap.add_argument("--models-dir", type=Path, default=None, help="where the small model is written (a temp dir)")
    ap.add_argument("--limit", type=int, default=40, help="tables run through the model (0: all)")
    ap.add_argument("--min-cells", type=int, default=60)
    ap.add_argument("--max-tokens", type=int, default=120)
    ap.add_argument("--input-tokens", type=int, default=384)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write every table's outcome as JSON lines")
    args = ap.parse_args()

    els = corpus_tables(args.min_cells)
    jobs = tables.plan_tables(els, args.min_cells)[0]
    facts_ok = sum(not summary_problems(facts_text(table_facts(tables.job_grid(j))), tables.job_grid(j)) for j in jobs)
    print(f"eligible tables (>= {args.min_cells} cells, committed): {len(jobs)}; "
          f"computed facts that check: {facts_ok}/{len(jobs)}")

    import tempfile

    folder = args.models_dir or Path(tempfile.mkdtemp(prefix="folio-bench-models-"))
    ms = ModelSettings(llm=args.llm, threads=args.threads, n_ctx=2048,
                       dir=folder if args.llm.startswith("smollm2") else None)
    es = EnrichSettings(enabled=True, captions=False, min_table_cells=args.min_cells,
                        summary_max_tokens=args.max_tokens, summary_input_tokens=args.input_tokens)
    models = EnrichModels.from_settings(ms)
    models.llm()
    old = old_tables()
    picked = sample(list(zip(jobs, els, strict=True)), args.limit)
    if args.out:
        args.out.write_text("")
    rows = []
    t_before = t_after = 0.0
    for n, (job, el) in enumerate(picked, 1):
        t = time.monotonic()
        before = old.make_summary(job, models, EnrichCache(None), es)
        t_before += time.monotonic() - t
        t = time.monotonic()
        cache = EnrichCache(None)
        after = tables.make_summary(job, models, cache, es)
        t_after += time.monotonic() - t
        raw = cache.get("summary", job.chash, str(models.llm_id), tables.TABLE_SUMMARY_VERSION,
                        tables._params(es, models)) or {}
        row = {"source": el.source, "page": el.page, "before": before.get("summary"), "after": after["summary"],
               "before_check": verdict(before.get("summary"), job), "after_check": verdict(after["summary"], job),
               "retried": bool(raw.get("retry")), "fallback": after.get("model") == tables.FACTS_MODEL}
        rows.append(row)
        if args.out:  # as it goes: a long run cut short still leaves its tables
            with args.out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"[{n}/{len(picked)}] {el.source} p.{el.page}: before ok={row['before_check']['ok']} "
              f"after ok={row['after_check']['ok']} retried={row['retried']} fallback={row['fallback']}", flush=True)
    n = len(rows) or 1
    for side in ("before", "after"):
        stored = [r for r in rows if r[f"{side}_check"]["stored"]]
        ok = sum(r[f"{side}_check"]["ok"] for r in stored)
        cut = sum(r[f"{side}_check"]["cut"] for r in stored)
        print(f"{side}: stored {len(stored)}/{len(rows)}, claims all check {ok}/{len(stored)} "
              f"({ok / max(1, len(stored)):.2f}), cut mid-sentence {cut}")
    print(f"after: retried {sum(r['retried'] for r in rows)}, fallback to computed facts "
          f"{sum(r['fallback'] for r in rows)}/{len(rows)}")
    print(f"seconds per table: before {t_before / n:.1f}, after {t_after / n:.1f} ({args.llm}, {args.threads} thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
