"""Team state travels with the index (issue 21, item 4), with every part real: one index on
the S3 server (moto), two app servers (serve.py over HTTP) each with its own machine
folder, the nightly run as a CLI subprocess on a third machine folder with a clean
environment, and chat sessions in a PostgreSQL server the test starts.

A caption corrected on server A is visible on server B (the overlay, its audit row, the
corrected text in search); a nightly run on machine C re-ingests the changed document and
re-applies that correction to the element that replaced it, which B then shows; a
conversation started on A continues on B. Before this, the overlays lived in SQLite in
each machine's own folder: B showed no overlay, and C's run dropped the correction.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app_fixtures import PIPELINE, server, write_config
from tests.pg_fixtures import pg_server, pg_url  # noqa: F401  (fixtures)
from tests.ray_head import clean_env, run_cli
from tests.s3_fixtures import S3_ENV, moto_endpoint, s3_bucket  # noqa: F401  (fixtures)

MEMO = "warehouse-memo.docx"
CAPTION = "Photo of the Tromso loading bay in the Platypian style, corrected on server A."


def _until(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """``check()`` once it is truthy (readers see another process's commit within seconds)."""
    deadline = time.time() + seconds
    while True:
        got = check()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError(f"{what}: not seen within {seconds} s")
        time.sleep(0.5)


def _images(base: str) -> list[dict[str, Any]]:
    r = httpx.get(base + "/api/review/elements", params={"source": MEMO, "kind": "image"}, timeout=30)
    assert r.status_code == 200, r.text
    return list(r.json()["elements"])


def _element(base: str, element_id: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/api/review/elements/{element_id}", timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _found(base: str, q: str, element_id: str) -> bool:
    hits = httpx.get(base + "/api/search", params={"q": q, "k": 5}, timeout=60).json()["hits"]
    return any(element_id in h["element_ids"] for h in hits)


def _ask(base: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(base + "/api/ask", json={"k": 2, **body}, timeout=300)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.slow  # an ingest, two app servers and a nightly run, each loading the embedder (~3-4 min)
def test_an_edit_on_server_a_reaches_server_b_and_the_nightly_run_elsewhere(
    tmp_path: Path, s3_bucket: str, pg_url: str  # noqa: F811
) -> None:
    import docx

    cfg = write_config(tmp_path / "app", index=f"{s3_bucket}/team/idx", only=MEMO, enrich=False)
    s3 = {**S3_ENV, "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"]}

    def machine(name: str) -> dict[str, str]:
        # HOME is the user's: the embedder's ONNX export is cached there (a model file, the
        # same on every machine); what is a machine's own state has its own folder here.
        return clean_env(Path.home(), FOLIO_CACHE_DIR=str(tmp_path / name / "cache"),
                         FOLIO_ENRICH_CACHE=str(tmp_path / name / "enrich"), HF_HUB_OFFLINE="1", **s3)

    first = run_cli(["--config", str(cfg), "run", "--pipeline", PIPELINE], machine("ingest"), timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr

    shared = {"FOLIO_DATABASE_URL": pg_url}
    with server(cfg, env={**machine("a"), **shared}) as a, server(cfg, env={**machine("b"), **shared}) as b:
        pic = _images(a)[0]
        before = _element(b, pic["element_id"])
        assert before["overlay"] is None and before["caption"] != CAPTION

        r = httpx.post(f"{a}/api/review/elements/{pic['element_id']}", json={"field": "caption", "value": CAPTION},
                       timeout=120)
        assert r.status_code == 200, r.text

        # B: the overlay and its audit row at once (read from the index's store), the text soon
        seen = _element(b, pic["element_id"])
        assert seen["overlay"] and seen["overlay"]["values"]["caption"] == CAPTION
        assert seen["audit"] and seen["audit"][0]["new"] == CAPTION and seen["audit"][0]["action"] == "edit"
        _until(lambda: _element(b, pic["element_id"])["caption"] == CAPTION, "the caption on B")
        _until(lambda: _found(b, "Platypian loading bay", pic["element_id"]), "the caption in B's search")

        # a conversation started on A goes on on B (one PostgreSQL database behind both)
        one = _ask(a, {"question": "Where is the warehouse loading bay?"})
        two = _ask(b, {"question": "When did it open?", "session_id": one["session_id"]})
        assert two["session_id"] == one["session_id"]
        turns = httpx.get(f"{a}/api/sessions/{one['session_id']}", timeout=30).json()["turns"]
        assert [t["question"] for t in turns] == ["Where is the warehouse loading bay?", "When did it open?"]

        # the nightly run on a third machine: the memo changed, so its elements are new ones
        path = cfg.parent / "docs" / MEMO
        d = docx.Document(str(path))
        d.add_paragraph("Added after the review: the memo was revised.")
        d.save(str(path))
        night = run_cli(["--config", str(cfg), "run", "--pipeline", PIPELINE], machine("c"), timeout=600)
        assert night.returncode == 0, night.stdout + night.stderr
        assert "review: 1 edits re-applied" in night.stdout, night.stdout

        new = _until(lambda: [e for e in _images(b) if e["element_id"] != pic["element_id"]], "the re-ingest on B")
        after = _element(b, new[0]["element_id"])
        assert after["content_hash"] == before["content_hash"] and after["caption"] == CAPTION
        assert after["overlay"]["element_id"] == after["id"]
        _until(lambda: _found(b, "Platypian loading bay", after["id"]), "the re-applied caption in B's search")
