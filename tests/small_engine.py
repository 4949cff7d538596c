"""An answer engine over a one-document index and the real SmolLM2-135M (tests that need
real generation without a server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def small_engine(tmp_path: Path, source: str, paragraphs: list[str], max_tokens: int = 60) -> Any:
    from answer.backends import load_backend
    from answer.engine import Engine
    from folio.config import AnswerSettings, ModelSettings, Pipeline, Source
    from index.store import Store
    from tests.test_store import HashEmbedder, index_doc, make_doc

    emb = HashEmbedder()
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc(source, paragraphs))
    pipe = Pipeline(name="t", sources=[Source(path=tmp_path)], index=tmp_path)
    backend = load_backend(ModelSettings(llm="smollm2-135m-q4_1"), AnswerSettings(max_tokens=max_tokens))
    return Engine(pipe, store, emb, backend)  # type: ignore[arg-type]
