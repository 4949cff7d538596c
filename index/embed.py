"""Sentence embeddings with onnxruntime + tokenizers (no torch, no transformers at run time).

The model folder is exported to ONNX once (index/onnx_cache.py, in a subprocess) and
the export is reused from the cache. Inference reproduces sentence-transformers for the
folder: same truncation, same pooling, L2-normalized float32 vectors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from folio.config import EmbedSettings
from folio.errors import ConfigError
from folio.offline import enforce_offline
from index import onnx_cache
from index.model_folder import ModelSpec, default_model_dir, inspect_model_dir

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

__all__ = ["Embedder", "default_model_dir", "export_model", "load_embedder"]

log = logging.getLogger(__name__)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _session(model_file: Path, threads: int) -> onnxruntime.InferenceSession:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1  # one graph at a time; parallelism is inside the ops
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # onnxruntime's default: worker threads spin briefly between ops. The run embeds after
    # a document's partitioning has finished, so nothing else of ours wants the cores, and
    # with small batches (many short ops) sleeping threads cost 9% (bench/embed.py).
    # onnxruntime's SkipLayerNormalization CPU kernel is ~5x slower than the Add +
    # LayerNormalization it replaces (index/onnx_export.py leaves them unfused too).
    return ort.InferenceSession(
        str(model_file),
        sess_options=opts,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=["SkipLayerNormFusion"],
    )


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0]
    m = mask[:, :, None].astype(hidden.dtype)
    if mode == "max":
        # Padding must never win the max (sentence-transformers sets it to -1e9 too).
        return np.where(m > 0, hidden, np.float32(-1e9)).max(axis=1)
    summed = (hidden * m).sum(axis=1)
    return summed / np.clip(m.sum(axis=1), 1e-9, None)


class Embedder:
    """One loaded ONNX model. Build with load_embedder(); safe to reuse for many calls."""

    def __init__(
        self,
        spec: ModelSpec,
        export_dir: Path,
        precision: str,
        threads: int,
        batch_size: int = 64,
        batch_tokens: int = 1024,
    ):
        import tokenizers

        self.spec = spec
        self.precision = precision
        self.export_dir = export_dir
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.max_tokens = spec.max_tokens
        self.model_id = f"{spec.name}:{spec.content_hash[:12]}:{precision}"
        self._session = _session(export_dir / onnx_cache.MODEL_FILE, threads)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = self._session.get_outputs()[0].name

        # tokenizer.json may carry the export's own truncation/padding (MiniLM's says 128,
        # fixed padding); set both explicitly so the limit is the model's max_seq_length.
        base = tokenizers.Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        # Padded positions are masked out, but use the model's own pad id all the same.
        self._pad_id = int((base.padding or {}).get("pad_id", 0))
        base.no_truncation()
        base.no_padding()
        self._counter: tokenizers.Tokenizer = base
        self._tokenizer = tokenizers.Tokenizer.from_str(base.to_str())
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self.dim = 0  # set before the probe: embed() reads it
        self.dim = self._probe_dim()

    def __repr__(self) -> str:
        return f"Embedder({self.model_id}, dim={self.dim}, max_tokens={self.max_tokens})"

    def _probe_dim(self) -> int:
        width = self._session.get_outputs()[0].shape[-1]
        if isinstance(width, int):
            return width
        return int(self.embed(["dimension probe"]).shape[1])  # symbolic width: ask the graph

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        return [t.lower() for t in texts] if self.spec.lower_case else list(texts)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens included, without truncation."""
        if not texts:
            return []
        encodings = self._counter.encode_batch(self._prepare(texts), add_special_tokens=True)
        return [len(e.ids) for e in encodings]

    def _run_batch(self, encodings: list[tokenizers.Encoding]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (hidden,) = self._session.run([self._output], {k: v for k, v in feed.items() if k in self._inputs})
        return _pool(hidden.astype(np.float32, copy=False), mask, self.spec.pooling)

    def _batches(self, order: list[int], encodings: list[tokenizers.Encoding]) -> Iterator[list[int]]:
        """Slices of ``order`` (longest first) within batch_size texts and batch_tokens
        tokens, padding included; a text longer than batch_tokens is a batch of its own."""
        start = 0
        while start < len(order):
            width = len(encodings[order[start]].ids)  # the longest of this batch pads the rest
            n = max(1, min(self.batch_size, self.batch_tokens // max(width, 1)))
            yield order[start : start + n]
            start += n

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim), L2-normalized, in the order of ``texts``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(self._prepare(texts), add_special_tokens=True)
        # Batches of similar length pad little: sort by length, run, put rows back in order.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        out: np.ndarray | None = None
        for idx in self._batches(order, encodings):
            pooled = self._run_batch([encodings[i] for i in idx])
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        assert out is not None
        # Always unit length, also for folders without a Normalize module: the store ranks
        # by cosine, and normalizing does not change a vector's direction.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.clip(norms, 1e-12, None)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def export_model(settings: EmbedSettings) -> Path:
    """Export (and quantize) the configured model into the cache if needed; idempotent."""
    enforce_offline()
    spec = inspect_model_dir(settings.model_dir)
    return onnx_cache.cached_export(spec, settings.precision, settings.cache_dir)


def load_embedder(settings: EmbedSettings) -> Embedder:
    enforce_offline()
    spec = inspect_model_dir(settings.model_dir)
    export_dir = onnx_cache.cached_export(spec, settings.precision, settings.cache_dir)
    threads = settings.threads or _cores()
    try:
        embedder = Embedder(
            spec, export_dir, settings.precision, threads, settings.batch_size, settings.batch_tokens
        )
    except ConfigError:
        raise
    except Exception as e:  # a corrupt cache entry or an ONNX graph onnxruntime cannot run
        raise ConfigError(f"cannot load the ONNX export {export_dir} of {spec.path}: {e}") from e
    log.info("embedder %s from %s (%d threads)", embedder.model_id, export_dir, threads)
    return embedder
