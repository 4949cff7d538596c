"""Enrichment inside the nightly run: stored and searchable, budget cuts finished by a
later run, nothing re-enriched without cause, model/prompt changes re-enrich from the
stored elements. Real llama.cpp inference with SmolLM2-135M (as tests/test_enrich_stage.py);
the partitioner is a fake that counts calls (partitioning is not the point here)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest

from enrich import captions
from enrich.cache import CACHE_FILE, machine_cache_dir
from folio import llm
from folio.config import EnrichSettings, ModelSettings, Pipeline
from folio.element import Element
from folio.models import KNOWN_MODELS, model_path
from index.store import DocRecord, Store
from pipeline.plan import Task
from pipeline.reuse import strip_enrichment
from pipeline.runner import Runner, RunOptions
from tests.pipeline_fixtures import REPO, FakeEmbedder, make_pdf, pipeline_for, sentence
from tests.test_enrich_captions import png
from tests.test_enrich_stage import SMALL, SMALL_ID, TABLE_HTML

OCR_TEXT = "Revenue by region 2023\nNorth 1,234.5\nSouth 987.0"


Kind = Literal["text", "table", "image"]


class FakePartition:
    """Four elements per document (title, picture, table, text); counts calls by source."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, task: Task, sha: str, pipe: Pipeline) -> list[Element]:
        source = task.entry.source
        self.calls.append(source)
        folder = pipe.assets_dir / sha[:16]
        folder.mkdir(parents=True, exist_ok=True)
        # a different picture per document, so each one is its own caption job
        (folder / "pic.png").write_bytes(png(160, 90, 40 + 10 * len(self.calls) % 200))

        def make(i: int, kind: Kind, **kw: Any) -> Element:
            return Element(id=f"{sha[:12]}-{i}", doc_id=sha[:16], source=source, doc_sha256=sha,
                           kind=kind, page=1, order=i, section=("Results",), **kw)

        return [
            make(0, "text", text=f"Quarterly results of {source}.", role="title"),
            make(1, "image", image=f"{sha[:16]}/pic.png", meta={"alt_text": "A chart of revenue"}),
            # a different table per document too (the cache keys on content)
            make(2, "table", html=TABLE_HTML.replace("South", source.split(".")[0]), text="Region Revenue Growth"),
            make(3, "text", text="Revenue rose in the North."),
        ]


def fake_ocr(data: bytes) -> str:
    return OCR_TEXT


def enrich_pipe(tmp_path: Path, llm_name: str = SMALL, **enrich: Any) -> Pipeline:
    # One llama.cpp thread: two spinning threads on this shared 2-core box are far slower.
    models = ModelSettings(dir=tmp_path / "models", llm=llm_name, threads=1, n_ctx=2048)
    settings = {"enabled": True, "caption_max_tokens": 20, "summary_max_tokens": 32, **enrich}
    return pipeline_for(tmp_path / "src", tmp_path / "idx", models=models, enrich=EnrichSettings(**settings))


def run(pipe: Pipeline, part: FakePartition, **kw: Any) -> Runner:
    opts = RunOptions(progress=False, embedder_factory=lambda p: FakeEmbedder(), partition=part, ocr=fake_ocr, **kw)
    runner = Runner(pipe, opts)
    runner.run()
    return runner


def corpus(tmp_path: Path, n: int = 1) -> None:
    for i in range(n):
        make_pdf(tmp_path / "src" / f"doc{i}.pdf", [sentence(f"alpha{i}")])


def stored(index: Path, source: str) -> list[Element]:
    return Store(index).elements(source)


