"""How a question is answered once its blocks are built: one of three paths.

- ``computed``: the question needs arithmetic (a ratio, a margin, a growth rate, a
  difference...). The model names operands and one expression; Python computes
  (answer/compute.py). Never the model.
- ``lookup``: the question asks for one value and a table is among the blocks. The model
  names the table, the row and the column; the value comes from the grid (answer/lookup.py).
- ``extract`` (text): the model first picks the sentences or rows that answer, by number,
  then writes the answer from them, in the same conversation (the KV cache holds the
  sources, so the second call reads only the picked sentences and the instruction).

A path that cannot answer (no usable operands, no usable cell) falls through to the next;
every path's text goes through the sentence checks before it is shown (answer/stream.py).
Structured outputs use JSON-schema grammars: a small model cannot name a row, a block or a
sentence that does not exist.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from answer import prompts
from answer.checks import Checked, finish
from answer.stream import CheckedStream

if TYPE_CHECKING:
    from answer.backends import Backend, Prompt
    from answer.compute import Computed
    from answer.context import Block
    from answer.records import Similarity
    from folio.config import AnswerSettings

log = logging.getLogger(__name__)
MAX_PICKS = 4
PICK_TOKENS = 48


@dataclass
class Outcome:
    checked: Checked
    path: str  # computed | lookup | extract | plain | none
    model_calls: int = 0
    ttft_s: float | None = None
    detail: dict[str, Any] | None = None  # the computation or the cell, for the reader's cards
    notes: list[str] = field(default_factory=list)


class Answerer:
    """Runs the paths for one question. ``run`` yields the text to show and returns the
    Outcome (``outcome = yield from answerer.run()``)."""

    def __init__(self, backend: Backend, system: str, settings: AnswerSettings, blocks: list[Block],
                 question: str, prompt: Prompt, similarity: Similarity | None = None) -> None:
        self.backend, self.system, self.settings = backend, system, settings
        self.similarity = similarity  # texts -> cosine to the question (row selection in tables)
        self.blocks, self.question, self.prompt = blocks, question, prompt
        self.t0 = time.perf_counter()
        self.calls = 0
        self.ttft: float | None = None
        self.arithmetic = False  # the computed path found the question needs arithmetic

    def run(self) -> Generator[str, None, Outcome]:
        enabled = set(self.settings.paths)
        for name, attempt in (("computed", self._computed), ("lookup", self._lookup)):
            if name not in enabled:
                continue
            try:
                done = yield from attempt()
            except Exception as e:  # a path is an optimisation: any failure falls through
                log.warning("answer path %s failed, falling through: %s", name, e)
                done = None
            if done is not None:
                return done
        if "extract" in enabled:
            return (yield from self._extract())
        return (yield from self._stream(self.prompt, "plain"))

    # ---- computed and lookup: the text is written by code from checked values --------------

    def _computed(self) -> Generator[str, None, Outcome | None]:
        from answer.compute import compute
        from answer.measures import catalogue_for, needs_arithmetic

        catalogue = catalogue_for(self.settings)
        self.arithmetic = needs_arithmetic(self.question, catalogue)
        if not self.arithmetic:
            return None
        self.calls += 1
        res = compute(self.backend, self.system, self.blocks, self.question, catalogue)
        if res is None or not usable(res):
            return None
        cited: dict[int, list[str]] = {}
        for op in res.operands:
            ids = cited.setdefault(op.block, [])
            if op.element_id and op.element_id not in ids:
                ids.append(op.element_id)
        detail = {"expression": res.expression, "result": res.result,
                  "operands": [{"name": op.name, "value": op.value, "raw": op.raw, "n": op.block,
                                "element_id": op.element_id} for op in res.operands]}
        out = yield from self._written(res.text, cited, "computed", detail)
        if not res.ok:
            # Shown with its doubt rather than replaced: after a computation the text path
            # answered "the documents do not say" (0 of 10 right on the analyst set), and
            # the formula with its cited operands lets the reader check the doubt at once.
            out.checked.unsupported.append({"sentence": res.text, "figures": [], "cited": sorted(cited),
                                            "reason": "not verified: " + "; ".join(res.warnings)})
            out.notes += res.warnings
        return out

    def _lookup(self) -> Generator[str, None, Outcome | None]:
        from answer.lookup import asks_for_value, lookup

        if not any(b.hit.kind == "table" for b in self.blocks) or not asks_for_value(self.question):
            return None
        if self.arithmetic:
            return None  # one cell is not a ratio: a failed computation goes to the text path
        self.calls += 1
        res = lookup(self.backend, self.system, self.blocks, self.question, similarity=self.similarity)
        if res is None:
            return None
        detail = {"row": res.row, "column": res.column, "value": res.value, "units": res.units, "n": res.n,
                  "element_id": res.element_id, "page": res.page, "bbox": list(res.bbox) if res.bbox else None}
        return (yield from self._written(res.answer, {res.n: [res.element_id]}, "lookup", detail))

    def _written(self, text: str, cited: dict[int, list[str]], path: str,
                 detail: dict[str, Any]) -> Generator[str, None, Outcome]:
        self._first()
        yield text
        by_n = {b.n: b for b in self.blocks}
        checked = Checked(text, [n for n in cited if n in by_n], {})
        checked = finish(checked, by_n)
        for n, ids in cited.items():
            if n in by_n and ids:
                checked.elements[n] = [i for i in ids if i]
        return Outcome(checked, path, self.calls, self.ttft, detail)

    # ---- text: extract, then phrase ---------------------------------------------------------

    def _extract(self) -> Generator[str, None, Outcome]:
        ids = sentence_ids(self.blocks)
        if not ids:
            return (yield from self._stream(self.prompt, "plain"))
        messages = prompts.extract_messages(self.system, self.blocks, self.question)
        pick_prompt = self.backend.prompt(messages)
        schema = {"type": "object", "properties": {"ids": {
            "type": "array", "items": {"type": "string", "enum": list(ids)}, "maxItems": MAX_PICKS}},
            "required": ["ids"]}
        self.calls += 1
        try:
            out = self.backend.complete_json(pick_prompt, schema, PICK_TOKENS)
        except Exception as e:
            log.warning("sentence picking failed, answering from all sources: %s", e)
            return (yield from self._stream(self.prompt, "plain"))
        picked = [ids[i] for i in dict.fromkeys(out.get("ids") or []) if isinstance(i, str) and i in ids]
        if not picked:
            # Nothing picked: a small model then parrots any follow-up instruction, so the
            # plain answer prompt decides (it may still say the documents do not say).
            return (yield from self._stream(self.prompt, "plain"))
        phrase = self.backend.prompt([
            *messages, {"role": "assistant", "content": _compact_json(out)},
            {"role": "user", "content": prompts.phrase_request(picked)},
        ])
        return (yield from self._stream(phrase, "extract"))

    def _stream(self, prompt: Prompt, path: str) -> Generator[str, None, Outcome]:
        stream = CheckedStream(self.blocks, self.question)
        self.calls += 1
        pieces = self.backend.stream(prompt, self.settings.max_tokens)
        try:
            for piece in pieces:
                for text in stream.feed(piece):
                    self._first()
                    yield text
                if stream.stopped:
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # releases the model when the reader went away mid-answer
        for text in stream.close():
            self._first()
            yield text
        return Outcome(stream.checked(), path, self.calls, self.ttft)

    def _first(self) -> None:
        if self.ttft is None:
            self.ttft = time.perf_counter() - self.t0


def usable(res: Computed) -> bool:
    """A computation the reader may see: checked, or doubted only in where an operand sits
    (a row that does not name it, another year's column). One figure used for two operands
    is a misreading, not a doubt: the text path answers instead."""
    from answer.operands import QUESTION

    cells = [(o.block, o.raw) for o in res.operands if o.block != QUESTION]
    return res.ok or len(cells) == len(set(cells))


def sentence_ids(blocks: list[Block]) -> dict[str, tuple[Block, int]]:
    """"n.m" -> (block, unit index): the numbers the model picks sentences and rows by."""
    return {f"{b.n}.{m}": (b, m - 1) for b in blocks for m in range(1, len(b.units) + 1)}


def _compact_json(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
