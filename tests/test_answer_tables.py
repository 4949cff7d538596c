"""Tables read by structure: records (answer/records.py), table blocks (answer/context.py),
the stricter citation check (answer/checks.py) and the cell lookup (answer/lookup.py),
on tiny generated tables. One test runs the lookup with the real small model."""

from __future__ import annotations

from typing import Any

import pytest

from answer.checks import check
from answer.context import Block, build_blocks
from answer.lookup import answer_sentence, asks_for_value, candidates, lookup, lookup_messages, resolve, schema
from answer.records import named, table_view, view_from_lines
from answer.text import content_words
from folio.element import Element
from index.search import Hit

STATEMENT = (
    "<table><thead>"
    "<tr><th></th><th colspan=\"2\">December 31,</th></tr>"
    "<tr><th>(in millions)</th><th>2022</th><th>2021</th></tr>"
    "</thead><tbody>"
    "<tr><td>Current assets:</td><td></td><td></td></tr>"
    "<tr><td>Cash and cash equivalents</td><td>1,234</td><td>1,100</td></tr>"
    "<tr><td>Inventories</td><td>5,372</td><td>4,730</td></tr>"
    "<tr><td>Total current assets</td><td>6,606</td><td>5,830</td></tr>"
    "<tr><td>Goodwill</td><td>(12.5)</td><td>—</td></tr>"
    "<tr><td>Other liabilities:</td><td></td><td></td></tr>"
    "<tr><td>Deferred revenue</td><td>310</td><td>298</td></tr>"
    "</tbody></table>"
)
# Row keys in three columns, two of them grouping rows (row-spanned), a stacked header.
STACKED = (
    "<table><thead>"
    "<tr><th rowspan=\"2\">enc</th><th rowspan=\"2\">dec</th><th rowspan=\"2\">Language</th>"
    "<th colspan=\"2\">TEDs</th><th rowspan=\"2\">Time (secs)</th></tr>"
    "<tr><th>simple</th><th>complex</th></tr>"
    "</thead><tbody>"
    "<tr><td rowspan=\"2\">6</td><td rowspan=\"2\">6</td><td>OTSL</td><td>0.965</td><td>0.934</td><td>2.73</td></tr>"
    "<tr><td>HTML</td><td>0.969</td><td>0.927</td><td>5.39</td></tr>"
    "<tr><td rowspan=\"2\">4</td><td rowspan=\"2\">4</td><td>OTSL</td><td>0.938</td><td>0.904</td><td>1.97</td></tr>"
    "<tr><td>HTML</td><td>0.952</td><td>0.909</td><td>3.77</td></tr>"
    "</tbody></table>"
)


def _table(html: str | None, text: str = "", eid: str = "t" * 24, caption: str = "Balance sheet") -> Element:
    return Element(id=eid, doc_id="d" * 16, source="r.pdf", doc_sha256="d" * 64, kind="table", text=text,
                   html=html, page=3, bbox=(10.0, 20.0, 300.0, 400.0), meta={"caption_text": caption})


def _hit(el: Element, text: str) -> Hit:
    return Hit(chunk_id="c-" + el.id[:4], score=1.0, source="r.pdf", doc_id="d" * 16, kind="table", text=text,
               section=("Statements",), pages=(3,), boxes=(), element_ids=(el.id,))


def count(text: str) -> int:
    return len(text.split())


def _block(html: str = STATEMENT, question: str = "inventories", budget: int = 600,
           chunk: str | None = None) -> Block:
    el = _table(html)
    body = chunk or "\n".join(["Table: Balance sheet", " | ".join(["(in millions)", "December 31, 2022",
                                                                     "December 31, 2021"])])
    (b,) = build_blocks([_hit(el, f"r | page 3\n{body}")], {el.id: el}, question, budget, count)
    return b


# ---- records ------------------------------------------------------------------------------


