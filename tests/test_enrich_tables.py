"""Table HTML sanitizing, row parsing, sampling for long tables, and the summary checks."""

from __future__ import annotations

from enrich import tables
from enrich.claims import summary_problems
from enrich.prompts import clean_summary
from enrich.table_facts import facts_text, read_grid, table_facts
from folio.element import Element
from folio.sanitize import sanitize_table_html, table_rows

NASTY = (
    '<table class="x" style="color:red" onclick="steal()">'
    "<caption>Sales <b>by</b> region</caption>"
    '<thead><tr><th scope="col" onmouseover="x()">Region</th><th colspan="2" style="a">Q1</th></tr></thead>'
    '<tbody><tr><td rowspan="2"><a href="https://evil.example/">North</a></td><td>1,234.5</td>'
    '<td><img src="x" onerror="alert(1)">7%</td></tr>'
    "<tr><td>x<br>y</td><td><script>alert('no')</script>8%</td></tr></tbody>"
    "<style>td{}</style><iframe src='//evil'></iframe><!-- secret --></table>"
)


def test_sanitize_keeps_structure_only() -> None:
    out = sanitize_table_html(NASTY)
    for bad in ("onclick", "onmouseover", "onerror", "style", "class=", "<a", "href", "<img", "script",
                "alert", "iframe", "secret", "<b>"):
        assert bad not in out, bad
    for good in ('scope="col"', 'colspan="2"', 'rowspan="2"', "<caption>", "<thead>", "<br>", "North", "1,234.5"):
        assert good in out, good


def test_table_rows_parses_header_and_caption() -> None:
    rows, n_header, caption = table_rows(sanitize_table_html(NASTY))
    assert rows[0] == ["Region", "Q1"]
    assert rows[1] == ["North", "1,234.5", "7%"]
    assert rows[2] == ["x y", "8%"]
    assert n_header == 1
    assert caption == "Sales by region"


def _table(n_rows: int) -> Element:
    body = "".join(f"<tr><td>item {i}</td><td>{i * 10}</td></tr>" for i in range(n_rows))
    html = f"<table><tr><th>Item</th><th>Value</th></tr>{body}</table>"
    return Element(id="t", doc_id="d", source="s", doc_sha256="0", kind="table", html=html, section=("Costs",))


def test_table_hash_changes_with_content() -> None:
    a = tables.plan_tables([_table(3)])[0][0].chash
    b = tables.plan_tables([_table(4)])[0][0].chash
    assert a != b and a == tables.plan_tables([_table(3)])[0][0].chash


def test_small_tables_get_no_summary() -> None:
    # _table(n) has 2 header cells and 2 cells per row.
    jobs, skipped = tables.plan_tables([_table(4), _table(5)], min_cells=12)
    assert [j.rows[-1] for j in jobs] == [("item 4", "40")]
    assert list(skipped) == [0] and "10 cells" in skipped[0]
    assert len(tables.plan_tables([_table(4)], min_cells=0)[0]) == 1


def test_summary_cleaning_drops_a_copied_table_the_task_repeated_and_a_cut_sentence() -> None:
    # A copied table is what Qwen 0.5B wrote for corpus tables with prompt v4.
    table = "Net Sales | 2022 | 2021\nAbrasives | $1,343 | $1,296"
    copied = "The table lists net sales by product line for 2022 and 2021:\n\n| Net Sales | 2022 |\n| --- | --- |\n"
    assert clean_summary(copied + "| Abrasives | $1,343 |", table) is None  # only an unfinished line is left
    echo = "The table compares net sales for 2022 and 2021. It gives every figure exactly as written."
    assert clean_summary(echo, table) == "The table compares net sales for 2022 and 2021."
    # cut by the token limit (the PDF table of issue 22): the unfinished part never stays
    cut = "The table shows quarterly revenue. The key figures are as follows: - Total revenue for Q1:"
    assert clean_summary(cut, table) == "The table shows quarterly revenue."
    assert clean_summary("Abrasives sold $1,343 in 2022. Abrasives sold $1,343 in 2022.", table) == (
        "Abrasives sold $1,343 in 2022."
    )


WAGES = [["Role", "Staff", "Hourly wage (EUR)"], ["Cleaner", "4", "14.50"], ["Baker", "3", "18.00"],
         ["Manager", "1", "24.00"], ["Total", "8", ""]]
SHOPS = [["Shop", "Q3 2025", "Q4 2025"], ["Lyon", "10.5", "12.0"], ["Paris", "20,0", "19,0"],
         ["Nice", "5.0", "7.5"], ["Total", "35.5", "38.5"]]


