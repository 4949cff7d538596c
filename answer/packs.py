"""Statement packs: the primary statements a measure is built from join the context.

"What is 3M's FY2022 quick ratio?" shares no word with the balance sheet that holds its
operands (current assets, inventories, current liabilities). When the question names a
document (routing) and asks for something the statements are read for (index/table_context.py
``statements_asked``: measures, line items, the statements' own names), the best table
chunk of each such statement in that document joins the hits, even when plain retrieval
ranked it nowhere. Comparison questions ("FY2022 vs FY2021", "between 2021 and 2022") also
search once per period, so each period's column or table gets its own chance.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from index.routing import router_for
from index.search import search
from index.table_context import statements_asked

if TYPE_CHECKING:
    from index.search import Hit, QueryEmbedder
    from index.store import Store

MIN_ROUTE_WEIGHT = 0.5  # the question must name the document fairly clearly
PER_STATEMENT = 1
_PERIOD_RE = re.compile(r"\b(?:FY\s?'?\d{2,4}|Q[1-4]\s?(?:FY)?\s?'?\d{2,4}|(?:19|20)\d\d)\b", re.IGNORECASE)


def statement_hits(store: Store, embedder: QueryEmbedder, query: str, rrf_k: int = 60) -> list[Hit]:
    """Table chunks of the statements the question asks about, from the document it names."""
    asked = statements_asked(query)
    if not asked:
        return []
    routes = [r for r in router_for(store).route(query) if r.weight >= MIN_ROUTE_WEIGHT][:1]
    if not routes:
        return []
    source = routes[0].source
    out: list[Hit] = []
    for label in asked:
        name = label.removeprefix("Statement: ")
        hits = search(store, embedder, f"{name} {query}", 4, source=source, kind="table", rrf_k=rrf_k, routes=[])
        labelled = [h for h in hits if label in h.text]
        # The statement itself before a note table that reads like one: 3M's restructuring
        # tables list cost of sales, SG&A and R&D too, and ranked above its "Consolidated
        # Statement of Income" for "... consolidated statement of income, how much ... R&D".
        titled = [h for h in labelled if _titled(name, h)]
        out += (titled or labelled)[:PER_STATEMENT]
    return out


_TITLES = {
    "income statement": re.compile(r"\bstatements? of (?:consolidated )?(?:income|operations|earnings)\b"
                                   r"|\bincome statements?\b", re.IGNORECASE),
    "balance sheet": re.compile(r"\bbalance sheets?\b|\bstatements? of financial (?:position|condition)\b",
                                re.IGNORECASE),
    "cash flow statement": re.compile(r"\bstatements? of (?:consolidated )?cash flows?\b", re.IGNORECASE),
}


def _titled(name: str, hit: Hit) -> bool:
    """Whether the chunk's heading (its first line: file, section path, page) or its
    section names the statement by its own title."""
    pattern = next((p for key, p in _TITLES.items() if name.startswith(key)), None)
    if pattern is None:
        return False
    first = hit.text.split("\n", 1)[0]
    return bool(pattern.search(first) or pattern.search(" ".join(hit.section)))


def period_queries(query: str) -> list[str]:
    """One query per period for a question comparing two or more periods, else none."""
    periods = list(dict.fromkeys(" ".join(m.split()) for m in _PERIOD_RE.findall(query)))
    if len(periods) < 2:
        return []
    others = [p for p in periods]
    out = []
    for p in periods:
        q = query
        for o in others:
            if o != p:
                q = re.sub(re.escape(o), " ", q)
        out.append(" ".join(q.split()))
    return out


def merge(first: list[Hit], extra: list[Hit], k: int) -> list[Hit]:
    """``first`` in its order with ``extra`` added (no duplicates); when over ``k``, the
    extra hits take the places of the lowest-ranked hits that were not asked for by name.
    An extra hit already in ``first`` keeps its place (cutting ``first`` to make room must
    not drop it: Amazon's income statement ranked fifth and was cut for the balance sheet)."""
    wanted = {h.chunk_id for h in extra}
    seen = {h.chunk_id for h in first}
    add = [h for h in extra if h.chunk_id not in seen and not seen.add(h.chunk_id)]  # type: ignore[func-returns-value]
    if not add:
        return first
    out = list(first)
    while len(out) + len(add) > k:
        spare = [i for i in range(1, len(out)) if out[i].chunk_id not in wanted]
        if not spare:
            break
        del out[spare[-1]]
    return [*out, *add]