def test_stacked_headers_label_rows_units_and_negatives() -> None:
    v = table_view(_table(STATEMENT))
    assert v.columns == ["December 31, 2022", "December 31, 2021"]
    assert v.units == "in millions" and v.title == "Balance sheet"
    assert "Statement: balance sheet" in v.context
    inv = v.rows.index("Current assets › Inventories")
    assert v.record(inv) == "Current assets › Inventories · December 31, 2022: 5,372 · 2021: 4,730"
    assert v.record(inv, compact=False) == ("Current assets › Inventories · December 31, 2022: 5,372 · "
                                            "December 31, 2021: 4,730")
    # the total closes the section and is not prefixed with words it already has
    assert "Total current assets" in v.rows and "Goodwill" in v.rows
    assert "Other liabilities › Deferred revenue" in v.rows
    assert {v.rows[r] for r in v.label_rows} == {"Current assets:", "Other liabilities:"}
    good = v.rows.index("Goodwill")
    assert v.cells[(good, 0)] == "(12.5)" and v.cells[(good, 1)] == "—"


def test_row_keys_in_several_columns_and_spans() -> None:
    v = table_view(_table(STACKED, caption="Table 1. HPO"))
    assert v.columns == ["TEDs simple", "TEDs complex", "Time (secs)"]
    assert v.rows == ["enc 6 · dec 6 · OTSL", "enc 6 · dec 6 · HTML", "enc 4 · dec 4 · OTSL", "enc 4 · dec 4 · HTML"]
    assert v.record(0) == "enc 6 · dec 6 · OTSL · TEDs simple: 0.965 · complex: 0.934 · Time (secs): 2.73"


def test_a_column_spanning_value_is_read_once_and_spacer_columns_go() -> None:
    html = ("<table><tr><th>Item</th><th>A</th><th></th><th>B</th></tr>"
            "<tr><td>x</td><td colspan=\"3\">shared</td></tr><tr><td>y</td><td>1</td><td></td><td>2</td></tr></table>")
    v = table_view(_table(html))
    assert v.columns == ["A", "B"]
    assert v.record(0) == "x · A: shared" and v.record(1) == "y · A: 1 · B: 2"


def test_text_fallback_when_there_is_no_html() -> None:
    v = table_view(_table(None, text="Region | 2022 | 2023\nOhio | 1,284.6 | 1,301.0\nUtah | 88 | 91"))
    assert v.columns == ["2022", "2023"] and v.record(0) == "Ohio · 2022: 1,284.6 · 2023: 1,301.0"
    assert view_from_lines(["a | b", "x | 1"]).record(0) == "x · b: 1"


def test_select_keeps_the_rows_and_columns_the_question_names() -> None:
    v = table_view(_table(STATEMENT))
    s = v.select("What were inventories at December 31, 2021?", max_rows=1, max_cols=1)
    assert s.rows == ["Current assets › Inventories"] and s.columns == ["December 31, 2021"]
    assert s.record(0) == "Current assets › Inventories · December 31, 2021: 4,730"
    assert s.title == "Balance sheet" and s.units == "in millions"
    # the vector signal, when given, picks among rows that share no word with the question
    sim = v.select("stock on hand", 1, 2, similarity=lambda texts: [1.0 if "Inventories" in t else 0.0 for t in texts])
    assert sim.rows == ["Current assets › Inventories"]


# ---- table blocks ---------------------------------------------------------------------------


def test_a_table_block_is_a_head_and_one_record_per_row() -> None:
    b = _block()
    head = [u.text for u in b.units if u.head]
    assert head[0] == "Table: Balance sheet" and any("in millions" in h.lower() for h in head)
    records = [u.text for u in b.units if u.record]
    # the heading all columns share is said once, above the records
    assert "Columns: December 31," in head
    assert "Current assets › Inventories · 2022: 5,372 · 2021: 4,730" in records
    assert not any(t.startswith("Current assets:") for t in records)  # label rows head their rows instead
    assert set(b.tables) == {"t" * 24}


