"""The answer is checked sentence by sentence before it is shown: what streams is exactly
the final answer, whatever the pieces the model writes in."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from answer.context import Block, Unit
from answer.prompts import NOT_FOUND
from answer.stream import CheckedStream


def _blocks() -> list[Block]:
    hit = SimpleNamespace(element_ids=("e1",), kind="text", source="a.pdf", pages=(1,), section=())
    return [
        Block(1, hit, "a.pdf, page 1", [Unit("Revenue was 1,234.5 million in 2022.", "e1")]),  # type: ignore[arg-type]
        Block(2, hit, "a.pdf, page 2", [Unit("The company sells pumps in Ohio and Texas.", "e1")]),  # type: ignore[arg-type]
    ]


def _run(answer: str, step: int) -> tuple[list[str], CheckedStream]:
    stream = CheckedStream(_blocks(), "What was revenue in 2022?")
    shown: list[str] = []
    for i in range(0, len(answer), step):
        shown += list(stream.feed(answer[i:i + step]))
    shown += list(stream.close())
    return shown, stream


@pytest.mark.parametrize("step", [1, 3, 7, 1000])
def test_streamed_text_is_the_final_answer(step: int) -> None:
    shown, stream = _run("Revenue was 1,234.5 million [1]. It sells pumps in Ohio and Texas [2].", step)
    final = stream.checked()
    assert "".join(shown) == final.text
    assert final.cited == [1, 2]
    assert len(shown) == 2  # sentence by sentence, not token by token


def test_a_citation_moves_to_the_block_that_holds_the_figure() -> None:
    shown, stream = _run("Revenue was 1,234.5 million [2].", 4)
    assert "".join(shown) == "Revenue was 1,234.5 million [1]."
    assert stream.checked().cited == [1]


def test_markers_after_the_full_stop_stay_with_their_sentence() -> None:
    shown, stream = _run("Revenue was 1,234.5 million. [1] Pumps are sold in Ohio [2].", 2)
    assert shown[0] == "Revenue was 1,234.5 million [1]."
    assert "".join(shown) == stream.checked().text


def test_a_guess_is_never_shown() -> None:
    shown, stream = _run("Revenue was 999 million [1].", 5)
    final = stream.checked()
    assert shown == [NOT_FOUND] and final.text == NOT_FOUND
    assert final.abstained and final.draft and final.unsupported[0]["figures"] == ["999 million"]  # with its scale word


def test_an_unsupported_sentence_is_shown_flagged_once_a_cited_one_follows() -> None:
    shown, stream = _run("Revenue was 999 [1]. Revenue was 1,234.5 million [1].", 6)
    final = stream.checked()
    assert "".join(shown) == final.text == "Revenue was 999. Revenue was 1,234.5 million [1]."
    assert [u["figures"] for u in final.unsupported] == [["999"]]


def test_an_abstention_stops_the_stream() -> None:
    shown, stream = _run("The documents do not say. But revenue was 1,234.5 [1].", 3)
    assert shown == [NOT_FOUND]
    assert stream.stopped and stream.checked().abstained


def test_the_real_small_model_streams_checked_sentences(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SmolLM2-135M through the engine and every answer path: the token events joined are
    exactly the done event's answer, and every citation names a retrieved block."""
    from answer.requests import Ask
    from tests.small_engine import small_engine

    engine = small_engine(tmp_path, "pumps.pdf", [
        "The old pump failed in March 2021. Repairs took three weeks.",
        "Pump costs were 4,200 euros in 2021 and 3,900 euros in 2022.",
    ])
    for question in ("What did pumps cost in 2021?", "When did the old pump fail?"):
        tokens: list[str] = []
        done: dict[str, object] = {}
        for ev in engine.ask(Ask(question)):
            if ev.kind == "token":
                tokens.append(ev.data)
            elif ev.kind == "done":
                done = ev.data
        assert "".join(tokens) == done["answer"]
        assert done["path"] in ("computed", "lookup", "extract", "plain")
        blocks = {c["n"] for c in done["citations"]}  # type: ignore[attr-defined]
        assert all(f"[{n}]" in str(done["answer"]) for n in blocks)