def test_enrichment_is_stored_and_searchable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import ingest

    corpus(tmp_path)
    pipe = enrich_pipe(tmp_path)
    before = llm.call_count()
    report = run(pipe, FakePartition()).report
    assert report.status == "ok" and report.counts["ok"] == 1, report.to_dict()
    assert llm.call_count() == before + 2  # one caption, one summary
    els = stored(pipe.index, "doc0.pdf")
    image, table = els[1], els[2]
    assert image.caption and image.caption_model in (f"ocr+llm:{SMALL_ID}", "ocr:rapidocr")
    assert image.meta["ocr_text"] == OCR_TEXT
    assert table.summary_model == SMALL_ID or "summary_rejected" in table.meta
    assert table.html is not None and "<script" not in table.html and "onclick" not in table.html
    assert Store(pipe.index).documents()["doc0.pdf"].status == "ok"

    args = ["search", "--db", str(pipe.index), "--mode", "fts", "--json", "-k", "10", "revenue chart region"]
    code = ingest.main(["--config", "/nonexistent.toml", *args])
    assert code == 0
    hits = json.loads(capsys.readouterr().out.splitlines()[-1])
    by_kind = {h["kind"]: h for h in hits}
    assert by_kind["image"]["caption"] == image.caption
    assert by_kind["image"]["caption_model"] == image.caption_model
    assert image.caption.split()[0] in by_kind["image"]["text"]  # the caption is in what is searched
    assert by_kind["table"]["summary"] == table.summary
    assert by_kind["text"]["caption"] is None


def test_budget_cut_is_indexed_partial_and_finished_next_run(tmp_path: Path) -> None:
    corpus(tmp_path, n=2)
    pipe = enrich_pipe(tmp_path, max_items=1)  # per run: one model item
    part = FakePartition()
    before = llm.call_count()
    first = run(pipe, part).report
    assert llm.call_count() == before + 1
    assert sorted(part.calls) == ["doc0.pdf", "doc1.pdf"]
    docs = Store(pipe.index).documents()
    assert [docs[s].status for s in ("doc0.pdf", "doc1.pdf")] == ["partial", "partial"]
    assert first.counts["enrich_pending"] == 2 and first.counts["ok"] == 2
    assert first.status == "ok"  # a budget cut of enrichment is not a failure
    assert docs["doc0.pdf"].chunks > 0  # searchable by its text already

    from commands.status import format_status, gather_status

    st = gather_status(pipe)
    assert st["enrich_pending"] == ["doc0.pdf", "doc1.pdf"] and st["failed"] == [] and st["documents_ok"] == 2
    assert any(line.startswith("enrichment backlog: 2 documents unfinished") for line in format_status(st))

    # later runs pick the partial documents up though their files did not change, from the
    # stored elements, one model item a run, done items from the cache
    for n in range(2, 5):
        part2 = FakePartition()
        calls = llm.call_count()
        report = run(pipe, part2).report
        assert part2.calls == [] and llm.call_count() == calls + 1, n
        assert report.counts["changed"] >= 1 and any("finishing the enrichment" in x for x in report.notes)
    docs = Store(pipe.index).documents()
    assert {d.status for d in docs.values()} == {"ok"}
    for source in docs:
        image, table = stored(pipe.index, source)[1:3]
        assert image.caption is not None
        assert table.summary_model == SMALL_ID or "summary_rejected" in table.meta

    # nothing new: no model call, no partitioning, not even the store opened
    part3 = FakePartition()
    calls = llm.call_count()
    runner = run(pipe, part3)
    assert llm.call_count() == calls and part3.calls == [] and runner._fast
    assert runner.ctx.enrichment.calls == 0


