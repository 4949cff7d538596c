"""Table chunks carry their statement, units and periods (index/table_context.py)."""

from __future__ import annotations

from folio.element import Element, element_id
from index.chunk import chunk_elements
from index.table_context import context_line, statement_of

SHA = "7" * 64


def _table(html: str, order: int = 1, section: tuple[str, ...] = ()) -> Element:
    return Element(id=element_id(SHA, 5, order, "table", html), doc_id=SHA[:16], source="acme-10k.pdf",
                   doc_sha256=SHA, kind="table", role="table", html=html, text="", page=5, order=order,
                   section=section)


def _rows(*rows: tuple[str, ...], head: tuple[str, ...]) -> str:
    th = "".join(f"<th>{c}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


INCOME = _rows(
    ("Net sales", "$1,200", "$1,100"), ("Cost of sales", "(700)", "(650)"), ("Gross profit", "500", "450"),
    ("Income before income taxes", "200", "180"), ("Provision for income taxes", "(42)", "(40)"),
    ("Net income", "158", "140"), *((f"Other item {i}", str(i), str(i)) for i in range(40)),
    head=("(Dollars in millions)", "Year ended December 31, 2022", "Year ended December 31, 2021"),
)


def count(texts: list[str]) -> list[int]:
    return [len(t.split()) + 2 for t in texts]


def test_every_part_of_a_split_statement_names_the_statement_units_and_periods() -> None:
    chunks = chunk_elements([_table(INCOME, section=("Consolidated Statements of Operations",))], count, 80)
    assert len(chunks) > 2  # split by rows
    for c in chunks:
        line = next(ln for ln in c.text.splitlines() if ln.startswith("Statement:"))
        assert "income statement" in line and "in millions" in line
        assert "Year ended December 31, 2022" in line and "effective tax rate" in line
    # the last part holds no income-statement row label of its own: the whole table decided
    assert "Net sales" not in chunks[-1].text.split("Statement:")[1]


def test_a_balance_sheet_and_an_ordinary_table() -> None:
    rows = ["Cash and cash equivalents | 10 | 9", "Inventories | 5 | 4", "Total current assets | 20 | 18",
            "Accounts payable | 7 | 6", "Total current liabilities | 12 | 11"]
    assert statement_of("", rows) == statement_of("Balance Sheets", rows)
    assert (statement_of("", rows) or ("",))[0].startswith("balance sheet")
    assert statement_of("Table 1: HPO results", ["# enc-layers | 6 | 2.73", "OTSL | 0.96 | 2.73"]) is None
    line = context_line("Table 1: HPO results (in thousands)", ["Model | 2019 | 2020"], ["OTSL | 1 | 2"])
    assert line == "in thousands · periods: 2019, 2020"
