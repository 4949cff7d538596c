"""A question's own definition read into a formula (answer/definitions.py)."""

from __future__ import annotations

import pytest

from answer.arith import evaluate
from answer.definitions import parse, question_definition


@pytest.mark.parametrize("question, formula, phrases", [
    ("What is the FY2022 quick ratio, defined as (cash and cash equivalents + current marketable securities + "
     "accounts receivable, net) divided by total current liabilities? Round to two decimals.",
     "(cash_cash_equivalents + current_marketable_securities + accounts_receivable_net) / total_current_liabilities",
     ["cash and cash equivalents", "current marketable securities", "accounts receivable, net",
      "total current liabilities"]),
    ("How many days of inventory did the shop hold at the end of 2017 (inventories / cost of sales x 365)?",
     "(inventories / cost_sales) * 365", ["inventories", "cost of sales"]),
    ("What was free cash flow, defined as net cash provided by operating activities minus capital spending "
     "(in $ millions)?", "net_cash_provided_operating_activities - capital_spending",
     ["net cash provided by operating activities", "capital spending"]),
    ("What was the debt-to-equity ratio, defined as total debt (short-term debt + long-term debt, less current "
     "portion) divided by total equity?", "(short_term_debt + long_term_debt_less_current) / total_equity",
     ["short-term debt", "long-term debt, less current portion", "total equity"]),
    ("What was the effective tax rate in 2022 (income tax provision / pretax income)?",
     "income_tax_provision / pretax_income", ["income tax provision", "pretax income"]),
    ("What was the margin, i.e. segment operating income divided by segment net sales?",
     "segment_operating_income / segment_net_sales", ["segment operating income", "segment net sales"]),
    ("Using the formula research spending as a percentage of revenue, what was R&D intensity?",
     "research_spending / revenue * 100", ["research spending", "revenue"]),
])
def test_definitions_read_as_formulas(question: str, formula: str, phrases: list[str]) -> None:
    d = question_definition(question)
    assert d is not None and d.formula == formula, d
    assert list(d.operands.values()) == phrases


def test_word_operators_read_left_to_right_and_hyphens_are_not_minus() -> None:
    expr, slots = parse("long-term debt minus cash divided by total equity") or ("", {})
    assert expr == "(long_term_debt - cash) / total_equity"
    assert evaluate(expr, {"long_term_debt": 10, "cash": 4, "total_equity": 3}) == 2.0
    assert slots["long_term_debt"] == "long-term debt"


@pytest.mark.parametrize("question", [
    "What was revenue (in millions) in 2022?",
    "What drove the change in margin (see the MD&A)?",
    "What was the company's revenue in 2022?",
])
def test_no_definition_where_none_is_written(question: str) -> None:
    d = question_definition(question)
    assert d is None or d.formula is None
