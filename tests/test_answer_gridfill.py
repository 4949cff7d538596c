"""Operands of catalogue measures read from the table grid (answer/gridfill.py): no model
call when every operand is a row under the asked year; the two years of a comparison each
from their own column; nothing filled where a row or a column is not found in one way."""

from __future__ import annotations

from typing import Any

from answer import prompts
from answer.compute import compute, from_output
from answer.context import Block, build_blocks
from answer.gridfill import compared_years, fill, from_grid
from answer.measures import find_measure
from folio.element import Element
from index.search import Hit

SHEET = (
    "<table><thead>"
    "<tr><th></th><th rowspan=\"2\">2023</th><th>December 31,</th></tr>"
    "<tr><th>(in millions)</th><th>2022</th></tr>"
    "</thead><tbody>"
    "<tr><td>Current assets:</td><td></td><td></td></tr>"
    "<tr><td>Cash and cash equivalents</td><td>$ 1,050</td><td>$ 980</td></tr>"
    "<tr><td>Accounts receivable, net</td><td>2,300</td><td>2,100</td></tr>"
    "<tr><td>Inventories</td><td>770</td><td>820</td></tr>"
    "<tr><td>Total current assets</td><td>4,120</td><td>3,900</td></tr>"
    "<tr><td>Other current liabilities</td><td>600</td><td>500</td></tr>"
    "<tr><td>Total current liabilities</td><td>2,861</td><td>3,250</td></tr>"
    "</tbody></table>"
)


def _block(html: str = SHEET, question: str = "current ratio") -> Block:
    el = Element(id="t" * 24, doc_id="d" * 16, source="acme.pdf", doc_sha256="d" * 64, kind="table", text="",
                 html=html, page=41, bbox=(1.0, 2.0, 3.0, 4.0), meta={"caption_text": "Consolidated balance sheets"})
    hit = Hit(chunk_id="c-1", score=1.0, source="acme.pdf", doc_id="d" * 16, kind="table",
              text="Table: Consolidated balance sheets", section=("Statements",), pages=(41,), boxes=(),
              element_ids=(el.id,))
    (b,) = build_blocks([hit], {el.id: el}, question, 2000, lambda t: len(t.split()))
    return b


class NoModel:
    """A backend that fails the test if the model is asked."""
    kind = model_id = "none"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt(self, messages: list[dict[str, str]]) -> Any:
        raise AssertionError("the model was asked")

    def complete_json(self, *a: Any) -> Any:
        raise AssertionError("the model was asked")


def test_a_catalogue_measure_is_computed_from_the_grid_without_the_model() -> None:
    q = "What was Acme's current ratio in 2023?"
    c = compute(NoModel(), prompts.SYSTEM, [_block()], q)  # type: ignore[arg-type]
    assert c is not None and c.ok
    assert c.text == "Current ratio = current assets / current liabilities = 4,120 [1] / 2,861 [1] = 1.44."
    # the year asked picks the column, whichever side of the table it is on
    c22 = compute(NoModel(), prompts.SYSTEM, [_block()], "What was the current ratio in 2022?")  # type: ignore[arg-type]
    assert c22 is not None and c22.text.endswith("3,900 [1] / 3,250 [1] = 1.20.")
    # no year asked: the latest the table prints
    got = fill([_block()], "What is the current ratio?", find_measure("What is the current ratio?"))
    assert got == {"operands": {"current_assets": {"value": "4,120", "block": 1},
                                "current_liabilities": {"value": "2,861", "block": 1}}}


def test_a_comparison_computes_each_year_from_its_own_column() -> None:
    q = "Has Acme's current ratio improved or declined between FY2022 and FY2023?"
    assert compared_years(q) == ["2022", "2023"]
    c = from_grid([_block()], q, find_measure(q), from_output)
    assert c is not None and c.ok
    assert c.text == ("2022: Current ratio = current assets / current liabilities = 3,900 [1] / 3,250 [1] = 1.20. "
                      "2023: Current ratio = current assets / current liabilities = 4,120 [1] / 2,861 [1] = 1.44. "
                      "The current ratio rose from 1.20 in 2022 to 1.44 in 2023.")
    assert sorted(o.name for o in c.operands) == ["current_assets_2022", "current_assets_2023",
                                                  "current_liabilities_2022", "current_liabilities_2023"]


def test_nothing_is_filled_when_a_row_or_a_column_is_not_found_in_one_way() -> None:
    quick = "What was the quick ratio in 2023?"
    # no marketable securities line: the model is asked as before
    assert fill([_block()], quick, find_measure(quick)) is None
    # a year the table does not print
    assert fill([_block()], "What was the current ratio in 2019?", find_measure("current ratio 2019")) is None
    # two rows of equal standing with different figures
    twice = SHEET.replace("</tbody>", "<tr><td>Total current liabilities</td><td>9,999</td><td>1</td></tr></tbody>")
    assert fill([_block(twice)], "What was the current ratio in 2023?", find_measure("current ratio")) is None
    # "Other current liabilities" is another line than "total current liabilities"
    only_other = SHEET.replace("<tr><td>Total current liabilities</td><td>2,861</td><td>3,250</td></tr>", "")
    assert fill([_block(only_other)], "What was the current ratio in 2023?", find_measure("current ratio")) is None


def _table_block(n: int, rows: list[tuple[str, str]], title: str) -> Block:
    body = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows)
    html = f"<table><thead><tr><th></th><th>2022</th></tr></thead><tbody>{body}</tbody></table>"
    b = _block(html)
    b.n = n
    b.tables[next(iter(b.tables))].title = title
    return b


def test_a_loose_row_from_another_table_is_not_taken() -> None:
    q = ("What was the operating margin of the Health Care segment in 2022, i.e. segment operating income "
         "divided by segment net sales?")
    m = find_measure(q)
    assert m is not None and m.source == "question"
    segment = _table_block(1, [("Segment operating income", "1,815"), ("Sales (millions)", "8,000")], "Health Care")
    company = _table_block(2, [("Net sales", "34,229")], "Consolidated statement of income")
    # "Net sales" lacks "segment": from the company's statement it is the wrong line
    assert fill([segment, company], q, m) is None
    exact = _table_block(1, [("Segment operating income", "1,815"), ("Segment net sales", "8,000")], "Health Care")
    got = fill([exact, company], q, m)
    assert got is not None and {v["value"] for v in got["operands"].values()} == {"1,815", "8,000"}