def test_facts_are_computed_from_the_grid() -> None:
    facts = table_facts(read_grid(WAGES, 1, "Staffing and wages"))
    text = " ".join(f.text for f in facts)
    assert "The largest value in Hourly wage (EUR) is 24.00 (Manager); the smallest is 14.50 (Cleaner)." in text
    assert "The Total row gives Staff 8." in text  # the table's own total, not a place
    assert "Amounts are in euros." in text and "4 rows" in text and "3 columns" in text
    shops = " ".join(f.text for f in table_facts(read_grid(SHOPS, 1, "Revenue by shop")))
    assert "It compares Q3 2025, Q4 2025." in shops
    assert "From Q3 2025 to Q4 2025, Nice rose the most: from 5.0 to 7.5." in shops
    assert "Paris fell the most: from 20,0 to 19,0." in shops  # the decimal comma read as one
    # the largest value leaves the Total row out
    assert "The largest value in Q4 2025 is 19,0 (Paris)" in shops
    for grid in (read_grid(WAGES, 1, "Staffing and wages"), read_grid(SHOPS, 1, "Revenue by shop")):
        assert summary_problems(facts_text(table_facts(grid)), grid) == []  # the fallback always checks


def test_false_superlatives_and_figures_are_caught() -> None:
    wages = read_grid(WAGES, 1, "Staffing and wages")
    # what the issue saw: the highest wage given to a row that does not hold it
    assert summary_problems("The Cleaner has the highest hourly wage at 14.50 EUR.", wages)
    assert summary_problems("The Cleaner has the highest hourly wage.", wages)
    assert summary_problems("The highest hourly wage is 18.00 EUR.", wages)
    assert summary_problems("The lowest wage is paid to the Manager.", wages)
    assert summary_problems("Four roles earn 31.50 EUR per hour.", wages) == ["figure 31.50 is not in the table"]
    for true in ("The Manager has the highest hourly wage, 24.00 EUR.", "The Cleaner earns the lowest wage, 14.50.",
                 "Manager, at 24.00, has the highest hourly wage.", "Cleaners are the largest group of Staff (4).",
                 "The table lists 3 roles and 8 staff in total."):
        assert summary_problems(true, wages) == [], true
    shops = read_grid(SHOPS, 1, "Revenue by shop")
    assert summary_problems("Nice grew the most, from 5.0 to 7.5.", shops) == []
    assert summary_problems("Lyon had the biggest increase.", shops)
    assert summary_problems("Paris's revenue was 20.0 in Q3 2025.", shops) == []  # 20,0 in the grid


def _wage_job() -> tables.TableJob:
    html = "<table>" + "".join(
        "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{c}</{'th' if i == 0 else 'td'}>" for c in row) + "</tr>"
        for i, row in enumerate(WAGES)) + "</table>"
    el = Element(id="t", doc_id="d", source="memo.docx", doc_sha256="0", kind="table", html=html,
                 section=("Staffing and wages",))
    return tables.plan_tables([el])[0][0]


def test_a_failing_summary_is_asked_again_then_stored_as_the_facts() -> None:
    job = _wage_job()
    wrong = "The Cleaner has the highest hourly wage at 14.50 EUR."
    right = "The Manager has the highest hourly wage, 24.00 EUR."
    assert tables.finish_summary(job, {"raw": right, "retry": [], "model": "m"}) == {"model": "m", "summary": right}
    assert tables.finish_summary(job, {"raw": wrong, "retry": [right], "model": "m"})["summary"] == right
    out = tables.finish_summary(job, {"raw": wrong, "retry": ["Total revenue for Q1:"], "model": "m"})
    assert out["model"] == tables.FACTS_MODEL and out["rejected"] == wrong and "the highest" in out["fallback"]
    assert "24.00 (Manager)" in out["summary"]
    el = tables.apply_summary(Element(id="t", doc_id="d", source="s", doc_sha256="0", kind="table"), out)
    assert el.summary == out["summary"] and el.summary_model == "facts" and el.meta["summary_fallback"]
    # and it is queued for review
    from review.queue import reasons

    found = reasons({"kind": "table", "html": "<table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr>"
                     "</table>"}, el.meta, 0)
    assert any("figure check" in r for _, r in found)
    # entries cached before the raw output was kept: the checked summary, or the rejected output
    assert tables.finish_summary(job, {"summary": right, "model": "m"})["summary"] == right
    assert tables.finish_summary(job, {"summary": None, "rejected": wrong, "model": "m"})["model"] == "facts"


def test_sanitize_tables_replaces_only_tables() -> None:
    text = Element(id="x", doc_id="d", source="s", doc_sha256="0", kind="text", text="<b>hi</b>")
    table = Element(id="t", doc_id="d", source="s", doc_sha256="0", kind="table", html=NASTY)
    out = tables.sanitize_tables([text, table])
    assert out[0] is text
    assert out[1].html is not None and "script" not in out[1].html
