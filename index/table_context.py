"""What a table chunk needs besides its rows: which statement it is, its units, its periods.

A long table is split by rows into several chunks (index/chunk.py), and a question about
"gross margin", "effective tax rate" or "quick ratio" names a measure the statement never
prints: it holds the inputs (net sales, cost of sales; income before taxes, provision for
income taxes; current assets, inventories, current liabilities). So every part of a table
carries one context line: the kind of statement recognised from the row labels of the
whole table (not just its part), the units and the periods from its title and header, and
the measures such a statement is read for. The vocabulary is that of financial reporting
in general, not of any one filing; a table that matches no statement gets units and
periods only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from folio.element import Element
from folio.table_grid import grid_shape, header_rows, html_to_cells, normalize_cells, to_dense

# (statement, row-label cues, what it is read for). A table is that statement when at least
# MIN_CUES distinct cues occur among its row labels or title.
STATEMENTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("income statement (statement of operations / earnings)", (
        "net sales", "revenue", "revenues", "total revenues", "cost of sales", "cost of revenue", "cost of goods sold",
        "gross profit", "gross margin", "operating income", "income from operations", "operating expenses",
        "income before income taxes", "provision for income taxes", "income tax expense", "net income",
        "net earnings", "net loss", "earnings per share", "statement of income", "statements of operations",
        "statements of earnings", "selling, general and administrative",
    ), "revenue, gross margin, operating margin, effective tax rate, net income, EPS"),
    ("balance sheet (statement of financial position)", (
        "total assets", "total liabilities", "total current assets", "total current liabilities", "current assets",
        "current liabilities", "cash and cash equivalents", "accounts payable", "inventories", "retained earnings",
        "shareholders' equity", "stockholders' equity", "shareholders’ equity", "stockholders’ equity",
        "property, plant and equipment", "goodwill", "accounts receivable", "trade receivables", "long-term debt",
        "balance sheet", "balance sheets",
    ), "working capital, current ratio, quick ratio, debt to equity, total assets, accounts payable"),
    ("cash flow statement", (
        "operating activities", "investing activities", "financing activities", "depreciation and amortization",
        "capital expenditures", "purchases of property", "dividends paid", "net cash provided", "net cash used",
        "statements of cash flows", "statement of cash flows", "repurchases of common stock",
    ), "cash from operations, capital expenditures (capex), free cash flow, dividends, buybacks"),
    ("income tax note", (
        "statutory", "effective tax rate", "deferred tax assets", "deferred tax liabilities",
        "unrecognized tax benefits", "income tax provision", "valuation allowance", "tax credits",
    ), "effective tax rate, statutory rate reconciliation, deferred taxes"),
    ("non-GAAP reconciliation", (
        "adjusted ebit", "adjusted ebitda", "adjusted eps", "adjusted diluted eps", "adjusted earnings per share",
        "adjusted net income", "non-gaap", "ebitda", "ebitdar",
        "adjusted free cash flow", "reconciliation", "comparable constant currency",
    ), "adjusted EBIT, adjusted EBITDA, adjusted EPS, adjusted free cash flow vs GAAP"),
)
MIN_CUES = 3
# Cues too generic to say which statement a question asks about.
_TITLE_ONLY = frozenset({"reconciliation", "statutory", "operating expenses"})
# How questions name the statements themselves ("per the consolidated statements of income").
_NAMED = {
    "income statement (statement of operations / earnings)": (
        "income statement", "statement of income", "statements of income", "statement of operations",
        "statements of operations", "statement of earnings", "statements of earnings", "p&l", "profit and loss",
    ),
    "balance sheet (statement of financial position)": (
        "balance sheet", "balance sheets", "statement of financial position", "statements of financial position",
    ),
    "cash flow statement": ("cash flow statement", "statement of cash flows", "statements of cash flows"),
}
_UNITS = re.compile(
    r"\b(?:in|\$|dollars in|amounts in|usd)\s*(thousands|millions|billions)\b|\((thousands|millions|billions)\b",
    re.IGNORECASE,
)
_DATE = r"(?:\s+[A-Z][a-z]{2,8}\.?(?:\s+\d{1,2})?,?(?:\s+(?:19|20)\d\d)?)?"
_PERIOD = re.compile(
    r"\b(?:(?:three|six|nine|twelve|3|6|9|12|13|52|53)\s+(?:months|weeks)|years?|quarters?|fiscal years?)\s+ended"
    + _DATE + r"|\bas of" + _DATE + r"|\b(?:fy|q[1-4])\s?'?\d{2,4}\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


def table_rows(e: Element) -> tuple[list[str], list[str]]:
    """(header lines, body lines) of a table, from its HTML when there is one."""
    cells = normalize_cells(html_to_cells(e.html)) if e.html else []
    if not cells:
        lines = [ln.strip() for ln in e.text.splitlines() if ln.strip()]
        return lines[:1], lines[1:]
    n_rows, _ = grid_shape(cells)
    # A row lists every cell covering it: row-spanned values repeat (each row reads on its
    # own), column-spanned ones appear once. Equal neighbouring values are distinct cells.
    rows = [[c.text for c in cells if c.row <= r < c.row + c.row_span] for r in range(n_rows)]
    n_head = header_rows(cells, n_rows)
    if n_head == 0 and n_rows > 1:
        n_head = 1  # no <th>: the first row is the best guess at a header
    # Stacked header rows ("TEDs" over "simple | complex") become one line per column,
    # "TEDs simple | TEDs complex", so every part of a split table stays readable.
    grid = to_dense(cells)
    header = row_text([" ".join(dict.fromkeys(v for v in col if v)) for col in zip(*grid[:n_head])])
    body = [row_text(r) for r in rows[n_head:]]
    return ([header] if header else []), [b for b in body if b]


def row_text(values: Iterable[str]) -> str:
    vals = [" ".join(v.split()) for v in values]
    return " | ".join(vals) if any(vals) else ""


def statement_of(title: str, rows: list[str]) -> tuple[str, str] | None:
    """(statement, measures) the table is, from its row labels and title; None if unsure."""
    labels = " \n ".join([title.lower(), *(r.split("|", 1)[0].strip().lower() for r in rows)])
    best: tuple[int, str, str] | None = None
    for name, cues, measures in STATEMENTS:
        n = sum(1 for c in cues if c in labels)
        if n >= MIN_CUES and (best is None or n > best[0]):
            best = (n, name, measures)
    return (best[1], best[2]) if best else None


def _asked_pattern(name: str, cues: tuple[str, ...], measures: str) -> re.Pattern[str]:
    terms = {*cues, *_NAMED.get(name, ()), *re.split(r"\s*[,()]\s*|\s+vs\s+", measures.lower())}
    terms -= {"", *_TITLE_ONLY}
    # longest first, so "adjusted diluted eps" is tried before "eps"
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b")


# One pattern per statement, built once: the question is matched on every search.
_ASKED = tuple((f"Statement: {name}", _asked_pattern(name, cues, measures)) for name, cues, measures in STATEMENTS)


def statements_asked(question: str) -> tuple[str, ...]:
    """The "Statement: ..." labels of the statements whose row labels or measures the
    question names: "What was Best Buy's gross margin?" asks the income statement."""
    q = " ".join(question.lower().replace("’", "'").split())
    return tuple(label for label, pattern in _ASKED if pattern.search(q))


def units_of(text: str) -> str:
    """"in millions" when the text states a scale (a title, a header, a first row), else ""."""
    m = _UNITS.search(text)
    return f"in {(m.group(1) or m.group(2)).lower()}" if m else ""


def context_line(title: str, header: list[str], rows: list[str], section: tuple[str, ...] = ()) -> str:
    """One line for every part of the table: statement, units, periods, what it is read for."""
    head = " ".join([title, *header, *section[-1:]])
    parts: list[str] = []
    statement = statement_of(" ".join([title, *section[-1:]]), rows)
    if statement:
        parts.append(f"Statement: {statement[0]}")
    m = _UNITS.search(head) or _UNITS.search(" ".join(rows[:3]))
    if m:
        parts.append(f"in {(m.group(1) or m.group(2)).lower()}")
    periods = list(dict.fromkeys(" ".join(p.split()).strip(" ,") for p in _PERIOD.findall(" ".join(header))))
    years = list(dict.fromkeys(_YEAR.findall(" ".join(header))))
    if periods:
        parts.append("periods: " + "; ".join(periods[:4]))
    elif years:
        parts.append("periods: " + ", ".join(years[:6]))
    if statement:
        parts.append(f"used for: {statement[1]}")
    return " · ".join(parts)
