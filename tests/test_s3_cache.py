"""A remote index's enrichment cache travels with the index (pipeline/cache_sync.py): a
run on another machine (another FOLIO_CACHE_DIR) finds the captions and summaries made
elsewhere and calls no model for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrich.cache import EnrichCache
from folio.config import Pipeline
from folio.storage import S3Blobs, resolve_options
from pipeline.cache_sync import KEY
from tests.pipeline_fixtures import make_pdf, sentence
from tests.s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)
from tests.test_pipeline_enrich import FakePartition, corpus, enrich_pipe, run
from tests.test_pipeline_phases import SlowLLM, slow_llm  # noqa: F401  (fixture)


def test_a_second_machine_reuses_the_captions_made_by_the_first(
    tmp_path: Path, s3_bucket: str, slow_llm: SlowLLM, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    corpus(tmp_path, n=1)
    local = enrich_pipe(tmp_path)
    pipe = Pipeline.model_validate({**local.model_dump(), "index": f"{s3_bucket}/idx", "remote": None})
    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "machine-a"))
    first = run(pipe, FakePartition()).report
    assert first.status == "ok" and len(slow_llm.calls) == 2  # a caption and a summary
    blobs = S3Blobs(f"{s3_bucket}/idx", resolve_options())
    shared = blobs.read(KEY)
    assert shared and EnrichCache.loads(shared).count() == 2

    # machine B: an empty local cache; the document changed, its picture and table did not
    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "machine-b"))
    make_pdf(tmp_path / "src" / "doc0.pdf", [sentence("alpha0"), sentence("omega")])
    pipe_b = Pipeline.model_validate({**local.model_dump(), "index": f"{s3_bucket}/idx", "remote": None})
    assert pipe_b.index != pipe.index  # another machine's local folder
    second = run(pipe_b, FakePartition()).report
    assert second.counts["changed"] == 1 and second.status == "ok"
    assert len(slow_llm.calls) == 2, "machine B called the model for what machine A had made"
    assert any("shared enrichment cache" in n for n in second.notes), second.notes
