"""partition/isolate.py: children come from a clean fork server, with the caller's
environment, and are killed at the time limit."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from folio.errors import DocumentError, DocumentTimeout
from partition.isolate import run_isolated


def _whoami(name: str) -> tuple[int, str | None]:
    return os.getppid(), os.environ.get(name)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _fail() -> None:
    raise ValueError("bad bytes")


def test_child_is_forked_from_the_server_with_the_callers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_isolated(_whoami, ("X",), 60, "warm-up", tmp_path)  # the server now exists
    monkeypatch.setenv("FOLIO_ISOLATE_PROBE", "set after the server started")
    parent, value = run_isolated(_whoami, ("FOLIO_ISOLATE_PROBE",), 60, "probe", tmp_path)
    # Not a fork of this (multi-threaded) process: a fork of the fork server.
    assert parent != os.getpid()
    assert value == "set after the server started"


def test_time_limit_and_errors_name_the_document(tmp_path: Path) -> None:
    with pytest.raises(DocumentTimeout, match="timed out after 1 s"):
        run_isolated(_sleep, (30,), 1, "slow.pdf", tmp_path)
    with pytest.raises(DocumentError, match="ValueError: bad bytes") as err:
        run_isolated(_fail, (), 60, "bad.pdf", tmp_path)
    assert "bad.pdf" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no result files left behind
