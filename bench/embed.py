"""Embedding throughput and fidelity: sentence-transformers on torch vs Folio ONNX fp32 / int8.

Same model folder, same texts, same thread count, one run. Texts are ~100-250 word
passages from the PDFs in the shared corpus plus short queries. Prints sentences/s per
engine (best of --rounds, alternating engines to spread the machine's noise), the
int8/torch and fp32/torch ratios, and the mean / min cosine of each ONNX engine's vectors
to the torch fp32 vectors. Folio runs with its default batching (index/embed.py: at most
embed.batch_tokens tokens per batch); torch runs at each of --torch-batch-sizes (32 is
sentence-transformers' default) and the fastest is the baseline.

    nice python3 bench/embed.py [--passages 2000] [--queries 200] [--threads 2] [--rounds 2]
    nice python3 bench/embed.py --index .folio/corpus     # the chunk texts Folio really embeds
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from folio.config import EmbedSettings
from folio.offline import enforce_offline
from index.embed import default_model_dir, load_embedder

CORPUS = Path("/work/shared/corpus")
QUESTIONS = Path("/work/shared/eval-dev/questions.jsonl")


def corpus_texts(n_passages: int, n_queries: int, seed: int = 0) -> list[str]:
    import pymupdf

    rng = random.Random(seed)
    passages: list[str] = []
    for pdf in sorted(CORPUS.glob("*.pdf")):
        try:  # the corpus holds deliberately broken files
            with pymupdf.open(pdf) as doc:
                # The first pages of each document keep the mix diverse and the setup quick.
                words = [w for page in list(doc)[:100] for w in page.get_text("text").split()]
        except Exception as e:
            print(f"skipping {pdf.name}: {e}")
            continue
        i = 0
        while i + 100 <= len(words):
            size = rng.randint(100, 250)
            passages.append(" ".join(words[i : i + size]))
            i += size
    rng.shuffle(passages)
    passages = passages[:n_passages]
    queries = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    while len(queries) < n_queries:  # short query-like spans from the passages
        words = rng.choice(passages).split()
        start = rng.randrange(0, len(words) - 12)
        queries.append(" ".join(words[start : start + rng.randint(4, 12)]))
    return passages + queries[:n_queries]


def index_texts(index: Path, n: int, seed: int = 0) -> list[str]:
    """What Folio really embeds: chunk texts of an existing index (a fixed random sample)."""
    from index.store import Store

    tbl = Store(index).chunks_table
    if tbl is None:
        raise SystemExit(f"no chunks in {index}: run `ingest.py run` first")
    texts = [r["text"] for r in tbl.search().select(["text"]).limit(10**7).to_list()]
    rng = np.random.default_rng(seed)
    return [texts[i] for i in sorted(rng.choice(len(texts), size=min(n, len(texts)), replace=False))]


def timed(fn: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vecs = fn(texts)
    return time.perf_counter() - start, vecs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--torch-batch-sizes", default="32,8",
                    help="sentence-transformers batch sizes to time (32 is its default); the best is the baseline")
    ap.add_argument("--index", type=Path, help="take --passages chunk texts from this Folio index instead")
    args = ap.parse_args()
    enforce_offline()

    if args.index:
        texts = index_texts(args.index, args.passages)
        what = f"chunk texts sampled from {args.index}"
    else:
        texts = corpus_texts(args.passages, args.queries)
        what = f"{args.passages} passages + {args.queries} queries"
    model_dir = default_model_dir()
    print(f"model: {model_dir}")
    print(f"texts: {len(texts)} ({what}), threads={args.threads}")

    # ONNX first: load_embedder exports in a subprocess if the cache is cold.
    engines: dict[str, Callable[[list[str]], np.ndarray]] = {}
    for precision in ("fp32", "int8"):
        settings = EmbedSettings(precision=precision, threads=args.threads)  # Folio's own batching
        emb = load_embedder(settings)
        engines[f"onnx-{precision}"] = emb.embed
        lengths = emb.count_tokens(texts)
    truncated = sum(n > emb.max_tokens for n in lengths)
    print(f"tokens per text: mean {np.mean(lengths):.0f}, max {max(lengths)}; {truncated} over {emb.max_tokens}")

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    st = SentenceTransformer(str(model_dir), device="cpu")
    torch_names = []
    for bs in (int(b) for b in args.torch_batch_sizes.split(",")):
        torch_names.append(f"torch-b{bs}")
        engines[torch_names[-1]] = lambda t, bs=bs: st.encode(
            t, batch_size=bs, convert_to_numpy=True, normalize_embeddings=True
        )

    for fn in engines.values():  # warm-up: allocators, thread pools, graph optimization
        fn(texts[:32])
    best: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    for rnd in range(args.rounds):
        for name in engines:
            with torch.inference_mode():
                seconds, vecs = timed(engines[name], texts)
            rate = len(texts) / seconds
            print(f"  round {rnd + 1} {name:10s} {seconds:7.2f} s  {rate:7.1f} sentences/s")
            best[name] = max(best.get(name, 0.0), rate)
            vectors[name] = vecs.astype(np.float32)

    base = max(torch_names, key=lambda n: best[n])  # the fastest torch setting is the baseline
    best["torch"], ref = best[base], vectors[base]
    print(f"\nbaseline: {base}")
    print("engine      sentences/s  x torch  cosine-to-torch mean / min")
    for name in engines:
        cos = np.sum(vectors[name] * ref, axis=1) / (
            np.linalg.norm(vectors[name], axis=1) * np.linalg.norm(ref, axis=1)
        )
        print(f"{name:11s} {best[name]:10.1f} {best[name] / best['torch']:8.2f}  {cos.mean():.4f} / {cos.min():.4f}")
    ratio = best["onnx-int8"] / best["torch"]
    print(f"\nint8/torch = {ratio:.2f}x (target >= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
