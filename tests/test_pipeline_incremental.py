"""Incremental runs: only what changed is redone; deletions, touches, settings changes."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from folio.config import ChunkSettings, PartitionSettings
from index.store import Store
from tests.pipeline_fixtures import Counters, chunk_rows, make_corpus, make_pdf, pipeline_for, run, sentence


def _docs(index: Path) -> dict:
    return Store(index).documents()


def test_change_delete_touch_between_runs(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=3)
    pipe = pipeline_for(src, index)
    c = Counters()

    first = run(pipe, c).report
    assert first.status == "ok", first.to_dict()
    assert sorted(c.partitioned) == ["doc0.pdf", "doc1.pdf", "doc2.pdf", "notes.docx"]
    before = _docs(index)
    assert all(d.status == "ok" and d.chunks > 0 for d in before.values())

    # nothing changed: no partitioning, the embedder is never loaded
    c2 = Counters()
    second = run(pipe, c2).report
    assert c2.partitioned == [] and c2.embedder_loads == 0
    assert second.counts["unchanged"] == 4 and second.status == "ok"

    # change doc0, delete doc1, touch doc2 (same bytes, new mtime)
    make_pdf(src / "doc0.pdf", [sentence("zeta"), sentence("eta"), sentence("theta")])
    (src / "doc1.pdf").unlink()
    st = (src / "doc2.pdf").stat()
    os.utime(src / "doc2.pdf", (st.st_atime, st.st_mtime + 100))
    c3 = Counters()
    third = run(pipe, c3).report
    assert c3.partitioned == ["doc0.pdf"]
    assert third.counts["changed"] == 1 and third.counts["deleted"] == 1 and third.counts["unchanged"] == 2

    after = _docs(index)
    assert "doc1.pdf" not in after
    assert after["doc0.pdf"].sha256 != before["doc0.pdf"].sha256 and after["doc0.pdf"].pages == 3
    assert after["doc2.pdf"].mtime == st.st_mtime + 100  # touched: new stat recorded, not reprocessed
    rows = chunk_rows(index)
    by_source = Counter(r["source"] for r in rows)
    assert "doc1.pdf" not in by_source
    assert {r["doc_sha256"] for r in rows if r["source"] == "doc0.pdf"} == {after["doc0.pdf"].sha256}
    assert len({r["id"] for r in rows}) == len(rows)

    # the touched file's new stat is now the fast path: still nothing to do
    c4 = Counters()
    run(pipe, c4)
    assert c4.partitioned == [] and c4.embedder_loads == 0


def test_settings_change_reprocesses_everything(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=2, with_docx=False)
    c = Counters()
    run(pipeline_for(src, index), c)
    assert len(c.partitioned) == 2

    changed = pipeline_for(src, index, partition=PartitionSettings(image_dpi=200))
    c2 = Counters()
    report = run(changed, c2).report
    assert sorted(c2.partitioned) == ["doc0.pdf", "doc1.pdf"]
    assert any("partition" in n for n in report.notes)
    fps = {d.fingerprint for d in _docs(index).values()}
    assert len(fps) == 1


def test_chunk_settings_change_rechunks_without_partitioning(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=2)
    run(pipeline_for(src, index), Counters())
    before = Counter(r["source"] for r in chunk_rows(index))

    small = pipeline_for(src, index, chunk=ChunkSettings(max_tokens=24))
    c = Counters()
    report = run(small, c).report
    assert c.partitioned == [] and report.counts["ok"] == 3
    assert any("chunk" in n for n in report.notes)
    after = Counter(r["source"] for r in chunk_rows(index))
    assert all(after[s] > before[s] for s in before)  # smaller budget, more chunks, same docs


def test_new_embedder_model_reembeds_everything(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=2, with_docx=False)
    pipe = pipeline_for(src, index)
    run(pipe, Counters())
    # one new file makes the run load the embedder, which turns out to be another model
    make_pdf(src / "new.pdf", [sentence("omega")])
    c = Counters(model_id="fake-embedder:2")
    report = run(pipe, c).report
    assert c.partitioned == ["new.pdf"]  # the others are re-embedded from their stored elements
    assert report.counts["ok"] == 3
    assert any("embedder changed" in n for n in report.notes)
    assert {d.embed_model for d in _docs(index).values()} == {"fake-embedder:2"}
    assert Store(index).embed_model == "fake-embedder:2"


def test_broken_file_is_recorded_and_not_retried(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=2, with_docx=False)
    (src / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage that is not a pdf \n")
    pipe = pipeline_for(src, index)

    runner = run(pipe, Counters())
    report = runner.report
    assert report.status == "partial" and report.counts["failed"] == 1 and report.counts["ok"] == 2
    docs = _docs(index)
    assert docs["broken.pdf"].status == "error" and docs["broken.pdf"].error
    assert {r["source"] for r in chunk_rows(index)} == {"doc0.pdf", "doc1.pdf"}
    saved = json.loads((index / "reports" / "last.json").read_text())
    assert saved["run_id"] == report.run_id and saved["counts"]["failed"] == 1
    assert any("broken.pdf" in line for line in report.summary_lines(runner.report_path)[1:])

    # same broken bytes next night: not partitioned again, still listed
    c = Counters()
    again = run(pipe, c).report
    assert c.partitioned == [] and again.counts["failed_known"] == 1 and again.status == "ok"

    # a previously good file that now fails keeps no stale rows
    (src / "doc0.pdf").write_bytes(b"%PDF-1.4 truncated")
    c2 = Counters()
    run(pipe, c2)
    assert c2.partitioned == ["doc0.pdf"]
    assert _docs(index)["doc0.pdf"].status == "error"
    assert {r["source"] for r in chunk_rows(index)} == {"doc1.pdf"}


NOOP_PROBE = """
import sys
sys.path.insert(0, {repo!r})
import ingest
code = ingest.main(["--config", "/nonexistent.toml", "run", "--source", {src!r}, "--db", {index!r}])
heavy = ("lancedb", "pyarrow", "onnxruntime", "tokenizers", "pymupdf", "fitz", "docx", "pptx", "unstructured")
print(code, sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy)))
"""


def test_nothing_changed_run_imports_no_heavy_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.pipeline_fixtures import REPO

    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=1)
    run(pipeline_for(src, index), Counters())
    probe = NOOP_PROBE.format(repo=str(REPO), src=str(src), index=str(index))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "0 []", out.stdout + out.stderr
    assert "2 unchanged" in out.stdout

    # the run is in the runs table once a later run opens the store; status shows it before
    from commands.status import gather_status

    assert gather_status(pipeline_for(src, index))["runs"][0]["counts"]["unchanged"] == 2
    make_pdf(src / "extra.pdf", [sentence("kappa")])
    run(pipeline_for(src, index), Counters())
    runs = Store(index).runs(10)
    assert len(runs) == 3 and runs[1]["report"]["counts"]["unchanged"] == 2


def test_snapshot_is_not_trusted_when_the_store_changed(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=2, with_docx=False)
    pipe = pipeline_for(src, index)
    run(pipe, Counters())
    Store(index, dim=16).delete_document("doc1.pdf")  # behind the snapshot's back
    c = Counters()
    runner = run(pipe, c)
    assert c.partitioned == ["doc1.pdf"] and not runner._fast
    c2 = Counters()
    assert run(pipe, c2)._fast and c2.partitioned == []
