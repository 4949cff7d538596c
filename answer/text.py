"""Small text helpers shared by context selection and citation checks: content words,
figures compared as numbers, sentences."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from folio.numbers import find_numbers, holds, is_figure, number_values, parse_number

# Words that say nothing about which row or sentence holds an answer.
STOPWORDS = frozenset({
    "a", "about", "above", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "before",
    "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "during",
    "each", "for", "from", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how",
    "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor",
    "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same", "she",
    "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "according",
    "document", "documents", "report", "page", "slide", "table", "figure", "shown", "show", "shows", "tell",
    "give", "many", "much",
})

# A number is a word without the punctuation after it ("2025," is "2025").
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+(?:[.,]\d+)*")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[\"'])|\n+")


def content_words(text: str) -> set[str]:
    """Lower-cased words and numbers minus stopwords, with a crude stem (first 6 letters)
    so "margins" meets "margin" and "operating" meets "operations"."""
    out: set[str] = set()
    for w in _WORD_RE.findall(text.lower()):
        w = w.strip("'-")
        if not w or w in STOPWORDS:
            continue
        if w[0].isdigit():
            out.add(w.replace(",", ""))
        elif len(w) > 2:
            out.add(w[:6])
    return out


def overlap_scores(texts: Sequence[str], query: str) -> list[float]:
    """Per text: the question's words and figures it shares, each weighted by how rare it
    is among ``texts`` (a word in every row, like a column name, says little) and figures
    twice (a year or an amount pins a row better than a word)."""
    q = content_words(query)
    sets = [content_words(t) & q for t in texts]
    n = len(texts)
    df: dict[str, int] = {}
    for ws in sets:
        for w in ws:
            df[w] = df.get(w, 0) + 1
    return [sum((2.0 if w[0].isdigit() else 1.0) * math.log(1 + n / df[w]) for w in ws) for ws in sets]


def figure_value(token: str) -> float | None:
    """The number a figure token stands for ("(1,234.5)" -> -1234.5), None if none."""
    n = parse_number(token) or next(iter(find_numbers(token)), None)
    return n.value if n is not None else None


def figures(text: str) -> list[str]:
    """Figures worth checking in a sentence, as printed: amounts, percentages, years,
    decimals (read by folio.numbers: "2025," is 2025, "1.234,5" is 1234.5)."""
    return [n.raw for n in find_numbers(text) if is_figure(n)]


def figure_values(text: str) -> set[float]:
    return number_values(text)


def has_figure(values: set[float], token: str) -> bool:
    n = parse_number(token) or next(iter(find_numbers(token)), None)
    return n is None or holds(values, n)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if s and s.strip()]
