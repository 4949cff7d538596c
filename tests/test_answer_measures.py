"""The measures catalogue (answer/measures.toml), finding the measure a question asks for,
and telling computations from lookups. Phrasings written here, not taken from any eval set."""

from __future__ import annotations

from pathlib import Path

import pytest

from answer.arith import evaluate, names
from answer.measures import CATALOGUE_FILE, MeasureError, find_measure, load_catalogue, needs_arithmetic

REQUIRED = [
    "gross margin", "operating margin", "net margin", "EBITDA margin", "return on assets", "return on equity",
    "current ratio", "quick ratio", "cash ratio", "debt-to-equity ratio", "debt-to-assets ratio",
    "interest coverage ratio", "asset turnover", "inventory turnover", "receivables turnover",
    "days sales outstanding", "days inventory outstanding", "days payables outstanding", "cash conversion cycle",
    "year-over-year growth", "compound annual growth rate", "free cash flow", "free cash flow margin",
    "capital expenditure intensity", "dividend payout ratio", "effective tax rate", "earnings per share",
    "working capital", "difference", "percent change", "ratio", "average", "share of total", "sum",
]


def test_the_catalogue_holds_the_standard_measures_and_each_formula_evaluates() -> None:
    cat = load_catalogue()
    have = {m.name for m in cat.measures}
    assert set(REQUIRED) <= have, set(REQUIRED) - have
    for m in cat.measures:
        assert m.formula and names(m.formula) == set(m.operands), m.name
        assert m.unit in ("ratio", "percent", "days", "currency", "times", "number")
        assert all(m.operands.values()) and m.note, m.name
        # Every formula computes on plausible positive operands (years apart for CAGR).
        ops = {k: float(i + 2) for i, k in enumerate(sorted(m.operands))}
        ops.update({"start_year": 2019.0, "end_year": 2023.0})
        evaluate(m.formula, {k: ops[k] for k in m.operands})


def test_textbook_values() -> None:
    cat = load_catalogue()
    cr = cat.get("current ratio")
    assert cr is not None and cr.formula
    assert round(evaluate(cr.formula, {"current_assets": 300.0, "current_liabilities": 150.0}), 2) == 2.0
    cagr = cat.get("compound annual growth rate")
    assert cagr is not None and cagr.formula
    v = evaluate(cagr.formula, {"beginning": 100.0, "ending": 121.0, "start_year": 2020.0, "end_year": 2022.0})
    assert round(v, 6) == 10.0
    dso = cat.get("days sales outstanding")
    assert dso is not None and dso.formula
    assert evaluate(dso.formula, {"receivables_begin": 90.0, "receivables_end": 110.0, "revenue": 730.0}) == 50.0


@pytest.mark.parametrize("question, measure", [
    ("How liquid was the firm: what was its current ratio at fiscal year end 2023?", "current ratio"),
    ("Work out the acid-test ratio as of June 30.", "quick ratio"),
    ("What net profit margin did the retailer earn in FY24?", "net margin"),
    ("Gross margin for the third quarter?", "gross margin"),
    ("What is the EBIT margin for the services segment?", "operating margin"),
    ("Compute ROE for 2022.", "return on equity"),
    ("What was the D/E ratio at year end?", "debt-to-equity ratio"),
    ("How many times did operating income cover interest expense (times interest earned)?",
     "interest coverage ratio"),
    ("What were inventory turns last year?", "inventory turnover"),
    ("What is the DSO for the year ended 2021?", "days sales outstanding"),
    ("Estimate the cash conversion cycle in days.", "cash conversion cycle"),
    ("What was the YoY growth in subscription revenue?", "year-over-year growth"),
    ("What was the 5-year CAGR of net sales?", "compound annual growth rate"),
    ("What was FCF in fiscal 2023?", "free cash flow"),
    ("What was capex as a percentage of revenue in 2022?", "capital expenditure intensity"),
    ("What is the payout ratio for 2020?", "dividend payout ratio"),
    ("What was the net working capital at the end of the period?", "working capital"),
    ("By what percent did the number of visitors rise between 2019 and 2020?", "percent change"),
    ("How much did rainfall in July exceed rainfall in June?", "difference"),
    ("How much more did the north plant produce than the south plant?", "difference"),
    ("What is the percentage change in headcount from 2021 to 2022?", "percent change"),
    ("What was the change in unearned revenue from last year, in percent?", "percent change"),
    ("What share of total energy use came from wind?", "share of total"),
    ("What is the combined capacity of the two reservoirs?", "sum"),
    ("What is the average of the three readings across the sites?", "average"),
    ("How did the revenue grow year over year in 2022?", "year-over-year growth"),
    ("How many more visitors did the north gate count than the south gate?", "difference"),
    ("By how many percentage points did the pass rate beat the baseline?", "difference"),
    ("How many times faster is the new parser than the old one?", "ratio"),
])
def test_find_measure(question: str, measure: str) -> None:
    m = find_measure(question)
    assert m is not None and m.name == measure, (question, m and m.name)


