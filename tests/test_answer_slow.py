"""The default 1.5B model answering from the samples (``pytest -m slow``): a figure from a
table with its citation, and a follow-up that only makes sense with the conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app_fixtures import PIPELINE, ingest, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from answer.engine import Engine
    from folio.config import load_config

    cfg = write_config(tmp_path_factory.mktemp("slow"), llm="qwen2.5-coder-1.5b-q4_k_m")
    res = ingest(cfg)
    assert res.returncode == 0, res.stderr
    return Engine.load(load_config(cfg).pipeline(PIPELINE))


def test_a_table_figure_is_answered_and_cited(engine) -> None:  # type: ignore[no-untyped-def]
    from answer.requests import Ask

    r = engine.answer(Ask("How many staff work the late shift?"))
    assert "15" in r["answer"], r["answer"]
    assert any(c["source"] == "warehouse-memo.docx" and c["kind"] == "table" for c in r["citations"]), r
    assert not r["unsupported"]


def test_a_follow_up_uses_the_conversation(engine) -> None:  # type: ignore[no-untyped-def]
    from answer.requests import Ask

    first = engine.answer(Ask("How many staff work the late shift?"))
    second = engine.answer(Ask("And the early shift?", session_id=first["session_id"]))
    q = second["standalone_query"].lower()
    assert "early" in q and ("staff" in q or "how many" in q), q
    assert "18" in second["answer"], second["answer"]


def test_the_answer_is_not_made_up_when_the_documents_do_not_say(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from answer.requests import Ask

    r = engine.answer(Ask("Who is the chief executive of Northwind and what is their salary?"))
    assert r["abstained"] or not r["citations"] or not any(ch.isdigit() for ch in r["answer"]), r["answer"]
