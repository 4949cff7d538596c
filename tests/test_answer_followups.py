"""Follow-up rewrites that add nothing (issue 22, item 2): answer/prompts.py checked_rewrite."""

from __future__ import annotations

from answer.numbers import find_numbers
from answer.prompts import checked_rewrite

HISTORY = [("What was the Oak Street shop's revenue in Q3?", "The Oak Street shop's revenue in Q3 was 31.2 [1].")]


def test_a_rewrite_that_invents_a_figure_is_not_searched() -> None:
    # What the small model wrote in the report: a Q4 figure that appears nowhere.
    got = checked_rewrite("What was the revenue in Q4 was 40.8 thousand euros?", "And in Q4?", HISTORY)
    assert got == "What was the Oak Street shop's revenue in Q3? And in Q4?"
    assert "40.8" not in got


def test_a_rewrite_from_the_conversation_is_kept() -> None:
    good = "What was the Oak Street shop's revenue in Q4?"
    assert checked_rewrite(good, "And in Q4?", HISTORY) == good
    # a figure the conversation states may be carried
    assert checked_rewrite("Which shop beat 31.2 in Q4?", "Which shop beat that in Q4?", HISTORY).endswith("Q4?")


def test_a_rewrite_that_adds_words_of_its_own_is_not_searched() -> None:
    got = checked_rewrite("What was the bakery chain's total annual profit in Q4?", "And in Q4?", HISTORY)
    assert got == "What was the Oak Street shop's revenue in Q3? And in Q4?"


def test_the_real_small_model_never_searches_an_invented_figure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SmolLM2-135M rewrites follow-ups through the engine: whatever it writes, the query
    searched carries no figure the conversation or the question did not state."""
    from answer.requests import Ask
    from tests.small_engine import small_engine

    engine = small_engine(tmp_path, "shops.pdf", [
        "The Oak Street shop made 31.2 thousand euros in Q3 and 35.9 thousand euros in Q4.",
        "The Mill Lane shop made 22.4 thousand euros in Q3 and 20.1 thousand euros in Q4.",
    ], max_tokens=40)
    first = engine.answer(Ask("What did the Oak Street shop make in Q3?"))
    said = first["question"] + " " + first["answer"]
    for follow in ("And in Q4?", "And the other shop?"):
        done = engine.answer(Ask(follow, session_id=first["session_id"]))
        known = {abs(n.value) for n in find_numbers(said + " " + follow)}
        assert {abs(n.value) for n in find_numbers(done["standalone_query"])} <= known, done["standalone_query"]
        said += " " + follow + " " + done["answer"]