def test_a_tight_budget_prefers_the_rows_of_the_retrieved_part() -> None:
    part = "Table: Balance sheet\n(in millions) | December 31, 2022 | December 31, 2021\nDeferred revenue | 310 | 298"
    b = _block(question="balance", budget=48, chunk=part)
    records = [u.text for u in b.units if u.record]
    assert b.trimmed and len(records) < 5
    assert any(r.startswith("Other liabilities › Deferred revenue") for r in records)


# ---- the stricter citation check ---------------------------------------------------------------


def test_a_figure_from_a_row_and_column_the_sentence_does_not_name_is_flagged() -> None:
    blocks = [_block()]
    ok = check("Inventories were 5,372 million [1].", blocks, "What were inventories?")
    assert ok.cited == [1] and not ok.unsupported
    by_column = check("In 2021 the figure was 4,730 [1].", blocks, "What were inventories?")
    assert by_column.cited == [1] and not by_column.unsupported
    wrong = check("Inventories were 1,100 million [1].", blocks, "What were inventories?")  # the cash cell
    assert wrong.unsupported and wrong.unsupported[0]["reason"].startswith("not in a row or column")
    assert wrong.abstained  # its only claim was unsupported


def test_a_figure_in_the_title_or_a_header_is_not_judged_by_cells() -> None:
    blocks = [_block()]
    out = check("Inventories at December 31, 2022 were 5,372 [1].", blocks, "inventories?")
    assert not out.unsupported and out.cited == [1]


# ---- the cell lookup ------------------------------------------------------------------------------