def test_sigterm_during_enrichment_indexes_the_text_now(tmp_path: Path) -> None:
    corpus(tmp_path, n=2)
    pipe = enrich_pipe(tmp_path)

    def ocr_then_sigterm(data: bytes) -> str:  # the signal lands while doc0's caption is made
        os.kill(os.getpid(), signal.SIGTERM)
        return OCR_TEXT

    part = FakePartition()
    before = llm.call_count()
    opts = RunOptions(progress=False, embedder_factory=lambda p: FakeEmbedder(), partition=part, ocr=ocr_then_sigterm)
    report = Runner(pipe, opts).run()
    # both documents were indexed (phase 1) before any model ran; in phase 2 the caption
    # under way finishes and doc0 is committed again with it; the summary is not started
    # and doc1's enrichment waits for the next run
    assert llm.call_count() == before + 1
    assert report.stopped == "SIGTERM" and report.counts["skipped_by_signal"] == 0
    assert report.counts["ok"] == 2 and report.counts["enrich_pending"] == 2
    docs = Store(pipe.index).documents()
    assert sorted(docs) == ["doc0.pdf", "doc1.pdf"]
    assert all(d.status == "partial" and d.chunks > 0 for d in docs.values())
    assert (docs["doc0.pdf"].enrich_left, docs["doc1.pdf"].enrich_left) == (1, 2)
    assert stored(pipe.index, "doc0.pdf")[1].caption is not None
    assert stored(pipe.index, "doc1.pdf")[1].caption is None
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    calls = llm.call_count()
    again = run(pipe, FakePartition()).report  # doc0's summary, doc1's caption and summary
    assert again.status == "ok" and llm.call_count() == calls + 3
    assert {d.status for d in Store(pipe.index).documents().values()} == {"ok"}


def test_prompt_or_model_change_reenriches_from_stored_elements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus(tmp_path)
    pipe = enrich_pipe(tmp_path)
    run(pipe, FakePartition())
    old = stored(pipe.index, "doc0.pdf")

    # a new caption prompt: captions are redone, the summary comes from the cache
    monkeypatch.setattr(captions, "CAPTION_OCR_VERSION", "caption-ocr-test-v2")
    part = FakePartition()
    calls = llm.call_count()
    report = run(pipe, part).report
    assert part.calls == [] and llm.call_count() == calls + 1
    assert any("enrich" in n for n in report.notes)
    # one caption made again; the summary (or its rejection by the checks) came from the cache
    e = report.enrich
    assert e["made"] == 1 and e["failed"] == 0 and e["left"] == 0
    assert e["captions"] + e["summaries"] + e["skipped"] == 2
    total = e["captions"] + e["summaries"]
    # honest counts: "the rest from the cache" was printed even when nothing came from it
    where = "all made now" if total == 1 else f"1 made now, {total - 1} from the cache"
    assert f"enrichment: {e['captions']} captions, {e['summaries']} table summaries ({where})" in (
        report.summary_lines(None)[0]
    )
    assert Store(pipe.index).documents()["doc0.pdf"].status == "ok"

    # another model (same weights under another name: another id): everything is redone
    path = model_path(KNOWN_MODELS[SMALL], pipe.models)
    assert path is not None
    os.symlink(path, tmp_path / "renamed-small.gguf")
    other = enrich_pipe(tmp_path, str(tmp_path / "renamed-small.gguf"))
    part = FakePartition()
    calls = llm.call_count()
    run(other, part)
    assert part.calls == [] and llm.call_count() == calls + 2
    image = stored(pipe.index, "doc0.pdf")[1]
    assert image.caption_model in ("ocr+llm:renamed-small@b179c9523d0e", "ocr:rapidocr")
    assert image.caption_model != old[1].caption_model or image.caption_model == "ocr:rapidocr"

    # and again with nothing new: no model call
    calls = llm.call_count()
    assert run(other, FakePartition())._fast and llm.call_count() == calls


