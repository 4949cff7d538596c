"""Document routing: which documents a question names, as a soft prior for retrieval.

A question such as "What was Boeing's effective tax rate in FY2022?" names an issuer, a
year and (often) a form; the chunks that answer it share few words with it, and similar
filings of other companies compete for the words they do share. Each document's profile
(index/profile.py: issuer names, form, years, title) is matched against the question;
hybrid search then runs its two legs once more restricted to the routed documents and
fuses them with the others (index/search.py), so the named filing's chunks get votes
without any other document being filtered out. A question that names no document is
not routed and searches as before.

Matching is deliberately literal: a name matches when all its words (legal-form words
such as "Inc." or "Company" left out) occur in the question; a title matches when most of
its content words do. Form and year only rank documents a name or title already matched
(the corpus has many 2022 10-Ks; "2022" alone names none of them).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from index.profile import DocProfile, name_keys

if TYPE_CHECKING:
    from index.store import Store

MAX_ROUTED = 3  # a name shared by more documents names none of them in particular
# A title matches when this many of its content words are in the question, and this share
# of them: "the paper on dense passage retrieval" names a seven-word title by three.
MIN_TITLE_WORDS = 3
TITLE_SHARE = 0.4
FILE_NAME_WEIGHT = 0.5  # a file name's words ("handbook") name a document less surely than its cover
# Words that name a kind of thing, not one document: "the table on the slide" names no title.
_GENERIC = frozenset({
    "slide", "slides", "table", "tables", "figure", "figures", "chart", "page", "document", "paper",
    "presentation", "report", "test", "sample", "title", "image", "picture", "section", "chapter", "appendix",
    # a filing's cover says these of every filing
    "form", "annual", "quarterly", "fiscal", "year", "ended", "quarter", "results", "period", "transition",
})
_WORD = re.compile(r"\w+", re.UNICODE)
_YEAR = re.compile(r"\b(?:fy\s*)?'?((?:19|20)\d\d)\b", re.IGNORECASE)
_FY2 = re.compile(r"\bfy\s*'?(\d\d)\b", re.IGNORECASE)
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its",
    "of", "on", "or", "the", "to", "was", "were", "what", "which", "with", "how", "did", "does", "do", "this",
    "that", "these", "those", "their", "our", "your", "using", "via",
})
# How questions name a form; the profile's form is one of these keys.
_FORM_CUES: dict[str, re.Pattern[str]] = {
    "10-K": re.compile(r"\b10-?k\b|\bannual report\b", re.IGNORECASE),
    "10-Q": re.compile(r"\b10-?q\b|\bquarterly report\b", re.IGNORECASE),
    "8-K": re.compile(r"\b8-?k\b", re.IGNORECASE),
    "earnings release": re.compile(r"\b(?:earnings|press|results)\s+(?:release|announcement)|\bpress release\b",
                                   re.IGNORECASE),
    "paper": re.compile(r"\bpaper\b|\barticle\b", re.IGNORECASE),
    "presentation": re.compile(r"\b(?:deck|slides?|presentation)\b", re.IGNORECASE),
}


@dataclass(frozen=True)
class Route:
    source: str
    weight: float  # 0..1: how strongly the question names this document
    reasons: tuple[str, ...]
    label: str


class Router:
    """Profiles indexed by the words of their names and titles: a question is matched
    against the few documents sharing a word with it, not against every profile."""

    def __init__(self, profiles: list[DocProfile]) -> None:
        self.profiles = profiles
        self._weights: list[dict[tuple[str, ...], float]] = []
        self._by_word: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        self._glued: list[tuple[str, int, tuple[str, ...]]] = []  # "americanexpress" said "american express"
        self._by_title_word: dict[str, list[int]] = {}
        self._title_size: list[int] = []
        counts: dict[tuple[str, ...], int] = {}  # a name shared by many documents names none
        for i, p in enumerate(profiles):
            weights: dict[tuple[str, ...], float] = {}
            for names, weight in ((p.file_names, FILE_NAME_WEIGHT), (p.names, 1.0)):
                for k in (name_keys(n) for n in names):
                    if _usable(k):
                        weights[k] = weight
            self._weights.append(weights)
            for k in weights:
                counts[k] = counts.get(k, 0) + 1
                self._by_word.setdefault(k[0], []).append((i, k))
                if len(k) == 1 and len(k[0]) >= 8:
                    self._glued.append((k[0], i, k))
            title = _title_words(p.title)
            self._title_size.append(len(title))
            for tw in title:
                self._by_title_word.setdefault(tw, []).append(i)
        self._counts = counts

    def route(self, query: str) -> list[Route]:
        wordset = {w.lower() for w in _WORD.findall(query)}
        glued = "".join(w.lower() for w in _WORD.findall(query))
        names: dict[int, list[tuple[str, ...]]] = {}
        for w in wordset:
            for i, k in self._by_word.get(w, ()):
                if all(x in wordset for x in k):
                    names.setdefault(i, []).append(k)
        for text, i, k in self._glued:
            if text in glued and k not in names.get(i, []):
                names.setdefault(i, []).append(k)
        title_hits: dict[int, int] = {}
        for w in wordset:
            for i in self._by_title_word.get(w, ()):
                title_hits[i] = title_hits.get(i, 0) + 1
        years = _years(query)
        forms = {f for f, rx in _FORM_CUES.items() if rx.search(query)}
        scored: list[tuple[float, DocProfile, list[str]]] = []
        for i in sorted(set(names) | set(title_hits)):
            p = self.profiles[i]
            reasons: list[str] = []
            score = 0.0
            for k in dict.fromkeys(names.get(i, [])):
                if self._counts[k] <= MAX_ROUTED:
                    score = max(score, self._weights[i][k])
                    reasons.append(f"names {' '.join(k)!r}")
            title = _title_share(title_hits.get(i, 0), self._title_size[i])
            if title:
                score = max(score, title)
                reasons.append(f"title words {title:.0%}")
            if not score:
                continue
            if p.form in forms:
                score += 0.5
                reasons.append(f"form {p.form}")
            if years and set(p.years) & years:
                score += 0.25
                reasons.append(f"year {', '.join(str(y) for y in sorted(set(p.years) & years))}")
            scored.append((score, p, reasons))
        if not scored or len(scored) > MAX_ROUTED * 2:
            return []
        scored.sort(key=lambda t: (-t[0], t[1].source))
        top = scored[0][0]
        # Relative to the best match, and absolute: a file-name match alone stays a weak prior.
        scale = max(top, 1.0)
        return [Route(p.source, round(s / scale, 3), tuple(r), p.label()) for s, p, r in scored[:MAX_ROUTED]]


def _usable(keys: tuple[str, ...]) -> bool:
    # "us" (us-012.pdf) or "eu" would match half the questions: a one-word name needs
    # three letters, or a digit ("3M").
    return bool(keys) and (len(keys) > 1 or len(keys[0]) > 2 or any(c.isdigit() for c in keys[0]))


def _title_words(title: str) -> set[str]:
    words = {w.lower() for w in _WORD.findall(title) if len(w) > 2 and not w.isdigit()}
    return words - _STOP - _GENERIC


def _title_share(hit: int, size: int) -> float:
    if size < MIN_TITLE_WORDS or hit < MIN_TITLE_WORDS:
        return 0.0
    share = hit / size
    return share if share >= TITLE_SHARE else 0.0


def _years(query: str) -> set[int]:
    ys = {int(m.group(1)) for m in _YEAR.finditer(query)}
    ys |= {2000 + int(m.group(1)) for m in _FY2.finditer(query)}
    return ys


# ---- one router per index version -------------------------------------------------------

_lock = threading.Lock()
_cache: dict[str, tuple[Any, Router]] = {}


def router_for(store: Store) -> Router:
    """The router over the store's committed profiles, rebuilt when the profiles change."""
    tbl = store.profiles_table
    version = tbl.version if tbl is not None else None
    key = str(store.path)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
    router = Router([DocProfile.from_dict(d) for d in store.profiles()])
    with _lock:
        _cache[key] = (version, router)
    return router
