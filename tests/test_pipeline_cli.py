"""`ingest.py status` and `ingest.py search` on an index built with the fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ingest
from tests.pipeline_fixtures import Counters, make_corpus, pipeline_for, run


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    src, idx = root / "src", root / "idx"
    make_corpus(src, n_pdf=2)
    (src / "broken.pdf").write_bytes(b"")
    run(pipeline_for(src, idx), Counters())
    return idx


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = ingest.main(["--config", "/nonexistent.toml", *args])
    return code, capsys.readouterr().out


def test_status_lists_runs_counts_and_failures(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _main(capsys, "status", "--db", str(index), "--json")
    st = json.loads(out)
    assert code == 0
    assert st["documents_ok"] == 3 and st["chunks"] > 0
    assert [f["source"] for f in st["failed"]] == ["broken.pdf"] and "empty" in st["failed"][0]["error"]
    assert st["runs"][0]["status"] == "partial" and st["runs"][0]["counts"]["failed"] == 1

    code, out = _main(capsys, "status", "--db", str(index))
    assert "3 documents indexed" in out and "broken.pdf:" in out


def test_search_fts_with_filters_and_citations(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _main(capsys, "search", "beta1 results", "--db", str(index), "--mode", "fts", "--json", "-k", "3")
    hits = json.loads(out)
    assert code == 0 and hits
    assert hits[0]["source"] == "doc1.pdf" and 2 in hits[0]["pages"] and "beta1" in hits[0]["text"]

    _, out = _main(capsys, "search", "results", "--db", str(index), "--mode", "fts", "--json",
                   "--doc", "notes.docx")
    assert {h["source"] for h in json.loads(out)} == {"notes.docx"}

    _, out = _main(capsys, "search", "beta1 results", "--db", str(index), "--mode", "fts", "-k", "1",
                   "--kind", "text", "--page", "2")
    assert out.startswith("1. doc1.pdf p") and "[text]" in out.splitlines()[0] and "beta1" in out


def test_search_without_index_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = ingest.main(["--config", "/nonexistent.toml", "search", "x", "--db", str(tmp_path / "none")])
    assert code == 2 and "no index at" in capsys.readouterr().err


def test_source_override_keeps_the_pipeline_globs(tmp_path: Path) -> None:
    import argparse

    from folio.targets import resolve_pipeline

    cfg = tmp_path / "pipelines.toml"
    cfg.write_text('[pipelines.p]\nsources = [{path = ".", exclude = ["**/*.md"]}]\nindex = "idx"\n')
    other = tmp_path / "other"
    other.mkdir()
    args = argparse.Namespace(config=str(cfg), pipeline="p", source=[other], db=tmp_path / "db")
    pipe = resolve_pipeline(args)
    assert [s.path for s in pipe.sources] == [other.resolve()] and pipe.sources[0].exclude == ["**/*.md"]
    assert pipe.index == (tmp_path / "db").resolve() and pipe.name == "p"
