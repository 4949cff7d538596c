"""A run narrowed to some documents (``RunOptions.only``: the app's uploads, issue 22 item 6)
touches those only: other new, changed or deleted files wait for the next full run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.walk import source_key
from tests.pipeline_fixtures import Counters, make_corpus, make_pdf, pipeline_for, run


@pytest.mark.slow  # five runs with real partitioning: ~35 s on 2 shared cores
def test_only_touches_the_named_documents(tmp_path: Path) -> None:
    src, idx = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=2, with_docx=False)
    pipe = pipeline_for(src, idx)
    run(pipe, Counters())
    from index.store import Store

    before = Store(idx).documents()
    make_pdf(src / "uploads" / "new.pdf", ["an uploaded page about walruses"])
    make_pdf(src / "other.pdf", ["a file the nightly run adds"])
    (src / "doc1.pdf").unlink()
    key = source_key(pipe.sources, src / "uploads" / "new.pdf")
    assert key == "uploads/new.pdf"

    c = Counters()
    runner = run(pipe, c, only=frozenset({key}), skip_enrich=True)
    docs = Store(idx).documents()
    assert c.partitioned == ["uploads/new.pdf"] and runner.report.counts["new"] == 1
    assert "other.pdf" not in docs and "doc1.pdf" in docs  # left for the next run
    assert docs["uploads/new.pdf"].status == "ok"

    # re-index an unchanged document; removal of a gone file
    c = Counters()
    run(pipe, c, only=frozenset({"doc0.pdf"}), reindex=frozenset({"doc0.pdf"}))
    assert c.partitioned == ["doc0.pdf"]
    assert Store(idx).documents()["doc0.pdf"].finished_at != before["doc0.pdf"].finished_at
    c = Counters()
    runner = run(pipe, c, only=frozenset({"doc1.pdf", "nothing.pdf"}))
    docs = Store(idx).documents()
    assert c.partitioned == [] and "doc1.pdf" not in docs and "other.pdf" not in docs
    assert any("nothing.pdf: no such file" in n for n in runner.report.notes), runner.report.notes

    run(pipe, Counters())  # the full run catches up with the rest
    assert "other.pdf" in Store(idx).documents()
