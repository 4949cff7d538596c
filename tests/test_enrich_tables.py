"""Table HTML sanitizing, row parsing, sampling for long tables, and the summary checks."""

from __future__ import annotations

from enrich import tables
from enrich.prompts import check_summary
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


def test_long_table_is_sampled_to_fit_budget() -> None:
    job = tables.plan_tables([_table(500)])[0][0]

    def count(text: str) -> int:
        return len(text.split())

    text, note = tables.render_table(job, 300, count)
    lines = text.splitlines()
    assert count(text) <= 300
    assert lines[0] == "Item | Value"
    assert lines[1] == "item 0 | 0" and lines[-1] == "item 499 | 4990"  # first and last rows kept
    assert 20 < len(lines) < 500
    assert "of its 500 rows" in note
    small, note2 = tables.render_table(tables.plan_tables([_table(3)])[0][0], 300, count)
    assert note2 == "" and len(small.splitlines()) == 4


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


def test_summary_check_drops_invented_figures() -> None:
    table = "Region | Revenue\nNorth | 1,234.5\nSouth | 987.0"
    out = check_summary(
        "The table lists revenue by region. North earned 1,234.5 and South 987.0. "
        "Together they earned 2,221.5. It has 2 columns.",
        table, allowed={"2", "3"},
    )
    assert out is not None
    assert "1,234.5" in out and "987.0" in out and "2 columns" in out
    assert "2,221.5" not in out
    assert check_summary("Total: 99.", table, allowed=set()) is None


def test_summary_check_drops_a_copied_table_and_the_task_repeated() -> None:
    # Both are what Qwen 0.5B wrote for corpus tables with prompt v4.
    table = "Net Sales | 2022 | 2021\nAbrasives | $1,343 | $1,296"
    copied = "The table lists net sales by product line for 2022 and 2021:\n\n| Net Sales | 2022 |\n| --- | --- |\n"
    assert check_summary(copied + "| Abrasives | $1,343 |", table, set()) == (
        "The table lists net sales by product line for 2022 and 2021:"
    )
    echo = ("The table compares net sales for 2022 and 2021. It provides key figures such as totals and "
            "the largest values.")
    assert check_summary(echo, table, set()) == "The table compares net sales for 2022 and 2021."


def test_summary_checks_run_on_the_cached_model_output() -> None:
    job = tables.plan_tables([_table(4)])[0][0]  # rows "item n | 10n", n = 0..3
    fresh = tables.finish_summary(job, {"raw": "Items and values. Item 3 is 30. The sum is 100.", "model": "m"})
    assert fresh == {"summary": "Items and values. Item 3 is 30.", "model": "m", "sampled": False}
    rejected = tables.finish_summary(job, {"raw": "The sum is 100.", "model": "m", "sampled": True})
    assert rejected["summary"] is None and rejected["rejected"] == "The sum is 100." and rejected["sampled"]
    # entries cached before the raw output was kept: the checked summary, or the rejected output
    assert tables.finish_summary(job, {"summary": "Item 3 is 30.", "model": "m"})["summary"] == "Item 3 is 30."
    assert tables.finish_summary(job, {"summary": None, "rejected": "Sum 100.", "model": "m"})["summary"] is None


def test_sanitize_tables_replaces_only_tables() -> None:
    text = Element(id="x", doc_id="d", source="s", doc_sha256="0", kind="text", text="<b>hi</b>")
    table = Element(id="t", doc_id="d", source="s", doc_sha256="0", kind="table", html=NASTY)
    out = tables.sanitize_tables([text, table])
    assert out[0] is text
    assert out[1].html is not None and "script" not in out[1].html
