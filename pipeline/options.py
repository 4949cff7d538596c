"""What a caller can change about one run (the CLI, tests, benches): budget, progress bar,
the embedder and partitioner to use, a callback per document, the OCR for captions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from folio.config import Pipeline
from pipeline.report import DocResult
from pipeline.stages import PartitionFn, TextEmbedder, default_embedder, partition_isolated


@dataclass
class RunOptions:
    max_minutes: float | None = None
    progress: bool | None = None  # None: only when stderr is a terminal
    embedder_factory: Callable[[Pipeline], TextEmbedder] = default_embedder
    partition: PartitionFn = partition_isolated
    # Called after each document is finished (committed or recorded as failed).
    on_document: Callable[[DocResult], None] | None = None
    # OCR for captions of pictures (tests pass a fake); None: RapidOCR.
    ocr: Callable[[bytes], str] | None = None
    # A run over these documents only (the app's upload, removal, re-index): the rest of
    # the sources is left as it is for the next full run. ``reindex``: redone even if unchanged.
    only: frozenset[str] | None = None
    reindex: frozenset[str] = frozenset()
    # Phase 1 only: captions and summaries are left to the next run (its plan finds them).
    skip_enrich: bool = False
