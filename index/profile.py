"""A document's profile: who issued it, what kind of document it is, which period it covers.

Built at ingest from the first elements and the file name, stored beside the document
(index ``profiles`` table) and matched against questions at query time (index/routing.py).
A question like "What was 3M's effective tax rate in FY2022?" names a company and a year
but shares few words with the tax note it needs, while eleven similar filings compete for
the same words; the profile is what tells them apart.

Everything here is pattern reading over the cover page, no model: SEC filings state the
registrant ("(Exact name of registrant as specified in its charter)"), the form and the
period on page 1; press releases name the company before its ticker ("(NYSE: MGM)");
papers and decks put their title first.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from folio.element import Element
from folio.filetype import doc_kind

# 2: the name under "Commission file number"; 3: not "<Company> reports ..." titles (measured:
# the release then ties with the issuer's 10-K and lost a dev question, no gain on our sets)
PROFILE_VERSION = 3
_HEAD_ELEMENTS = 80  # the cover page and a little more
_REGISTRANT = re.compile(r"exact name of (?:the )?registrant", re.IGNORECASE)
_TICKER = re.compile(
    r"([A-Z][\w.,&' -]{2,60}?)\s*\((?:NYSE|NASDAQ|Nasdaq|NYSE American|LSE|ASX|TSX)\s*:\s*([A-Z.]{1,6})\)"
)
_FORM = re.compile(r"\bform\s+(10-K|10-Q|8-K|20-F|6-K|40-F|S-1|DEF 14A)\b", re.IGNORECASE)
_FILE_NUMBER = re.compile(r"commission file (?:number|no)", re.IGNORECASE)
_RELEASE = re.compile(r"\b(reports?|announces?|results|earnings|press release)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_FISCAL = re.compile(
    r"(?:fiscal year|year|quarterly period|quarter|period|months)\s+ended\s+([A-Z][a-z]+\.?\s+\d{1,2},?\s+(\d{4}))"
    r"|\b(?:fiscal|FY)\s*'?(\d{4}|\d{2})\b"
    r"|\b(first|second|third|fourth)\s+quarter(?:\s+(?:of\s+)?(?:fiscal\s+)?(\d{4}))?",
    re.IGNORECASE,
)
# Legal-form words: "3M Company" and "3M" name the same issuer.
_LEGAL = {
    "inc", "incorporated", "corp", "corporation", "co", "company", "companies", "plc", "ltd", "limited",
    "llc", "lp", "sa", "ag", "nv", "group", "holdings", "the", "and", "subsidiaries",
}
_FORM_WORDS = {"10k": "10-K", "10q": "10-Q", "8k": "8-K", "20f": "20-F"}
# File-name words that say what the file is, not who issued it.
_FILE_NOISE = {"earnings", "dated", "report", "annual", "quarterly", "final", "draft", "copy", "scan"}
_WORD = re.compile(r"\w+", re.UNICODE)
_LETTERHEAD = re.compile(r"securities and exchange commission|^washington", re.IGNORECASE)


@dataclass(frozen=True)
class DocProfile:
    source: str
    title: str = ""
    names: tuple[str, ...] = ()  # issuer names and tickers as the document writes them
    file_names: tuple[str, ...] = ()  # name-like words of the file name ("AMERICANEXPRESS")
    form: str = ""  # 10-K, 10-Q, 8-K, earnings release, paper, presentation, document
    years: tuple[int, ...] = ()  # fiscal years or publication years the document covers
    period: str = ""  # "fiscal year ended December 31, 2022" as written
    version: int = PROFILE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocProfile:
        return cls(
            source=str(d.get("source") or ""), title=str(d.get("title") or ""),
            names=tuple(d.get("names") or ()), file_names=tuple(d.get("file_names") or ()),
            form=str(d.get("form") or ""),
            years=tuple(int(y) for y in d.get("years") or ()), period=str(d.get("period") or ""),
            version=int(d.get("version") or 0),
        )

    def label(self) -> str:
        """One line a person reads: "3M Company · 10-K · 2022"."""
        parts = [self.names[0] if self.names else self.title[:60] or PurePath(self.source).stem]
        if self.form:
            parts.append(self.form)
        if self.years:
            parts.append("/".join(str(y) for y in self.years[:2]))
        return " · ".join(parts)


@dataclass
class _Reader:
    texts: list[str]
    roles: list[str]
    names: list[str] = field(default_factory=list)

    def registrant(self) -> None:
        for i, t in enumerate(self.texts):
            if _REGISTRANT.search(t):
                before = _REGISTRANT.split(t)[0].strip(" (")
                cand = _name_tail(before or (self.texts[i - 1] if i else ""))
                if cand:
                    self.names.append(cand)
                return

    def after_file_number(self) -> None:
        """Covers without the registrant line put the name as a heading under the
        "Commission file number" line (3M's 10-K: "3M COMPANY")."""
        for i, t in enumerate(self.texts[:40]):
            if _FILE_NUMBER.search(t):
                for nxt, role in zip(self.texts[i + 1:i + 3], self.roles[i + 1:i + 3]):
                    if role in ("title", "heading") and 1 <= len(nxt.split()) <= 6:
                        self.names.append(nxt.strip(" ,."))
                        return
                return

    def tickers(self) -> None:
        for t in self.texts[:30]:
            for m in _TICKER.finditer(t):
                name = m.group(1).strip(" ,.")
                # "Las Vegas, Nevada, February 8, 2023 – MGM Resorts International": keep the tail
                name = re.split(r"\s[–—-]\s|\d{4}\s", name)[-1].strip(" ,.")
                if name:
                    self.names.append(name)
                self.names.append(m.group(2))
            if self.names:
                return


def _name_tail(text: str, limit: int = 8) -> str:
    """The name at the end of a cover line: "... December 31, 2022 ACME CORPORATION" ->
    "ACME CORPORATION" (capitalised words, "&", "of", "and"; a date or a sentence ends it)."""
    words = text.split()
    take: list[str] = []
    for w in reversed(words):
        bare = w.strip(",.")
        if not bare or len(take) >= limit:
            break
        # "3M" is a name, "2022" or "31," is the date before it
        if bare.isdigit() or not (bare[0].isupper() or bare[0].isdigit() or bare in {"&", "of", "and", "the"}):
            break
        take.append(w)
    return " ".join(reversed(take)).strip(" ,.")


def build_profile(elements: list[Element]) -> DocProfile | None:
    """The profile of one document from its elements (reading order), or None if empty."""
    if not elements:
        return None
    source = elements[0].source
    head = sorted(elements, key=lambda e: e.order)[:_HEAD_ELEMENTS]
    texts = [" ".join(e.text.split()) for e in head if e.text and e.kind != "image"]
    roles = [e.role for e in head if e.text and e.kind != "image"]
    reader = _Reader(texts, roles)
    reader.registrant()
    if not reader.names:
        reader.after_file_number()
    if not reader.names:
        reader.tickers()
    title = _title(head)
    joined = "\n".join(texts)
    form = _form(joined, title, source)
    years, period = _period(joined, source)
    names = tuple(dict.fromkeys(n for n in reader.names if n))
    return DocProfile(source=source, title=title, names=names, file_names=tuple(_file_names(source)), form=form,
                      years=tuple(years), period=period)


def _title(head: list[Element]) -> str:
    for e in head:
        t = " ".join(e.text.split())
        if e.role == "title" and t and not t.isupper() and len(t.split()) >= 2:
            return t[:200]
    for e in head:
        t = " ".join(e.text.split())
        if e.role in ("title", "heading") and len(t.split()) >= 3 and not _LETTERHEAD.search(t):
            return t[:200]
    return ""


def _form(text: str, title: str, source: str) -> str:
    m = _FORM.search(text[:4000])
    if m:
        return m.group(1).upper()
    for w in _words(PurePath(source).stem):
        if w in _FORM_WORDS:
            return _FORM_WORDS[w]
    if title and _RELEASE.search(title):
        return "earnings release"
    if re.search(r"\babstract\b", text[:3000], re.IGNORECASE) or "arxiv" in text[:3000].lower():
        return "paper"
    if re.search(r"earnings|results", PurePath(source).stem, re.IGNORECASE):
        return "earnings release"
    return doc_kind(source)


def _period(text: str, source: str) -> tuple[list[int], str]:
    years: list[int] = []
    period = ""
    for m in _FISCAL.finditer(text[:6000]):
        if m.group(1):
            period = period or " ".join(m.group(0).split())
            years.append(int(m.group(2)))
        elif m.group(3):
            y = m.group(3)
            years.append(int(y) if len(y) == 4 else 2000 + int(y))
        elif m.group(5):
            years.append(int(m.group(5)))
        if len(years) >= 3:
            break
    years.extend(int(y) for y in _YEAR.findall(re.sub(r"[_-]", " ", PurePath(source).stem)))
    return list(dict.fromkeys(years))[:4], period


def _file_names(source: str) -> list[str]:
    """Name-like words of the file name: "AMERICANEXPRESS_2022_10K" -> ["AMERICANEXPRESS"]."""
    stem = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", PurePath(source).stem)
    words = [w for w in re.split(r"[\s_\-.]+", stem) if w]
    keep = [w for w in words if not _YEAR.fullmatch(w) and w.lower() not in _FORM_WORDS
            and w.lower() not in _FILE_NOISE and (len(w) > 2 or any(c.isdigit() for c in w))
            and not re.fullmatch(r"(?:q\d|\d{4}q\d|v\d+|pg?\d+|\d+p?|\d{4}-\d\d-\d\d)", w, re.IGNORECASE)]
    return [" ".join(keep)] if keep and len(keep) <= 4 else []


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def name_keys(name: str) -> tuple[str, ...]:
    """A name as lower-case words without legal-form words: "The Boeing Company" -> ("boeing",)."""
    words = [w for w in _words(name.replace(".com", "")) if w not in _LEGAL]
    return tuple(words)
