"""Text pieces on a page -> lines and phrase segments, the raw material of table detection.

Both the text layer (PyMuPDF words) and OCR (RapidOCR line boxes) end up as ``Seg``:
a run of text whose neighbours on the same line are far enough away to be in another
cell. Everything downstream (column detection, headers) works on segments only, so
scanned and born-digital tables share one structure algorithm.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# A value cell of a financial/statistical table: numbers with separators, signs,
# parentheses for negatives, currency, percent, footnote marks; or a nil dash.
_NUM_RE = re.compile(
    r"^[\(\[]?[-+−–]?[$€£¥]?\s?[-+−–]?\(?\d[\d,.\s]*\)?\s?(%|x|pts?|bps)?\)?[\]*†‡]?(\s*\(\w\))?$"
    r"|^[-—–]+$|^n/?a$|^nm$|^\*+$",
    re.IGNORECASE,
)
# "(1)" after a heading is a footnote mark, not a value
_NOTE_RE = re.compile(r"^\(\d\)$")
_CURRENCY = {"$", "€", "£", "¥", "US$"}
# Closing tokens that PDF producers set as their own word after a number.
_TRAILERS = {")", "%", ")%", "%)", "pts", "bps"}
# Table-of-contents leaders ("Notices . . . . . vii") make two aligned columns but are prose.
_LEADER_RE = re.compile(r"(\.\s?){4,}|…{2,}|_{4,}")


# A measurement: a number with a short unit ("142/88 mmHg", "98.6°F", "110 mg/dL", "16 breaths/min").
_MEASURE_RE = re.compile(r"^[<>≤≥~±]?\d[\d,.:/\-–]*\s?(%|°[CF]?|[A-Za-zµ°%]+(/[A-Za-z]+)?)?$")


def is_value(text: str) -> bool:
    """A value cell: a number, a nil mark, or a measurement with its unit."""
    t = text.strip()
    return is_number(t) or (len(t) <= 20 and bool(_MEASURE_RE.match(t)))


def is_number(text: str) -> bool:
    t = text.strip()
    return bool(t) and len(t) <= 24 and bool(_NUM_RE.match(t))


@dataclass(slots=True)
class Seg:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    bold: bool = False

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass(slots=True)
class Line:
    segs: list[Seg] = field(default_factory=list)

    @property
    def y0(self) -> float:
        return min(s.y0 for s in self.segs)

    @property
    def y1(self) -> float:
        return max(s.y1 for s in self.segs)

    @property
    def x0(self) -> float:
        return min(s.x0 for s in self.segs)

    @property
    def x1(self) -> float:
        return max(s.x1 for s in self.segs)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segs)

    def is_data(self) -> bool:
        """A table body line: several cells, and a number somewhere after the first cell
        (numbered list items start with their number, so they do not count)."""
        if len(self.segs) < 2 or any(_LEADER_RE.search(s.text) for s in self.segs):
            return False
        return any(is_value(s.text) and not _NOTE_RE.match(s.text) for s in self.segs[1:])


def group_lines(segs: Iterable[Seg]) -> list[Line]:
    """Cluster pieces into visual lines by vertical overlap (top to bottom)."""
    lines: list[Line] = []
    cur: Line | None = None
    cy0 = cy1 = 0.0
    for s in sorted(segs, key=lambda s: (s.yc, s.x0)):
        if cur is not None:
            overlap = min(cy1, s.y1) - max(cy0, s.y0)
            if overlap > 0.5 * min(cy1 - cy0, s.h):
                cur.segs.append(s)
                cy0, cy1 = min(cy0, s.y0), max(cy1, s.y1)
                continue
        cur = Line([s])
        cy0, cy1 = s.y0, s.y1
        lines.append(cur)
    for ln in lines:
        ln.segs.sort(key=lambda s: s.x0)
    return lines


def _join(a: Seg, b: Seg) -> Seg:
    return Seg(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1), f"{a.text} {b.text}", a.bold)


def phrase_segments(words: Sequence[Seg], gap_factor: float = 0.55) -> list[Seg]:
    """Join the words of one line into phrases: a gap wider than ``gap_factor`` x the
    text height starts a new cell. Word spaces are ~0.25-0.35 em, cell gutters >= 1 em."""
    groups: list[list[Seg]] = []
    for w in sorted(words, key=lambda w: w.x0):
        if groups:
            prev = groups[-1][-1]
            gap = w.x0 - prev.x1
            h = max(min(prev.h, w.h), 1.0)
            # two numbers side by side are two cells even in tightly set columns
            if gap < gap_factor * h and not (
                gap > 0.15 * h and not prev.text.endswith(",") and is_number(w.text) and is_number(prev.text)
            ):
                groups[-1].append(w)
                continue
        groups.append([w])
    out = [
        Seg(
            g[0].x0,
            min(w.y0 for w in g),
            max(w.x1 for w in g),
            max(w.y1 for w in g),
            " ".join(w.text for w in g),
            g[0].bold,
        )
        for g in groups
    ]
    return attach_symbols(out)


def attach_symbols(segs: list[Seg]) -> list[Seg]:
    """Glue a lone currency symbol to the number after it and a lone ')' or '%' to the
    number before it: financial statements set them in their own column."""
    out: list[Seg] = []
    pending: Seg | None = None
    for s in segs:
        t = s.text.strip()
        if t in _CURRENCY:
            pending = s if pending is None else _join(pending, s)
            continue
        if pending is not None:
            s = Seg(
                pending.x0,
                min(pending.y0, s.y0),
                s.x1,
                max(pending.y1, s.y1),
                f"{pending.text}{'' if t[:1].isdigit() or t[:1] == '(' else ' '}{s.text}",
                s.bold,
            )
            s.text = s.text.replace("$ ", "$")
            pending = None
        if out and t in _TRAILERS and is_number(out[-1].text):
            p = out[-1]
            out[-1] = Seg(p.x0, min(p.y0, s.y0), s.x1, max(p.y1, s.y1), p.text + t, p.bold)
            continue
        out.append(s)
    if pending is not None:
        out.append(pending)
    return out


def page_lines(words: Sequence[Seg]) -> list[Line]:
    """Visual lines of a page split into phrase segments."""
    lines = group_lines(words)
    return [Line(phrase_segments(ln.segs)) for ln in lines]


def median_line_height(lines: Sequence[Line]) -> float:
    hs = [s.h for ln in lines for s in ln.segs if s.h > 0]
    return statistics.median(hs) if hs else 10.0
