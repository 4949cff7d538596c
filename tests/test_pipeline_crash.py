"""Interrupted runs: SIGKILL mid-run, SIGTERM after the current document, time budget,
configuration errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import ingest
from index.store import Store
from pipeline.cli import exit_code
from pipeline.report import DocResult
from tests.pipeline_fixtures import REPO, Counters, chunk_rows, kill_after_first_commit, make_corpus, pipeline_for, run


def _ingest(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "ingest.py"), "--config", "/nonexistent.toml", *args]


# The real embedder in two CLI processes (~15-45 s): in the default run on purpose, a
# killed nightly run that resumes cleanly is the promise cron users rely on.
def test_sigkill_mid_run_then_rerun_is_complete(tmp_path: Path) -> None:
    """Real embedder, real CLI: kill -9 once a document is committed, run again."""
    src, index = tmp_path / "src", tmp_path / "idx"
    files = make_corpus(src, n_pdf=6, with_docx=False)
    cmd = _ingest("-v", "run", "--source", str(src), "--db", str(index))
    assert kill_after_first_commit(cmd, cwd=tmp_path) == -signal.SIGKILL
    interrupted = Store(index).documents()
    assert 1 <= len(interrupted) < len(files)  # really killed in the middle

    done = subprocess.run(_ingest("run", "--source", str(src), "--db", str(index)),
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # stderr is a pipe, as in a cron log: one plain line per document, no bar, no \r or colours
    indexed = [line.split(": ")[2].split(" (")[0] for line in done.stderr.splitlines() if "] indexed: " in line]
    assert sorted(indexed) == sorted(set(files) - set(interrupted)), done.stderr
    assert "\r" not in done.stderr and "\x1b" not in done.stderr and "doc/s" not in done.stderr
    docs = Store(index).documents()
    assert sorted(docs) == sorted(files) and all(d.status == "ok" for d in docs.values())
    rows = chunk_rows(index)
    ids = Counter(r["id"] for r in rows)
    assert ids and max(ids.values()) == 1  # no duplicate chunk rows
    assert {r["source"] for r in rows} == set(files)
    # every chunk row belongs to the committed version of its document
    assert all(r["doc_sha256"] == docs[r["source"]].sha256 for r in rows)


def test_sigterm_stops_after_current_document(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=4, with_docx=False)
    pipe = pipeline_for(src, index)
    finished: list[str] = []

    def on_document(result: DocResult) -> None:
        finished.append(result.source)
        if len(finished) == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    runner = run(pipe, Counters(), on_document=on_document)
    report = runner.report
    assert report.stopped == "SIGTERM" and report.status == "partial"
    assert report.counts["ok"] == 1 and report.counts["skipped_by_signal"] == 3
    assert exit_code(report.status, report.stopped, report.counts["failed"]) == 1
    assert "stopped by SIGTERM, 3 documents left" in report.summary_lines(runner.report_path)[0]
    assert len(Store(index).documents()) == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored

    c = Counters()
    rest = run(pipe, c).report
    assert rest.status == "ok" and len(c.partitioned) == 3 and rest.counts["unchanged"] == 1


def test_time_budget_leaves_the_rest_for_the_next_run(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=2, with_docx=False)
    pipe = pipeline_for(src, index)
    c = Counters()
    report = run(pipe, c, max_minutes=1e-6).report
    assert report.stopped == "budget" and report.counts["skipped_by_budget"] == 2 and c.partitioned == []
    assert "time budget used up, 2 documents left" in report.summary_lines(None)[0]
    c2 = Counters()
    assert run(pipe, c2).report.counts["ok"] == 2 and len(c2.partitioned) == 2


def test_config_error_exits_2_naming_the_key(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "pipelines.toml"
    cfg.write_text('[pipelines.default]\nsources = [{path = "."}]\nindex = "idx"\n'
                   "[pipelines.default.run]\nmax_minute = 5\n")
    assert ingest.main(["--config", str(cfg), "run"]) == 2
    err = capsys.readouterr().err
    assert "pipelines.default.run.max_minute" in err and "max_minutes" in err

    cfg.write_text('[pipelines.default]\nsources = [{path = "missing"}]\nindex = "idx"\n')
    assert ingest.main(["--config", str(cfg), "run"]) == 2
    assert "pipelines.default.sources" in capsys.readouterr().err
