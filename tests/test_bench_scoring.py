"""The answer bench's scorer (bench/answer.py ``correct``): a figure gold is matched as a
number, a date gold in either form, and a sentence gold by its content words."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_answer", BENCH / "answer.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


def test_a_sentence_that_mentions_a_date_is_judged_by_its_words(bench: ModuleType) -> None:
    gold = ("The Consumer Health business segment will be treated as a discontinued operation "
            "from August 30, 2023 onward.")
    right = ("The Consumer Health business segment of Johnson & Johnson will be treated as a discontinued "
             "operation from August 30, 2023 onward [2].")
    assert bench.correct(right, gold)
    assert not bench.correct("The Pharmaceutical segment will be sold [1].", gold)


def test_a_date_gold_in_either_form(bench: ModuleType) -> None:
    gold = "01-17-2023 (January 17, 2023)"
    assert bench.correct("It took effect on January 17, 2023 [1].", gold)
    assert not bench.correct("It took effect on December 20, 2021 [1].", gold)


def test_a_figure_gold_as_a_number(bench: ModuleType) -> None:
    assert bench.correct("Inventory days were 52.3 [1].", "52.3 days")
    assert not bench.correct("Inventory days were 53.2 [1].", "52.3 days")