def test_disabled_enrichment_sanitizes_and_switching_it_reuses_stored_elements(tmp_path: Path) -> None:
    corpus(tmp_path)
    pipe = pipeline_for(tmp_path / "src", tmp_path / "idx")
    assert not pipe.enrich.enabled
    part = FakePartition()
    runner = run(pipe, part)
    assert runner.ctx.enrichment.calls == 1  # the same way through the data, no model
    table = stored(pipe.index, "doc0.pdf")[2]
    assert table.html is not None and "<script" not in table.html and "onclick" not in table.html
    assert not (pipe.index / CACHE_FILE).exists() and not (machine_cache_dir() / CACHE_FILE).exists()

    # switched on later: the stored elements are enriched, not partitioned again
    on = enrich_pipe(tmp_path)
    calls = llm.call_count()
    report = run(on, part).report
    assert part.calls == ["doc0.pdf"] and llm.call_count() == calls + 2
    assert any("enrich" in n for n in report.notes)
    assert stored(pipe.index, "doc0.pdf")[1].caption is not None
    # and off again: what it added is gone, no model runs
    calls = llm.call_count()
    run(pipe, part)
    assert part.calls == ["doc0.pdf"] and llm.call_count() == calls
    image = stored(pipe.index, "doc0.pdf")[1]
    assert image.caption is None and "caption_path" not in image.meta

    enriched = dataclasses.replace(table, summary="old", summary_model="m", meta={"summary_sampled": True, "x": 1})
    plain = strip_enrichment(enriched)
    assert plain.summary is None and plain.summary_model is None and plain.meta == {"x": 1}
    assert plain.html == table.html and strip_enrichment(table) is table


def test_store_elements_and_touch_documents(tmp_path: Path) -> None:
    import numpy as np

    store = Store(tmp_path / "idx", dim=16)
    els = [Element(id=f"e{i}", doc_id="d", source="a.pdf", doc_sha256="s1", kind="text", text=f"t{i}",
                   page=1, order=i, bbox=(0.0, 1.0, 2.0, 3.0), section=("A", "B"), caption="c" if i else None,
                   meta={"k": i}) for i in (2, 0, 1)]
    rec = DocRecord(source="a.pdf", sha256="s1", size=10, mtime=1.0, path="/x/a.pdf")
    store.replace_document(rec, els, [], np.zeros((0, 16), dtype=np.float32))
    back = store.elements("a.pdf")
    assert back == sorted(els, key=lambda e: e.order)
    assert store.elements("a.pdf", "other-sha") == [] and store.elements("b.pdf") == []

    store.touch_documents([DocRecord(source="a.pdf", sha256="s1", size=11, mtime=2.0, path="/y/a.pdf")])
    doc = Store(tmp_path / "idx").documents()["a.pdf"]
    assert (doc.size, doc.mtime, doc.path, doc.sha256) == (11, 2.0, "/y/a.pdf", "s1")


def test_partition_result_file_lives_in_the_work_dir(tmp_path: Path) -> None:
    from partition.isolate import run_isolated

    work = tmp_path / "idx" / "tmp"
    work.mkdir(parents=True)
    # the child lists the folder while its result file exists
    names = run_isolated(os.listdir, (str(work),), 30, "probe", work)
    assert len(names) == 1 and names[0].startswith("folio-part-")
    assert os.listdir(work) == []


NOOP_PROBE = """
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from folio.config import EnrichSettings, ModelSettings, Pipeline, Source
from pipeline.runner import Runner, RunOptions
tmp = Path({tmp!r})
pipe = Pipeline(name="test", sources=[Source(path=tmp / "src")], index=tmp / "idx",
                models=ModelSettings(dir=tmp / "models", llm={llm!r}, threads=1, n_ctx=2048),
                enrich=EnrichSettings(enabled=True, caption_max_tokens=20, summary_max_tokens=32))
runner = Runner(pipe, RunOptions(progress=False))
runner.run()
heavy = ("lancedb", "pyarrow", "onnxruntime", "numpy", "pymupdf", "fitz", "llama_cpp", "PIL", "rapidocr")
print(runner._fast, sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy)))
"""


def test_nothing_changed_with_enrichment_on_imports_no_model_code(tmp_path: Path) -> None:
    corpus(tmp_path)
    pipe = enrich_pipe(tmp_path)
    run(pipe, FakePartition())
    probe = NOOP_PROBE.format(repo=str(REPO), tmp=str(tmp_path), llm=SMALL)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "True []", out.stdout + out.stderr
