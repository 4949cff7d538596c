"""Citations checked against the blocks they point at.

- ``[n]`` pointing at no block is dropped.
- A sentence with figures (amounts, percentages, years, decimals) keeps a citation only
  if every figure is in that block. When the figures are all in another block, the
  citation moves there (small models often cite the neighbour: "off by one"); when they
  are in no block, the sentence loses its citations and is reported as unsupported.
- A sentence without figures keeps a citation only if the cited block holds at least half
  of its own words (those not in the question); else it moves to the one block that holds
  most of them, or loses its citations and is reported as unsupported.
- A sentence with no citation gets one when its figures, or most of its words, are in
  exactly one best block; a sentence that only restates the question gets none.
- An answer whose every claim is unsupported is replaced by a plain "not found": the
  model guessed.
- A sentence that repeats what an instruction inside a document asks for (a quoted string
  or code the question did not mention, from a source sentence that addresses a model)
  is dropped: the prompt says sources are data, and this catches a model that obeys anyway.
- A figure cited to a table must sit in a row or a column that the sentence names (its
  row label's or column header's distinctive words are in the sentence), not merely
  somewhere in the table: a small model that read the neighbouring cell is caught.
- Each citation names the elements of its block whose sentences or rows share the most
  words with the sentences that cite it, so the box drawn is the one that says it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from answer.prompts import NOT_FOUND
from answer.records import named
from answer.text import content_words, figure_values, figures, has_figure, sentences

if TYPE_CHECKING:
    from answer.context import Block

_MARKERS_RE = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_MARKERS_RE = re.compile(r"^((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)\s*")
_ABSTAIN_RE = re.compile(
    r"documents do not say|(?:do|does|did) not (?:say|mention|contain|provide|specify|include|state)"
    r"|(?:not|no information) (?:found|mentioned|provided|available|given|stated)"
    r"|cannot (?:be )?(?:find|found|determine|answer)|no (?:relevant )?information",
    re.IGNORECASE,
)
# "According to the information in [1], X" / "As shown in [2], X": the marker is the
# object of the phrase; dropping the marker alone would leave "according to the information in,".
_LEAD_IN_RE = re.compile(
    r"\b(?:according to|as (?:stated|shown|mentioned|reported) in|based on|from|in|see)\s+"
    r"(?:the\s+)?(?:information\s+in\s+|sources?\s+|documents?\s+|table\s+in\s+)?"
    r"((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+),?\s*",
    re.IGNORECASE,
)
_QUOTED_RE = re.compile(r"[\"“'‘]([^\"”'’]{3,60})[\"”'’]")
_CODE_RE = re.compile(r"\b(?=\w*\d)(?=\w*[A-Za-z])\w{5,}\b")  # letters and digits mixed: "5bda1dd6"
AUTO_CITE_OVERLAP = 0.6  # share of a sentence's content words a block must hold to be cited
SUPPORT_OVERLAP = 0.5  # share a cited block must hold for a sentence without figures to keep it


@dataclass
class Checked:
    text: str
    cited: list[int]  # block numbers in the order the answer first uses them
    elements: dict[int, list[str]]  # block number -> the element ids that say it
    unsupported: list[dict[str, object]] = field(default_factory=list)
    abstained: bool = False
    moved: int = 0  # citations re-pointed to the block that holds the figures
    draft: str | None = None  # the model's text when the answer was replaced


@dataclass
class _Sentence:
    text: str
    cites: list[int]


def _split(answer: str) -> list[_Sentence]:
    out: list[_Sentence] = []
    for raw in sentences(answer):
        # "... 5%. [1] Next sentence": markers opening a sentence belong to the previous one.
        lead = _LEADING_MARKERS_RE.match(raw)
        if lead and out:
            out[-1].cites.extend(_numbers(lead.group(1)))
            raw = raw[lead.end():]
        if not raw.strip():
            continue
        cites = _numbers(" ".join(m.group(0) for m in _MARKERS_RE.finditer(raw)))
        text = _MARKERS_RE.sub("", _LEAD_IN_RE.sub("", raw)).strip()
        text = text[:1].upper() + text[1:]
        if text:
            out.append(_Sentence(text, cites))
        elif out:
            out[-1].cites.extend(cites)
    return out


def _numbers(markers: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", markers)]


def is_abstention(text: str) -> bool:
    t = text.strip()
    return not t or (NOT_FOUND.lower() in t.lower()) or (len(t) < 240 and bool(_ABSTAIN_RE.search(t)))


@dataclass
class SentenceCheck:
    text: str  # the sentence with its checked markers
    cites: list[int]
    claim: bool  # it states figures
    unsupported: dict[str, object] | None = None
    dropped: bool = False  # it repeats what an instruction in a document asks for


class SentenceChecker:
    """The per-sentence checks, with what they need from the blocks computed once: the
    whole-answer check and the sentence-by-sentence stream use the same rules."""

    def __init__(self, blocks: list[Block], question: str) -> None:
        self.by_n = {b.n: b for b in blocks}
        self.values = {b.n: figure_values(f"{b.label}\n{b.text}") for b in blocks}
        self.words = {b.n: content_words(b.text) for b in blocks}
        self.labelled = {b.n: self.words[b.n] | content_words(b.label) for b in blocks}
        self.asked = set(figures(question))
        self.question = question
        self.planted = injected_strings(blocks, question)

    def check(self, s: _Sentence) -> SentenceCheck:
        by_n, values = self.by_n, self.values
        hit = [p for p in self.planted if p in s.text.lower()]
        if hit:
            why = "repeats what an instruction inside a document asks for"
            return SentenceCheck(s.text, [], False, {"sentence": s.text, "figures": hit, "cited": s.cites,
                                                     "reason": why}, dropped=True)
        valid = list(dict.fromkeys(n for n in s.cites if n in by_n))
        figs = [f for f in figures(s.text) if f not in self.asked]
        cites = valid
        unsupported: dict[str, object] | None = None
        if figs:
            holds = [n for n in by_n if all(has_figure(values[n], f) for f in figs)
                     and not misplaced(by_n[n], s.text, figs)]
            ok = [n for n in valid if n in holds]
            if ok:
                cites = ok
            elif holds:
                cites = holds[:1]
            else:
                cites = []
                missing = [f for f in figs if not any(has_figure(values[n], f) for n in by_n)]
                unsupported = {"sentence": s.text, "figures": missing or figs, "cited": valid}
                if not missing:
                    unsupported["reason"] = "not in a row or column of the table that the sentence names"
        elif not valid:
            cites = _by_words(s.text, self.words, self.question)
        else:
            # No figure to check: the cited block must hold the sentence's words. A model
            # (or an instruction in a document) citing a source that does not say it
            # would otherwise lend the sentence that source's authority.
            cites = [n for n in valid if supports(s.text, self.labelled[n], self.question)]
            if not cites:
                cites = _by_words(s.text, self.words, self.question)
            if not cites:
                unsupported = {"sentence": s.text, "figures": [], "cited": valid,
                               "reason": "its words are not in the cited source"}
        return SentenceCheck(_with_markers(s.text, cites), cites, bool(figs), unsupported)


def check(answer: str, blocks: list[Block], question: str) -> Checked:
    if is_abstention(answer) and not figures(_MARKERS_RE.sub("", answer)):
        return Checked(NOT_FOUND, [], {}, abstained=True, draft=answer if answer.strip() != NOT_FOUND else None)
    checker = SentenceChecker(blocks, question)
    result = Checked("", [], {})
    parts: list[str] = []
    claims = 0
    for s in _split(answer):
        c = checker.check(s)
        if c.unsupported is not None:
            result.unsupported.append(c.unsupported)
        if c.dropped:
            continue
        claims += c.claim
        valid = [n for n in s.cites if n in checker.by_n]
        result.moved += bool(c.cites and valid and not set(c.cites) & set(valid))
        parts.append(c.text)
        for n in c.cites:
            if n not in result.cited:
                result.cited.append(n)
    result.text = " ".join(parts)
    if claims and len(result.unsupported) == claims and not result.cited:
        return Checked(NOT_FOUND, [], {}, unsupported=result.unsupported, abstained=True, draft=answer)
    return finish(result, checker.by_n)


def finish(result: Checked, by_n: dict[int, Block]) -> Checked:
    """Name, for each cited block, the elements whose units say what the answer says."""
    sentence_of = _citing_sentences(result.text)
    result.elements = {n: pick_elements(by_n[n], sentence_of.get(n, "")) for n in result.cited}
    return result


def misplaced(block: Block, sentence: str, figs: list[str]) -> list[str]:
    """The figures of ``sentence`` that ``block``'s tables hold only in cells whose row and
    column the sentence does not name. A figure also in the block's other text (title,
    units, summary, a label, another element) is not judged here."""
    if not block.tables:
        return []
    free = figure_values("\n".join([block.label, *(u.text for u in block.units if not u.record),
                                     *(" ".join([v.head(), *v.rows, *v.columns]) for v in block.tables.values())]))
    words = content_words(sentence)
    out = []
    for f in figs:
        if has_figure(free, f):
            continue
        placed: bool | None = None
        for v in block.tables.values():
            cells = [rc for rc, text in v.cells.items() if has_figure(figure_values(text), f)]
            if cells:
                rows, cols = named(v.rows, words), named(v.columns, words)
                placed = bool(placed) or any(r in rows or c in cols for r, c in cells)
        if placed is False:
            out.append(f)
    return out


def injected_strings(blocks: list[Block], question: str) -> set[str]:
    """Strings that instruction-like source sentences ask a model to repeat, lower-cased,
    minus anything the question itself mentions."""
    from folio.sanitize import looks_like_instructions

    asked = question.lower()
    out: set[str] = set()
    for b in blocks:
        for u in b.units:
            for sent in sentences(u.text):
                if not looks_like_instructions(sent):
                    continue
                found = {m.strip().lower() for m in _QUOTED_RE.findall(sent)}
                found |= {m.lower() for m in _CODE_RE.findall(sent)}
                out |= {f for f in found if len(f) >= 3 and f not in asked}
    return out


def supports(sentence: str, block_words: set[str], question: str) -> bool:
    """The block holds at least half of what the sentence says beyond the question (a
    sentence that only restates the question claims nothing and keeps its citation)."""
    own = content_words(sentence) - content_words(question)
    return not own or len(own & block_words) / len(own) >= SUPPORT_OVERLAP


def _with_markers(text: str, cites: list[int]) -> str:
    """"Revenue rose 5% [1]." : markers go before the closing punctuation."""
    marks = "".join(f"[{n}]" for n in cites)
    if not marks:
        return text
    if text[-1] in ".!?":
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


def _by_words(sentence: str, words: dict[int, set[str]], question: str) -> list[int]:
    own = content_words(sentence) - content_words(question)
    if not own:
        return []  # it only restates the question
    if len(own) == 1:
        # One new word ("... is JOE."): cite the one block that has it, if only one does.
        holders = [n for n, w in words.items() if own <= w]
        return holders if len(holders) == 1 else []
    scored = sorted(((len(own & w) / len(own), n) for n, w in words.items()), reverse=True)
    if not scored or scored[0][0] < AUTO_CITE_OVERLAP:
        return []
    if len(scored) > 1 and scored[1][0] == scored[0][0]:
        return []  # no single best block: better no citation than a coin toss
    return [scored[0][1]]


def _citing_sentences(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for s in _split(text):
        for n in s.cites:
            out[n] = (out.get(n, "") + " " + s.text).strip()
    return out


def pick_elements(block: Block, said: str) -> list[str]:
    """The elements of ``block`` whose units share the most words with what was said."""
    ids = block.element_ids
    if len(ids) <= 1 or not said:
        return ids
    want = content_words(said)
    best: dict[str, int] = {}
    for u in block.units:
        if u.element_id:
            best[u.element_id] = max(best.get(u.element_id, 0), len(want & content_words(u.text)))
    top = max(best.values(), default=0)
    if top == 0:
        return ids
    return [i for i in ids if best.get(i, 0) >= max(1, top // 2)]
