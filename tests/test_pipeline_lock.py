"""The run lock: a second run exits 3 naming the holder; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ingest
from pipeline.lock import LockedError, RunLock
from tests.pipeline_fixtures import REPO, Counters, make_corpus, pipeline_for, run

HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from pipeline.lock import RunLock
lock = RunLock(__import__("pathlib").Path({path!r}))
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def held_lock(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "idx" / "run.lock"
    path.parent.mkdir(parents=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(repo=str(REPO), path=str(path))], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_second_run_exits_3_and_names_the_holder(tmp_path: Path, held_lock, capsys) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    make_corpus(src, n_pdf=1, with_docx=False)
    with pytest.raises(LockedError) as err:
        RunLock(tmp_path / "idx" / "run.lock").acquire()
    assert f"pid {held_lock.pid}" in str(err.value)

    t0 = time.time()
    code = ingest.main(["--config", str(tmp_path / "none.toml"), "run", "--source", str(src),
                        "--db", str(tmp_path / "idx")])
    assert code == 3
    assert time.time() - t0 < 5  # exits at once, does not wait
    msg = capsys.readouterr().err
    assert f"pid {held_lock.pid}" in msg and "since" in msg


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    src, index = tmp_path / "src", tmp_path / "idx"
    make_corpus(src, n_pdf=1, with_docx=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    index.mkdir()
    (index / "run.lock").write_text(json.dumps({"pid": dead.pid, "host": "h", "started_at": 1.0}))
    with caplog.at_level(logging.WARNING, logger="pipeline.lock"):
        report = run(pipeline_for(src, index), Counters()).report
    assert report.status == "ok" and report.counts["ok"] == 1
    assert any("stale lock" in r.getMessage() and str(dead.pid) in r.getMessage() for r in caplog.records)
    assert (index / "run.lock").read_text() == ""  # released at the end