class FakeBackend:
    """Records the schema and answers with a fixed pick (the mechanics, without a model)."""

    model_id = "fake"
    kind = "fake"

    def __init__(self, pick: dict[str, Any]) -> None:
        self.pick = pick
        self.schema: dict[str, Any] = {}
        self.messages: list[dict[str, str]] = []

    def count_tokens(self, text: str) -> int:
        return count(text)

    def prompt(self, messages: list[dict[str, str]]) -> Any:
        from answer.backends import Prompt

        self.messages = messages
        return Prompt(messages, messages[-1]["content"], count(messages[-1]["content"]), [])

    def complete_json(self, prompt: Any, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        self.schema = schema
        return self.pick


def test_lookup_reads_the_value_from_the_grid() -> None:
    b = _block()
    fake = FakeBackend({"block": 1, "row_label": "Current assets › Inventories", "value_column": "December 31, 2022"})
    got = lookup(fake, "SYSTEM", [b], "What were inventories at December 31, 2022?")
    assert got is not None and got.value == "5,372" and got.element_id == "t" * 24
    assert got.answer == "Current assets, Inventories (in millions) at December 31, 2022 was 5,372 [1]."
    assert got.page == 3 and got.bbox == (10.0, 20.0, 300.0, 400.0)
    props = fake.schema["properties"]
    assert "none" in props["row_label"]["enum"] and props["value_column"]["enum"][0] == "December 31, 2022"
    assert fake.messages[0]["content"] == "SYSTEM" and "<source>" in fake.messages[1]["content"]
    # the answer passes the citation check
    assert not check(got.answer, [b], "What were inventories at December 31, 2022?").unsupported


@pytest.mark.parametrize("pick", [
    {"block": 1, "row_label": "none", "value_column": "December 31, 2022"},
    {"block": 1, "row_label": "Goodwill", "value_column": "December 31, 2021"},  # a nil cell "—"
    {"block": 1, "row_label": "Invented row", "value_column": "December 31, 2022"},
    {"block": 9, "row_label": "Goodwill", "value_column": "December 31, 2022"},
])
def test_an_unusable_pick_gives_no_lookup(pick: dict[str, Any]) -> None:
    b = _block()
    assert lookup(FakeBackend(pick), "S", [b], "What was goodwill at December 31, 2021?") is None


def test_a_pick_the_question_names_neither_row_nor_column_of_is_refused() -> None:
    b = _block()
    cands = candidates([b], "What was goodwill?")
    assert resolve({"block": 1, "row_label": "Goodwill", "value_column": "December 31, 2022"}, cands,
                   "What was goodwill?") is not None
    assert resolve({"block": 1, "row_label": "Current assets › Cash and cash equivalents",
                    "value_column": "December 31, 2022"}, cands, "What was goodwill?") is None


def test_a_table_the_question_names_nothing_of_costs_no_model_call() -> None:
    b = _block()
    fake = FakeBackend({"block": 1, "row_label": "Goodwill", "value_column": "December 31, 2022"})
    # Every pick from this table would be refused: the model is not asked (a call is seconds of CPU).
    assert lookup(fake, "S", [b], "What was the headcount of the warehouse staff?") is None
    assert fake.schema == {} and fake.messages == []


def test_duplicate_labels_are_numbered_and_several_tables_are_branches() -> None:
    html = ("<table><tr><th>Item</th><th>Q1</th></tr><tr><td>Sales</td><td>1</td></tr>"
            "<tr><td>Sales</td><td>2</td></tr></table>")
    a, second = _block(), _block(html=html, chunk="Table: Sales\nItem | Q1")
    second.n = 2
    cands = candidates([a, second], "sales in Q1")
    sch = schema(cands)
    assert len(sch["anyOf"]) == 2
    # the table naming the question better comes first
    assert sch["anyOf"][0]["properties"]["block"]["enum"] == [2]
    assert sch["anyOf"][0]["properties"]["row_label"]["enum"] == ["Sales #1", "Sales #2", "none"]
    got = resolve({"block": 2, "row_label": "Sales #2", "value_column": "Q1"}, cands, "sales in Q1")
    assert got is not None and got.value == "2" and got.answer == "Sales in Q1 was 2 [2]."


def test_asks_for_value() -> None:
    assert asks_for_value("What was the inventory balance at December 31, 2022?")
    assert asks_for_value("How many test questions does TriviaQA have?")
    assert asks_for_value("In Table 1, what inference time does the model with 6 layers take?")
    for q in ("Why did margins fall?", "What drove the increase in revenue?", "List the segments.",
              "How did revenue change between 2021 and 2022?", "What are the main risks?",
              "Compute the current ratio for 2022."):
        assert not asks_for_value(q), q


def test_answer_sentences_read_naturally() -> None:
    assert answer_sentence("Net revenue", "Three months ended June 30 2023", "in millions", "1,284.6", 2) == (
        "Net revenue (in millions) for the three months ended June 30 2023 was 1,284.6 [2].")
    assert answer_sentence("enc 6 · dec 6 · OTSL", "Time (secs)", "", "2.73", 1) == (
        "Time (secs) for enc 6, dec 6, OTSL was 2.73 [1].")


# ---- with the real small model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_backend() -> Any:
    from answer.backends import LlamaCppBackend
    from folio.config import AnswerSettings, ModelSettings

    # One thread: llama.cpp's spinning threads slow each other down on this shared machine.
    return LlamaCppBackend(ModelSettings(llm="smollm2-135m-q4_1"), AnswerSettings(n_ctx=2048, threads=1))


def test_lookup_with_the_real_small_model(small_backend: Any) -> None:
    """Mechanics, not model quality: the grammar makes the model name real labels, and the
    value returned is the grid's cell at exactly those labels."""
    from answer.prompts import SYSTEM

    head = "enc | dec | Language | TEDs simple | TEDs complex | Time (secs)"
    b = _block(html=STACKED, chunk=f"Table: Table 1. HPO\n{head}", question="time")
    question = "What is the Time (secs) of enc 6 · dec 6 · OTSL?"
    cands = candidates([b], question)
    prompt = small_backend.prompt(lookup_messages(SYSTEM, cands, question))
    pick = small_backend.complete_json(prompt, schema(cands), 96)
    view = cands[0].view
    assert pick["block"] == 1 and pick["row_label"] in [*view.rows, "none"] and pick["value_column"] in view.columns
    got = lookup(small_backend, SYSTEM, [b], question)
    if pick["row_label"] == "none":
        assert got is None
        return
    if got is None:
        return
    full = b.tables["t" * 24]
    # the value is the grid's, at the labels picked or at those the question names more
    assert got.value == full.cells[(full.rows.index(got.row), full.columns.index(got.column))]
    words = content_words(question)
    for picked, used in ((pick["row_label"], got.row), (pick["value_column"], got.column)):
        assert used == picked or len(content_words(used) & words) > len(content_words(picked) & words)


def test_a_shared_prefix_lookup_starts_like_the_answer_prompt() -> None:
    from answer.prompts import answer_messages

    b = _block()
    fake = FakeBackend({"block": 1, "row_label": "Current assets › Inventories", "value_column": "December 31, 2022"})
    q = "What were inventories at December 31, 2022?"
    got = lookup(fake, "S", [b], q, shared_prefix=True)
    assert got is not None and got.value == "5,372"
    assert fake.messages[1]["content"].startswith(answer_messages("S", [b], q)[1]["content"])


def test_a_cell_is_taken_only_where_the_question_names_its_row_and_column() -> None:
    b = _block()
    q = "What were inventories at December 31, 2021?"
    cands = candidates([b], q)
    row = "Current assets › Inventories"
    assert resolve({"block": 1, "row_label": row, "value_column": "December 31, 2021"}, cands, q)
    # the neighbouring period: the question names 2021, so its column is read
    got = resolve({"block": 1, "row_label": row, "value_column": "December 31, 2022"}, cands, q)
    assert got is not None and got.value == "4,730" and got.column == "December 31, 2021"
    # no column named more than another: a pick of the second one is a guess, refused
    assert resolve({"block": 1, "row_label": row, "value_column": "December 31, 2021"}, cands,
                   "What were inventories?") is None
    # a row the question names only by a word it shares ("income" of "statement of income")
    assert not named(["Net income", "Cash and cash equivalents"], content_words("the statement of income"), strict=True)
    assert named(["Net income", "Cash and cash equivalents"], content_words("cash in 2022"), strict=True) == {1}
    shifts = ["Early, 06:00-14:00", "Late, 14:00-22:00"]
    assert named(shifts, content_words("staff on the late shift"), strict=True) == {1}


def _text_hit(n: int) -> tuple[Hit, Element]:
    el = Element(id=f"{n:024d}", doc_id="d" * 16, source="r.pdf", doc_sha256="d" * 64, kind="text",
                 text=f"Paragraph {n} about sales " + "words " * 40, page=n)
    hit = Hit(chunk_id=f"c{n}", score=1.0, source="r.pdf", doc_id="d" * 16, kind="text",
              text=f"r | page {n}\n{el.text}", section=("Item 7. Management's Discussion and Analysis of "
                                                         "Financial Condition and Results of Operations",
                                                         "Results"), pages=(n,), boxes=(), element_ids=(el.id,))
    return hit, el


def test_a_table_among_text_blocks_keeps_its_best_rows() -> None:
    """A budget spread over five blocks once left a table its title and header only: the
    lowest-ranked text blocks now give way until it shows its best rows."""
    table = _table(STATEMENT)
    texts = [_text_hit(n) for n in (5, 6, 7, 8)]
    header = " | ".join(["(in millions)", "December 31, 2022", "December 31, 2021"])
    hits = [texts[0][0], _hit(table, f"r | page 3\nTable: Balance sheet\n{header}"), *(h for h, _ in texts[1:])]
    elements = {table.id: table, **{e.id: e for _, e in texts}}
    blocks = build_blocks(hits, elements, "What were inventories?", 160, count)
    (tb,) = [b for b in blocks if b.hit.kind == "table"]
    assert any(u.record and "5,372" in u.text for u in tb.units)
    assert len(blocks) < 5 and blocks[0].hit.chunk_id == "c5"  # the best-ranked block stays
    assert not any(u.text.startswith(header) for u in tb.units)  # the records repeat the header
    assert all(len(b.label.split()) < 16 for b in blocks)  # the nearest heading only, cut


# A PDF grid as the partitioner writes it: the spanning heading sits in the one cell it is
# printed over, and the other columns' headings are stretched up into its row.
PDF_SPANS = (
    "<table><thead>"
    "<tr><th rowspan=\"2\">Training</th><th rowspan=\"2\">NQ</th><th>Top-20</th><th rowspan=\"2\">TREC</th>"
    "<th rowspan=\"2\">NQ</th><th>Top-100</th><th rowspan=\"2\">TREC</th></tr>"
    "<tr><th>WQ</th><th>WQ</th></tr>"
    "</thead><tbody>"
    "<tr><td>Single</td><td>78.4</td><td>73.2</td><td>79.8</td><td>85.4</td><td>81.4</td><td>89.1</td></tr>"
    "<tr><td>Multi</td><td>79.4</td><td>75.0</td><td>89.1</td><td>86.0</td><td>82.9</td><td>93.9</td></tr>"
    "</tbody></table>"
)
YEARS = (
    "<table><thead>"
    "<tr><th></th><th rowspan=\"2\">2015</th><th>Year Ended December 31,</th><th rowspan=\"2\">2017</th></tr>"
    "<tr><th></th><th>2016</th></tr>"
    "</thead><tbody><tr><td>Fulfillment</td><td>13,410</td><td>17,619</td><td>25,249</td></tr></tbody></table>"
)
# Two spans written as headings of their own (Long-Lived Assets over its own years).
TWO_SPANS = (
    "<table><thead>"
    "<tr><th></th><th>Net Revenue</th><th></th><th>Long-Lived Assets</th><th></th></tr>"
    "<tr><th></th><th>2022</th><th>2021</th><th>2022</th><th>2021</th></tr>"
    "</thead><tbody><tr><td>Mexico</td><td>1</td><td>2</td><td>3</td><td>4</td></tr></tbody></table>"
)


def test_a_spanning_heading_reaches_every_column_under_it() -> None:
    assert table_view(_table(PDF_SPANS)).columns == [
        "Top-20 NQ", "Top-20 WQ", "Top-20 TREC", "Top-100 NQ", "Top-100 WQ", "Top-100 TREC"]
    assert table_view(_table(YEARS)).columns == [
        "Year Ended December 31, 2015", "Year Ended December 31, 2016", "Year Ended December 31, 2017"]
    assert table_view(_table(TWO_SPANS)).columns == [
        "Net Revenue 2022", "Net Revenue 2021", "Long-Lived Assets 2022", "Long-Lived Assets 2021"]
    # headings for every column already: nothing moves
    assert table_view(_table(STATEMENT)).columns == ["December 31, 2022", "December 31, 2021"]


SECTIONS = (
    "<table><thead><tr><th></th><th>2016</th><th>2017</th></tr></thead><tbody>"
    "<tr><td>Operating expenses:</td><td></td><td></td></tr>"
    "<tr><td>Fulfillment</td><td>17,619</td><td>25,249</td></tr>"
    "<tr><td>Marketing</td><td>7,233</td><td>10,069</td></tr>"
    "<tr><td>Total operating expenses</td><td>131,801</td><td>173,760</td></tr>"
    "<tr><td>Year-over-year Percentage Growth:</td><td></td><td></td></tr>"
    "<tr><td>Fulfillment</td><td>31</td><td>43</td></tr>"
    "</tbody></table>"
)


def test_a_pick_sharing_fewer_words_with_the_question_gives_way_to_the_row_it_names() -> None:
    q = "What were fulfillment operating expenses in 2017?"
    cands = candidates([_block(SECTIONS, question=q)], q)
    rows = cands[0].view.rows
    growth = next(r for r in rows if r.startswith("Year-over-year"))
    got = resolve({"block": 1, "row_label": growth, "value_column": "2016"}, cands, q)
    assert got is not None and got.value == "25,249" and got.row == "Operating expenses › Fulfillment"
    # a pick as good as any other is kept
    got = resolve({"block": 1, "row_label": growth, "value_column": "2017"}, cands,
                  "What was the year-over-year percentage growth of fulfillment in 2017?")
    assert got is not None and got.value == "43"


def test_the_tables_offered_are_those_the_question_names_best() -> None:
    note = ("<table><tr><th>Item</th><th>2022</th></tr><tr><td>Cost of sales</td><td>3</td></tr>"
            "<tr><td>Research and development</td><td>2</td></tr></table>")
    statement = ("<table><tr><th>Item</th><th>2022</th></tr><tr><td>Net sales</td><td>34,229</td></tr>"
                 "<tr><td>Research and development</td><td>1,862</td></tr></table>")
    q = "In the consolidated statement of income, what was research and development in 2022?"
    blocks = []
    for n, (html, title) in enumerate([(note, "Restructuring actions")] * 3
                                      + [(statement, "Consolidated statement of income")], 1):
        el = _table(html, eid=str(n) * 24, caption=title)
        (b,) = build_blocks([_hit(el, f"r | page 3\nTable: {title}\nItem | 2022")], {el.id: el}, q, 600, count)
        b.n = n
        blocks.append(b)
    cands = candidates(blocks, q)
    # retrieval put the statement fourth; its title names the question, so it is offered, first
    assert len(cands) == 3 and cands[0].block.n == 4


def test_a_named_figure_or_table_limits_the_tables_read() -> None:
    from answer.lookup import _of_the_named_object

    q1 = "What was goodwill in Table 2?"
    a, b = _block(), _block(html=STATEMENT)
    b.n = 2
    cands = candidates([a, b], "goodwill")
    cands[1].view.title = "Table 2: Balance sheet"
    assert [c.block.n for c in _of_the_named_object(cands, q1)] == [2]
    # a figure no table is titled after is not read off a table
    assert _of_the_named_object(cands, "According to Figure 1, how many examples are needed?") == []
    assert _of_the_named_object(cands, "According to Fig. 2, what was goodwill?") == []
    cands[0].view.title = "Figure 2. Goodwill by year"
    assert [c.block.n for c in _of_the_named_object(cands, "According to Fig. 2, what was goodwill?")] == [1]
    # a named table whose caption was not attached: every table stays
    assert len(_of_the_named_object(cands, "What was goodwill in Table 7?")) == 2
    assert len(_of_the_named_object(cands, "What was goodwill?")) == 2


def test_a_spread_heading_is_said_once_per_run_of_columns_in_the_prompt() -> None:
    html = ("<table><thead><tr><th></th><th>Fiscal 2024</th><th></th><th>Fiscal 2023</th><th></th></tr>"
            "<tr><th></th><th>Opened</th><th>Closed</th><th>Opened</th><th>Closed</th></tr></thead>"
            "<tbody><tr><td>Outlet</td><td>1</td><td>(1)</td><td>2</td><td>-</td></tr></tbody></table>")
    v = table_view(_table(html))
    assert v.columns == ["Fiscal 2024 Opened", "Fiscal 2024 Closed", "Fiscal 2023 Opened", "Fiscal 2023 Closed"]
    assert v.record(0) == "Outlet · Fiscal 2024 Opened: 1 · Closed: (1) · Fiscal 2023 Opened: 2 · Closed: -"
    # the lookup prompt shows the labels the model must copy, whole
    assert v.record(0, compact=False) == ("Outlet · Fiscal 2024 Opened: 1 · Fiscal 2024 Closed: (1) · "
                                          "Fiscal 2023 Opened: 2 · Fiscal 2023 Closed: -")
