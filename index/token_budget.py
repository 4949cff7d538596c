"""Token counting for chunking: batched, cached counts and cutting a sentence to a budget."""

from __future__ import annotations

from collections.abc import Callable, Iterable

CountTokens = Callable[[list[str]], list[int]]


class Tokens:
    """Batches and caches count_tokens calls (a tokenizer call has a fixed overhead)."""

    def __init__(self, count_tokens: CountTokens) -> None:
        self._count = count_tokens
        self._cache: dict[str, int] = {}

    def many(self, texts: Iterable[str]) -> list[int]:
        texts = list(texts)
        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            self._cache.update(zip(todo, self._count(todo)))
        return [self._cache[t] for t in texts]

    def one(self, text: str) -> int:
        return self.many([text])[0]


def split_words(sentence: str, tokens: Tokens, budget: int) -> list[str]:
    """A sentence longer than the budget, cut into word windows that fit."""
    if tokens.one(sentence) <= budget:
        return [sentence]
    words = sentence.split()
    out: list[str] = []
    start = 0
    while start < len(words):
        size = len(words) - start
        while size > 1 and tokens.one(" ".join(words[start:start + size])) > budget:
            size = max(1, size * 3 // 4)
        out.append(" ".join(words[start:start + size]))
        start += size
    return out
