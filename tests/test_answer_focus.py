"""A computation's own rows (answer/focus.py) and the period's column of a row."""

from __future__ import annotations

from typing import Any

from answer.compute import from_output
from answer.context import Block, Unit
from answer.focus import asked_year, focus, in_period, record_cells
from answer.measures import find_measure
from answer.records import TableView
from index.search import Hit

ROWS = ["Current assets › Cash and cash equivalents", "Current assets › Marketable securities — current",
        "Current assets › Accounts receivable — net", "Total inventories", "Prepaids", "Other current assets",
        "Total current assets", "Goodwill", "Total assets", "Accounts payable", "Accrued payroll",
        "Total current liabilities", "Long-term debt", "Total liabilities"]
VALUES = [("3,655", "4,564"), ("238", "201"), ("4,532", "4,660"), ("5,372", "4,985"), ("435", "654"),
          ("456", "339"), ("14,688", "15,403"), ("12,790", "13,486"), ("46,455", "47,072"), ("3,183", "2,994"),
          ("692", "1,020"), ("9,523", "9,035"), ("14,001", "16,056"), ("31,685", "31,955")]


def _sheet() -> Block:
    view = TableView(title="Consolidated Balance Sheet", units="in millions", columns=["2022", "2021"], rows=ROWS,
                     cells={(r, k): v[k] for r, v in enumerate(VALUES) for k in (0, 1)})
    hit = Hit("c1", 1.0, "acme-10k.pdf", "doc", "table", "", (), (50,), (), ("t1",))
    # What the answer's budget kept: the head and the two rows sharing most words with the question.
    units = [Unit("Consolidated Balance Sheet", "t1", head=True), Unit("In millions", "t1", head=True),
             Unit(view.record(0), "t1", record=True), Unit(view.record(2), "t1", record=True)]
    return Block(1, hit, "acme-10k.pdf, page 50", units, {}, tables={"t1": view})


Q = ("What is the FY2022 quick ratio, defined as (cash and cash equivalents + current marketable securities + "
     "accounts receivable, net) divided by total current liabilities? Round to two decimals.")


def test_focus_brings_back_the_rows_the_operands_name() -> None:
    [b] = focus([_sheet()], Q, find_measure(Q))
    labels = [u.text.split(" · ")[0] for u in b.units if u.record]
    assert "Total current liabilities" in labels  # cut by the answer's budget, asked for by the formula
    assert "Current assets › Marketable securities — current" in labels
    assert "Goodwill" not in labels and len(labels) < len(ROWS)
    assert [u.text for u in b.units if u.head] == ["Consolidated Balance Sheet", "In millions"]


def _ops(**kv: tuple[str, int]) -> dict[str, Any]:
    return {"operands": {k: {"value": v, "block": b} for k, (v, b) in kv.items()}}


def test_the_asked_years_column_of_the_named_row_is_used() -> None:
    m = find_measure(Q)
    assert m is not None and m.formula is not None
    blocks = focus([_sheet()], Q, m)
    # The model names the right rows but copies two figures from the 2021 column.
    data = _ops(cash_cash_equivalents=("4,564", 1), current_marketable_securities=("238", 1),
                accounts_receivable_net=("4,660", 1), total_current_liabilities=("9,523", 1))
    c = from_output(data, blocks, Q, m)
    assert [o.raw for o in c.operands] == ["3,655", "238", "4,532", "9,523"]
    assert c.text.endswith("= 0.88.")  # (3,655 + 238 + 4,532) / 9,523
    assert "(cash and cash equivalents + current marketable securities + accounts receivable, net)" in c.text


def test_years_and_records() -> None:
    assert asked_year("What was revenue in FY2022?", "revenue") == "2022"
    assert asked_year("What was the change from 2021 to 2022?", "revenue") is None  # two years: the name decides
    assert asked_year("Inventory days in 2022?", "inventory_begin") is None  # another period
    assert asked_year("Growth 2021 to 2022?", "revenue_2021") == "2021"
    rec = "Total current liabilities · 2022: 9,523 · 2021: 9,035"
    assert record_cells(rec) == [("2022", "9,523"), ("2021", "9,035")]
    assert in_period(rec, "9,035", "2022") == "9,523"
    assert in_period(rec, "9,523", "2022") is None  # already there
    assert in_period(rec, "9,035", "2019") is None  # no such column
    # a fiscal year is not the calendar year of a balance-sheet date
    dated = "Net cash provided by operating activities · January 28, 2023: 1,481,915 · January 29, 2022: 1,059,265"
    assert in_period(dated, "1,481,915", "2022", fiscal=True) is None
    assert in_period(dated, "1,481,915", "2022") == "1,059,265"
