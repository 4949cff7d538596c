"""How long the Corpus tab's load takes: the function the app runs when the page opens
(ui/corpus_tab.py ``corpus_view``), on a copy of an index (the given one is never changed).

    nice python bench/corpus_tab.py --db /work/main/.folio/corpus [--pipeline corpus] [--repeat 5]

Times, each the median of ``--repeat`` calls after one untimed call unless said:
  before      the tab as at commit 6688d23 (documents, health, last report; no backlog)
  cold        this tab's first call in a fresh process (the review queue's table checks not cached)
  after       this tab once the queue is cached (the app warms it in a thread when it starts)
  review      the Review tab's queue (200 items), before and after the cache
The answer models are not loaded: the tab only names them (stand-ins with model ids).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BEFORE = "6688d23"


def _old_module(tmp: Path, path: str, name: str) -> Any:
    """A module as it was at BEFORE, loaded under another name."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{BEFORE}:{path}"], capture_output=True, text=True,
                         check=True).stdout
    f = tmp / f"{name}.py"
    f.write_text(src)
    spec = importlib.util.spec_from_file_location(name, f)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _time(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    from folio.offline import enforce_offline

    enforce_offline()
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--db", type=Path, required=True, help="an index folder (copied, never changed)")
    p.add_argument("--pipeline", default="corpus")
    p.add_argument("--config", default=str(REPO / "pipelines.toml"))
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()

    from answer.engine import Engine
    from folio.config import load_config
    from index.store import Store
    from review.overlays import OverlayStore
    from review.queue import table_reasons
    from ui import corpus_tab

    with tempfile.TemporaryDirectory(prefix="folio-bench-corpus-") as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(args.db, index, ignore=shutil.ignore_patterns("assets", "tmp", "run.lock"))
        pipe = load_config(Path(args.config)).pipeline(args.pipeline).model_copy(update={"index": index})
        store = Store(index)
        stand_in = SimpleNamespace(model_id="(not loaded)", kind="llama.cpp", max_tokens=256)
        engine = Engine(pipe, store, stand_in, stand_in)  # type: ignore[arg-type]
        overlays = OverlayStore(index)
        old = _old_module(Path(tmp), "ui/corpus_tab.py", "corpus_tab_before")
        n = len(store.documents())
        print(f"{args.db}: {n} documents")

        t = time.perf_counter()
        out = corpus_tab.corpus_view(engine, overlays)
        cold = time.perf_counter() - t
        before = _time(lambda: old.corpus_view(engine), args.repeat)
        after = _time(lambda: corpus_tab.corpus_view(engine, overlays), args.repeat)
        print(f"Corpus tab load: before {before:.3f} s (no backlog, no chart); "
              f"after: first call in a fresh process {cold:.3f} s, then {after:.3f} s")
        print(f"  backlog shown: {out[1]!r}")

        from review.queue import queue_of

        table_reasons.cache_clear()
        t = time.perf_counter()
        queue_of(store, overlays)
        uncached = time.perf_counter() - t
        cached = _time(lambda: queue_of(store, overlays), args.repeat)
        print(f"Review tab queue: {uncached:.3f} s uncached (every open before), {cached:.3f} s cached")
    return 0


if __name__ == "__main__":
    sys.exit(main())