def test_a_question_that_defines_its_measure_overrides_the_catalogue() -> None:
    m = find_measure("What is the current ratio, defined as current assets minus inventories divided by current "
                     "liabilities, for 2021?")
    # Spoken left to right: the subtraction is grouped before the division.
    assert m is not None and m.source == "question"
    assert m.formula == "(current_assets - inventories) / current_liabilities"
    m = find_measure("What was the leverage, calculated as total liabilities divided by total equity, in 2022?")
    assert m is not None and m.source == "question" and m.name == "leverage"
    assert m.formula == "total_liabilities / total_equity"
    m = find_measure("Using the formula research spending as a percentage of revenue, what was R&D intensity?")
    assert m is not None and m.formula == "research_spending / revenue * 100" and m.unit == "percent"
    m = find_measure("What is net debt defined as total borrowings less cash?")
    assert m is not None and m.formula == "total_borrowings - cash" and m.name == "net debt"


@pytest.mark.parametrize("question", [
    "What was the current ratio in 2023?",
    "What was the company's operating margin last year?",
    "By how much did the cost of sales rise from 2021 to 2022?",
    "How much did total assets grow between 2020 and 2021?",
    "What is the revenue per employee for the fiscal year?",
    "What is the ratio of long-term debt to total capital?",
    "What percentage of total revenue did the cloud segment contribute?",
    "What was the year-over-year change in R&D expense?",
    "What was the average daily output over the three shifts?",
    "Compute diluted EPS from net income and the diluted share count.",
    "What is the 3-year CAGR of operating income?",
    "How many days of inventory did the company hold at year end?",
    "What was the price-to-book multiple, defined as share price divided by book value per share?",
    "Calculate the growth of the membership from 2018 to 2023.",
])
def test_needs_arithmetic(question: str) -> None:
    assert needs_arithmetic(question), question


@pytest.mark.parametrize("question", [
    "What was total revenue in fiscal 2022?",
    "Who is the chief financial officer?",
    "How many employees did the company have at year end?",
    "Why did gross margin decline in 2023?",
    "What drove the increase in operating expenses?",
    "Which segment had the highest operating margin?",
    "Describe the company's growth strategy.",
    "What was diluted EPS for 2021?",  # printed on the income statement: a lookup
    "What was the effective tax rate in 2020?",  # printed in the tax note
    "What was the weighted average number of diluted shares outstanding?",
    "List the main risk factors.",
    "What does the warranty cover?",
    "What were the changes to the board in 2022?",
])
def test_not_arithmetic(question: str) -> None:
    assert not needs_arithmetic(question), question


def test_a_pipeline_catalogue_adds_and_replaces(tmp_path: Path) -> None:
    own = tmp_path / "measures.toml"
    own.write_text(
        '[[measure]]\nname = "current ratio"\nformula = "ca / cl"\nunit = "ratio"\nnote = "ours"\n'
        '[measure.operands]\nca = ["current assets"]\ncl = ["current liabilities"]\n\n'
        '[[measure]]\nname = "occupancy rate"\naliases = ["occupancy"]\nformula = "occupied / available * 100"\n'
        'unit = "percent"\nnote = "rooms"\n[measure.operands]\noccupied = ["rooms sold"]\n'
        'available = ["rooms available"]\n', encoding="utf-8")
    cat = load_catalogue(own)
    assert len(cat.measures) == len(load_catalogue().measures) + 1
    cr = find_measure("What was the current ratio?", cat)
    assert cr is not None and cr.formula == "ca / cl" and cr.note == "ours"
    occ = find_measure("What was hotel occupancy in May?", cat)
    assert occ is not None and occ.name == "occupancy rate"
    assert find_measure("What was hotel occupancy in May?") is None  # not in the built-in one


@pytest.mark.parametrize("body, message", [
    ('[[measure]]\nname = "x"\nformula = "a / b"\n[measure.operands]\na = ["a"]\n', "operands are"),
    ('[[measure]]\nname = "x"\nformula = "a ** 2"\n[measure.operands]\na = ["a"]\n', "not allowed"),
    ('[[measure]]\nname = "x"\nformula = "a"\nunit = "furlongs"\n[measure.operands]\na = ["a"]\n', "unit"),
    ('[[measure]]\nname = "x"\nformula = "a"\ncolour = "red"\n[measure.operands]\na = ["a"]\n', "unknown key"),
    ('[[measure]]\nname = "x"\nformula = "a"\n[measure.operands]\n"a b" = ["a"]\n', "plain name"),
    ("[[measure]\n", "cannot read"),
])
def test_a_broken_catalogue_says_where(tmp_path: Path, body: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(body, encoding="utf-8")
    with pytest.raises(MeasureError, match=message) as e:
        load_catalogue(bad)
    assert str(bad) in str(e.value)


def test_the_builtin_catalogue_file_is_beside_the_module() -> None:
    assert CATALOGUE_FILE.name == "measures.toml" and CATALOGUE_FILE.exists()


def test_measures_file_in_the_config_resolves_against_pipelines_toml(tmp_path: Path) -> None:
    from folio.config import load_config

    cfg = tmp_path / "pipelines.toml"
    cfg.write_text('[pipelines.a]\nsources = [{ path = "docs" }]\nindex = "idx"\n'
                   '[pipelines.a.answer]\nmeasures_file = "my-measures.toml"\n', encoding="utf-8")
    pipe = load_config(cfg).pipeline("a")
    assert pipe.answer.measures_file == (tmp_path / "my-measures.toml").resolve()
    assert load_config(tmp_path / "pipelines.toml").pipeline("a").answer.measures_file is not None
