"""``run.engine = "ray"``, phase 2: captions and summaries made on Ray actors that load the
model once (pipeline/engines/ray/enrich_pool.py), committed by the driver. Real llama.cpp inference
with SmolLM2-135M on the session's local Ray cluster; OCR is the module-level fake of
tests/test_pipeline_enrich.py (the actors import it by name).

Each test starts from a backlog: the documents indexed by the local engine with every
item left (``enrich.max_items = 0``), as a run cut short in phase 2 leaves them, so that
phase 2 alone runs on Ray (phase 1 on Ray partitions for real; the fake partitioner, with
a picture and a table per document, only runs on the driver)."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from enrich.cache import EnrichCache
from folio import llm
from folio.config import ChunkSettings, Pipeline, RunSettings
from index.store import Store, open_index
from pipeline.report import DocResult
from pipeline.runner import Runner, RunOptions
from tests.pipeline_fixtures import pipeline_for
from tests.ray_fixtures import ray_cluster  # noqa: F401  (fixture)
from tests.s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)
from tests.test_pipeline_enrich import FakePartition, corpus, enrich_pipe, fake_ocr, stored
from tests.test_ray_engine import fake_embedder
from tests.test_s3_index import assert_same, state

SOURCES = ["doc0.pdf", "doc1.pdf", "doc2.pdf"]


def go(pipe: Pipeline, part: FakePartition | None = None, **kw: Any) -> Runner:
    opts = RunOptions(progress=False, embedder_factory=fake_embedder, partition=part or FakePartition(),
                      ocr=fake_ocr, **kw)
    runner = Runner(pipe, opts)
    runner.run()
    return runner


def items(pipe: Pipeline, n: int | None) -> Pipeline:
    return pipe.model_copy(update={"enrich": pipe.enrich.model_copy(update={"max_items": n})})


def backlog(tmp_path: Path, name: str, n: int) -> tuple[Pipeline, Pipeline]:
    """(local engine, Ray engine) pipelines of an index whose ``n`` documents are
    indexed with all their items (a caption and a summary each) left."""
    # each index its own enrichment cache: the engines are compared making the same items
    base = enrich_pipe(tmp_path)
    cache = base.enrich.model_copy(update={"cache_dir": tmp_path / f"enrich-cache-{name}"})
    local = base.model_copy(update={"index": tmp_path / name, "enrich": cache})
    first = go(items(local, 0)).report
    assert first.counts["ok"] == n and first.counts["enrich_pending"] == n, first.to_dict()
    return local, local.model_copy(update={"run": RunSettings(engine="ray")})


def rows(pipe: Pipeline) -> dict[str, tuple[str, int | None]]:
    return {s: (d.status, d.enrich_left) for s, d in Store(pipe.index).documents().items()}


def enrichment(pipe: Pipeline) -> dict[str, list[Any]]:
    return {s: [(e.id, e.caption, e.caption_model, e.summary, e.summary_model) for e in stored(pipe.index, s)]
            for s in Store(pipe.index).documents()}


def test_ray_backfill_matches_local_and_fills_the_drivers_cache(tmp_path: Path, ray_cluster: None) -> None:  # noqa: F811
    corpus(tmp_path, n=2)
    local, _ = backlog(tmp_path, "local", 2)
    _, on_ray = backlog(tmp_path, "ray", 2)
    llm.unload_all()  # the same model state as a fresh actor: the same words
    a = go(local).report
    calls = llm.call_count()
    part = FakePartition()
    b = go(on_ray, part).report
    assert llm.call_count() == calls and part.calls == []  # the model ran on the actor, nothing partitioned
    assert b.status == "ok" and b.enrich == a.enrich and b.enrich["made"] == 4, (a.enrich, b.enrich)
    assert rows(on_ray) == rows(local) == dict.fromkeys(SOURCES[:2], ("ok", 0))
    assert_same(state(on_ray), state(local))
    made = enrichment(on_ray)
    assert made == enrichment(local)
    assert all(els[1][1] for els in made.values())  # each picture has its caption
    # what the actor made is in the driver's cache: a re-chunk (stored elements, cache) runs no model
    assert EnrichCache.for_pipeline(on_ray).count() == EnrichCache.for_pipeline(local).count() == 4
    again = on_ray.model_copy(update={"chunk": ChunkSettings(max_tokens=24)})
    c = go(again).report
    assert c.counts["ok"] == 2 and c.enrich.get("made", 0) == 0 and c.counts["enrich_pending"] == 0, c.to_dict()
    assert rows(again) == dict.fromkeys(SOURCES[:2], ("ok", 0)) and enrichment(again) == made


@pytest.mark.slow  # over a minute on 2 cores: make test stays well under 30 minutes
def test_ray_backfill_cut_by_the_item_budget_resumes_next_run(tmp_path: Path, ray_cluster: None) -> None:  # noqa: F811
    corpus(tmp_path, n=3)
    _, on_ray = backlog(tmp_path, "idx", 3)
    # one actor takes the documents in order, as the local engine does
    first = go(items(on_ray, 3)).report
    assert first.enrich["made"] == 3 and first.counts["enrich_pending"] == 2, first.to_dict()
    assert rows(on_ray) == {"doc0.pdf": ("ok", 0), "doc1.pdf": ("partial", 1), "doc2.pdf": ("partial", 2)}
    # two actors: the limit is the pool's (a shared gate), not each actor's
    two = on_ray.model_copy(update={"run": RunSettings(engine="ray", enrich_actors=2)})
    second = go(items(two, 2)).report
    assert second.enrich["made"] == 2 and sum(left or 0 for _, left in rows(on_ray).values()) == 1
    part = FakePartition()
    third = go(on_ray, part).report
    assert part.calls == [] and third.enrich["made"] == 1 and third.status == "ok"
    assert rows(on_ray) == dict.fromkeys(SOURCES, ("ok", 0))
    assert go(on_ray)._fast  # nothing left: the fast path


@pytest.mark.slow  # over a minute on 2 cores: make test stays well under 30 minutes
def test_sigterm_and_deadline_stop_the_ray_backfill(tmp_path: Path, ray_cluster: None) -> None:  # noqa: F811
    corpus(tmp_path, n=3)
    _, on_ray = backlog(tmp_path, "idx", 3)

    sent: list[str] = []

    def term(result: DocResult) -> None:  # the first document re-committed: SIGTERM (once:
        if not sent:  # a second one ends the process)
            sent.append(result.source)
            signal.raise_signal(signal.SIGTERM)

    first = go(on_ray, on_document=term).report
    assert first.stopped == "SIGTERM" and first.status == "partial", first.to_dict()
    assert first.counts["skipped_by_signal"] >= 1  # not sent to an actor: left as it was
    after = rows(on_ray)
    assert after["doc0.pdf"] == ("ok", 0) and after["doc2.pdf"] == ("partial", 2)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    # a budget that ends during the run: the actors start no item after it, the run ends
    # (here: all documents sent before it, one item left undone); how far it gets depends
    # on the machine, that it ends soon after it does not
    second = go(on_ray, max_minutes=0.1).report
    assert second.status in ("ok", "partial") and second.stopped in (None, "budget"), second.to_dict()
    assert second.finished is not None and second.finished - second.started < 6 + 20
    left = rows(on_ray)
    assert all(st in ("ok", "partial") for st, _ in left.values())

    part = FakePartition()
    third = go(on_ray, part).report
    assert part.calls == [] and third.status == "ok"
    assert rows(on_ray) == dict.fromkeys(SOURCES, ("ok", 0))
    # each item was made once over the three runs (a cut item is not paid twice)
    made = sum(r.enrich.get("made", 0) for r in (first, second, third))
    assert made == 6 and EnrichCache.for_pipeline(on_ray).count() == 6


def test_ray_backfill_of_a_remote_index_sends_pictures_from_the_object_store(
    tmp_path: Path, ray_cluster: None, s3_bucket: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "cache"))  # the remote index's local folder
    corpus(tmp_path, n=1)
    base = enrich_pipe(tmp_path)
    remote = pipeline_for(tmp_path / "src", f"{s3_bucket}/idx", models=base.models, enrich=base.enrich)  # type: ignore[arg-type]
    assert remote.remote is not None
    first = go(items(remote, 0)).report
    assert first.counts["ok"] == 1 and first.counts["enrich_pending"] == 1, first.to_dict()
    shutil.rmtree(remote.assets_dir)  # this machine's copies: the object store keeps the pictures
    on_ray = remote.model_copy(update={"run": RunSettings(engine="ray")})
    report = go(on_ray).report
    # the caption too (an unreadable picture would be skipped, and only the summary made)
    assert report.enrich["made"] == 2 and report.enrich["skipped"] == 0, report.enrich
    docs = open_index(on_ray).documents()
    assert {s: (d.status, d.enrich_left) for s, d in docs.items()} == {"doc0.pdf": ("ok", 0)}


@pytest.mark.slow  # the other tests here already take ~50 s; this one ~10-30 s more
def test_documents_still_on_actors_after_the_stop_grace_are_left(
    tmp_path: Path, ray_cluster: None, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    from pipeline.engines.ray import enrich_pool as ray_enrich

    monkeypatch.setattr(ray_enrich, "STOP_GRACE_S", 0.0)  # the driver's: nothing waits for the actors
    corpus(tmp_path, n=2)
    _, on_ray = backlog(tmp_path, "idx", 2)
    sent: list[str] = []

    def term(result: DocResult) -> None:
        if not sent:
            sent.append(result.source)
            signal.raise_signal(signal.SIGTERM)

    report = go(on_ray, on_document=term).report
    # doc1 was on the actor with doc0 (two per actor): not waited for, not committed
    assert sent == ["doc0.pdf"] and report.stopped == "SIGTERM" and report.counts["skipped_by_signal"] == 1
    assert any("still on Ray actors" in n for n in report.notes), report.notes
    assert rows(on_ray) == {"doc0.pdf": ("ok", 0), "doc1.pdf": ("partial", 2)}
    assert go(on_ray).report.status == "ok" and rows(on_ray) == dict.fromkeys(SOURCES[:2], ("ok", 0))


def test_a_document_that_cannot_be_sent_is_noted_and_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.engines.ray import enrich_pool as ray_enrich

    def broken(runner: Any, task: Any, *a: Any, **kw: Any) -> Any:
        if task.entry.source == "doc0.pdf":
            raise OSError("picture store unreachable")
        return None  # doc1: nothing for an actor (so no Ray at all in this test)

    monkeypatch.setattr(ray_enrich, "_job", broken)
    corpus(tmp_path, n=2)
    _, on_ray = backlog(tmp_path, "idx", 2)
    report = go(on_ray).report
    assert report.status == "ok" and report.enrich.get("made", 0) == 0
    assert any(n.startswith("enrichment of doc0.pdf failed") and "picture store unreachable" in n
               for n in report.notes), report.notes
    assert rows(on_ray) == dict.fromkeys(SOURCES[:2], ("partial", 2))
