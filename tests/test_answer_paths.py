"""Which answer path answers (answer/paths.py), with a scripted backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from answer.backends import Prompt
from answer.operands import names_row
from answer.paths import Answerer
from folio.config import AnswerSettings
from tests.test_answer_tables import _block, count


class Scripted:
    """Answers every structured call with ``picks`` in turn and streams ``text``; records the calls."""

    model_id = "scripted"
    kind = "fake"

    def __init__(self, picks: list[dict[str, Any]], text: str) -> None:
        self.picks, self.text = list(picks), text
        self.calls: list[str] = []

    def count_tokens(self, text: str) -> int:
        return count(text)

    def prompt(self, messages: list[dict[str, str]]) -> Prompt:
        return Prompt(messages, messages[-1]["content"], count(messages[-1]["content"]), [])

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        self.calls.append("json")
        return self.picks.pop(0)

    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        self.calls.append("stream")
        yield self.text


def _run(answerer: Answerer) -> Any:
    gen = answerer.run()
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def test_a_failed_computation_is_not_answered_by_one_cell() -> None:
    # Before: the lookup answered "What was the current ratio?" with the cash row's value.
    b = _block(question="current ratio current assets current liabilities")
    backend = Scripted([{"operands": {"current_assets": {"value": "999,999", "block": 1},
                                      "current_liabilities": {"value": "1", "block": 1}}},
                        {"block": 1, "row_label": "Current assets › Cash and cash equivalents",
                         "value_column": "December 31, 2022"}],
                       "The documents do not say.")
    q = "What was the current ratio at December 31, 2022?"
    out = _run(Answerer(backend, "S", AnswerSettings(), [b], q, backend.prompt([{"role": "user", "content": q}])))
    assert backend.calls == ["json", "stream"]  # the computation, then the text path: no lookup
    assert out.path == "plain"


def test_a_row_names_an_operand_by_most_of_its_words() -> None:
    assert names_row("Total current assets", ("current_assets", "total current assets"))
    assert names_row("Net cash provided by operating activities", ("operating_cash_flow",
                                                                     "net cash provided by operating activities"))
    assert not names_row("Other assets", ("current_assets",))  # one shared word is not the row
    assert not names_row("Current liabilities › Accounts payable", ("current_assets",))
    assert not names_row("Other current assets", ("current_assets", "total current assets"))
    assert not names_row("Noncurrent liabilities", ("current_liabilities",))


def _current_ratio(ops: dict[str, Any]) -> tuple[Scripted, Any]:
    b = _block(question="current ratio current assets current liabilities")
    backend = Scripted([{"operands": ops}], "The documents do not say.")
    q = "What was the current ratio at December 31, 2022?"
    out = _run(Answerer(backend, "S", AnswerSettings(), [b], q, backend.prompt([{"role": "user", "content": q}])))
    return backend, out


def test_a_doubted_computation_is_shown_with_its_doubt_not_replaced_by_an_abstention() -> None:
    # The liabilities figure is printed, but in a row that does not name current liabilities.
    backend, out = _current_ratio({"current_assets": {"value": "6,606", "block": 1},
                                   "current_liabilities": {"value": "310", "block": 1}})
    assert backend.calls == ["json"]  # no second model call
    assert out.path == "computed" and "6,606" in out.checked.text and "310" in out.checked.text
    (doubt,) = out.checked.unsupported
    assert str(doubt["reason"]).startswith("not verified") and "current_liabilities" in str(doubt["reason"])


def test_one_figure_read_for_two_operands_goes_to_the_text_path() -> None:
    backend, out = _current_ratio({"current_assets": {"value": "6,606", "block": 1},
                                   "current_liabilities": {"value": "6,606", "block": 1}})
    assert backend.calls == ["json", "stream"] and out.path == "plain"
