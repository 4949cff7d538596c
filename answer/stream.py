"""The model's answer checked sentence by sentence before the reader sees it.

Tokens are gathered until a sentence is complete (the next one has begun with words, not
just citation markers, which belong to the sentence before). Each complete sentence goes
through the same checks as a whole answer (answer/checks.py) and is shown with its checked
markers, so what streams is exactly the final answer:

- a first sentence that abstains ends the answer as "not found";
- a sentence repeating what an instruction inside a document asks for is never shown;
- a sentence without a citation is held back until a cited one follows (then both are
  shown; one whose figures are in no block loses its markers and is listed as unsupported);
  if nothing in the answer could be cited and some figure was unsupported, the model
  guessed: the answer is "not found" and its text is kept as the draft.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from answer.checks import (
    _LEADING_MARKERS_RE,
    Checked,
    SentenceChecker,
    _split,
    finish,
    is_abstention,
)
from answer.prompts import NOT_FOUND
from answer.text import figures, sentences

if TYPE_CHECKING:
    from answer.context import Block


class CheckedStream:
    def __init__(self, blocks: list[Block], question: str) -> None:
        self.checker = SentenceChecker(blocks, question)
        self.raw = ""
        self.done = 0  # characters of ``raw`` already turned into sentences
        self.shown: list[str] = []
        self.held: list[tuple[str, str]] = []  # (sentence, neutral | unsupported) awaiting a cited one
        self.result = Checked("", [], {})
        self.supported = 0
        self.stopped = False

    def feed(self, piece: str) -> Iterator[str]:
        """Text to show now (whole checked sentences, each with a leading space after the first)."""
        self.raw += piece
        while not self.stopped:
            pending = self.raw[self.done:]
            parts = sentences(pending)
            if len(parts) < 2:
                return
            # The last part may still grow. Markers opening it belong to the sentence before,
            # so the cut goes after them, and only once words follow them.
            last = parts[-1]
            lead = _LEADING_MARKERS_RE.match(last)
            if lead and not last[lead.end():].strip():
                return
            cut = pending.rindex(last) + (lead.end() if lead else 0)
            self.done += cut
            yield from self._emit(pending[:cut])

    def close(self) -> Iterator[str]:
        """The rest, once the model has finished."""
        if not self.stopped:
            yield from self._emit(self.raw[self.done:])
            self.done = len(self.raw)
        guessed = not self.supported and any(kind == "unsupported" for _, kind in self.held)
        if self.supported or (self.held and not guessed):
            yield from self._show([t for t, _ in self.held])
            self.held = []
        if not self.shown:
            self.result.abstained = True
            self.result.cited = []
            self.result.draft = self.raw if self.raw.strip() and self.raw.strip() != NOT_FOUND else None
            self.shown = [NOT_FOUND]
            yield NOT_FOUND

    def _emit(self, text: str) -> Iterator[str]:
        if not text.strip():
            return
        if not self.shown and not self.held and is_abstention(text) and not figures(text) \
                and len(self.raw.strip()) < 400:
            self.stopped = True  # "the documents do not say": nothing after it matters
            return
        for s in _split(text):
            c = self.checker.check(s)
            if c.unsupported is not None:
                self.result.unsupported.append(c.unsupported)
            if c.dropped:
                continue
            if not c.cites:
                self.held.append((c.text, "unsupported" if c.unsupported is not None else "neutral"))
                continue
            self.supported += 1
            for n in c.cites:
                if n not in self.result.cited:
                    self.result.cited.append(n)
            yield from self._show([*(t for t, _ in self.held), c.text])
            self.held = []

    def _show(self, texts: list[str]) -> Iterator[str]:
        for t in texts:
            yield (" " if self.shown else "") + t
            self.shown.append(t)

    def checked(self) -> Checked:
        """The final answer: the shown sentences, with the elements each citation names."""
        self.result.text = " ".join(self.shown)
        if self.result.abstained:
            return self.result
        return finish(self.result, self.checker.by_n)
