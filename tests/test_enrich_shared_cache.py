"""The enrichment cache is one per machine: a second index of the same files makes no model
call. Real llama.cpp (SmolLM2-135M), real LanceDB indexes; the cache folder is the test's
own (FOLIO_ENRICH_CACHE, tests/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enrich.cache import CACHE_FILE, EnrichCache, machine_cache_dir
from folio import llm
from tests.app_fixtures import REPO, SMALL_LLM
from tests.test_pipeline_enrich import FakePartition, corpus, enrich_pipe, run, stored


def test_a_second_index_of_the_same_files_makes_no_model_call(tmp_path: Path) -> None:
    corpus(tmp_path)
    first = enrich_pipe(tmp_path)
    a = run(first, FakePartition()).report
    assert a.enrich["made"] > 0 and a.enrich["made"] == a.enrich["captions"] + a.enrich["summaries"]
    calls = llm.call_count()
    second = first.model_copy(update={"index": tmp_path / "idx2"})
    b = run(second, FakePartition()).report
    assert llm.call_count() == calls and b.enrich["made"] == 0
    assert b.enrich["captions"] == a.enrich["captions"] and b.enrich["summaries"] == a.enrich["summaries"]
    assert [e.caption for e in stored(second.index, "doc0.pdf")] == [e.caption for e in stored(first.index, "doc0.pdf")]
    # one file, in the machine's folder, none in either index
    assert (machine_cache_dir() / CACHE_FILE).exists()
    assert not (first.index / CACHE_FILE).exists() and not (second.index / CACHE_FILE).exists()


def test_an_index_of_its_own_cache_is_moved_into_the_machines(tmp_path: Path) -> None:
    pipe = enrich_pipe(tmp_path)
    old = EnrichCache.in_index(pipe.index)  # what earlier versions kept beside the index
    old.put("summary", "c1", "m", "v1", {"text": "paid for"})
    old.close()
    cache = EnrichCache.for_pipeline(pipe)
    assert cache.path == machine_cache_dir() / CACHE_FILE
    assert cache.get("summary", "c1", "m", "v1") == {"text": "paid for"}
    assert not (pipe.index / CACHE_FILE).exists() and not (pipe.index / f"{CACHE_FILE}-wal").exists()
    own = pipe.model_copy(update={"enrich": pipe.enrich.model_copy(update={"cache_dir": tmp_path / "mine"})})
    assert EnrichCache.for_pipeline(own).path == tmp_path / "mine" / CACHE_FILE


@pytest.mark.slow
def test_two_db_folders_from_the_command_line(tmp_path: Path) -> None:
    """The real CLI and partitioners on the samples, twice: the second index's summary line
    says every caption and summary came from the cache."""
    cfg = tmp_path / "pipelines.toml"
    cfg.write_text(f"""
[pipelines.p]
sources = [{{ path = "{REPO / 'samples' / 'docs'}" }}]
index = "unused"
[pipelines.p.models]
llm = "{SMALL_LLM}"
[pipelines.p.enrich]
enabled = true
caption_max_tokens = 24
summary_max_tokens = 32
""")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "LANG": "C.UTF-8",
           "FOLIO_ENRICH_CACHE": str(tmp_path / "machine-cache")}
    lines = []
    for db in ("db1", "db2"):
        done = subprocess.run([sys.executable, str(REPO / "ingest.py"), "run", "--config", str(cfg), "--pipeline", "p",
                               "--db", str(tmp_path / db)], env=env, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stderr
        lines.append(done.stdout.splitlines()[0])
    assert "(all made now)" in lines[0], lines
    assert "(all from the cache)" in lines[1], lines
    report = json.loads((tmp_path / "db2" / "reports" / "last.json").read_text())
    assert report["enrich"]["made"] == 0 and report["enrich"]["captions"] + report["enrich"]["summaries"] > 0
