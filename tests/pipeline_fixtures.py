"""Shared helpers for tests/test_pipeline_*.py: tiny documents made in code, a fake
embedder (fast, deterministic) and a partitioner wrapper that counts calls."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from folio.config import Pipeline, Source
from pipeline.plan import Task
from pipeline.runner import Runner, RunOptions
from pipeline.stages import partition_isolated

REPO = Path(__file__).resolve().parents[1]


def make_pdf(path: Path, pages: list[str]) -> Path:
    import pymupdf

    doc = pymupdf.open()
    for text in pages:
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 520, 760), text, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    doc.close()
    return path


def make_docx(path: Path, paragraphs: list[str]) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Fixture document", level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(str(path))
    return path


def sentence(topic: str, n: int = 3) -> str:
    return " ".join(f"The {topic} report, paragraph {i}, discusses {topic} results in detail." for i in range(n))


def make_corpus(folder: Path, n_pdf: int = 2, with_docx: bool = True) -> dict[str, Path]:
    files = {}
    for i in range(n_pdf):
        name = f"doc{i}.pdf"
        files[name] = make_pdf(folder / name, [sentence(f"alpha{i}"), sentence(f"beta{i}")])
    if with_docx:
        files["notes.docx"] = make_docx(folder / "notes.docx", [sentence("gamma"), sentence("delta")])
    return files


class FakeEmbedder:
    """Hash-seeded unit vectors: deterministic, no model files, microseconds per text."""

    def __init__(self, model_id: str = "fake-embedder:1", dim: int = 16) -> None:
        self.model_id = model_id
        self.dim = dim
        self.max_tokens = 128

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class Counters:
    """Counts partitioner calls (by source) and embedder loads of runs made with ``options``."""

    def __init__(self, model_id: str = "fake-embedder:1") -> None:
        self.partitioned: list[str] = []
        self.embedder_loads = 0
        self.model_id = model_id

    def options(self, **kw: Any) -> RunOptions:
        def partition(task: Task, sha: str, pipe: Pipeline) -> Any:
            self.partitioned.append(task.entry.source)
            return partition_isolated(task, sha, pipe)

        def factory(pipe: Pipeline) -> FakeEmbedder:
            self.embedder_loads += 1
            return FakeEmbedder(self.model_id)

        return RunOptions(progress=False, embedder_factory=factory, partition=partition, **kw)


def pipeline_for(src: Path, index: Path, **update: Any) -> Pipeline:
    pipe = Pipeline(name="test", sources=[Source(path=src)], index=index)
    return pipe.model_copy(update=update) if update else pipe


def run(pipe: Pipeline, counters: Counters, **kw: Any) -> Runner:
    runner = Runner(pipe, counters.options(**kw))
    runner.run()
    return runner


def chunk_rows(index: Path) -> list[dict[str, Any]]:
    from index.store import Store

    tbl = Store(index).chunks_table
    if tbl is None:
        return []
    return list(tbl.to_arrow().select(["id", "source", "doc_sha256"]).to_pylist())


def kill_after_first_commit(cmd: list[str], **popen: Any) -> int:
    """Run ``cmd`` (an ``ingest.py -v run``) and SIGKILL it once its log says a document
    was committed; returns its exit status (-9 when it really was killed mid-run)."""
    import subprocess

    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, **popen)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "committed" in line:
            proc.kill()
            break
    return proc.wait()
