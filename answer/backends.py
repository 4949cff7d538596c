"""Where answers are generated, chosen by ``answer.backend``:

- ``llama-cpp`` (default): the pipeline's GGUF model in this process, through folio/llm.py.
  The prompt is formatted here with the model's own chat template, so the exact text sent
  can be shown (``--show-prompt``) and counted.
- ``openai``: any OpenAI-compatible server (llama.cpp server, vLLM, Ollama) for bigger
  machines; the key comes from an environment variable. Off unless a pipeline asks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from folio.config import AnswerSettings, ModelSettings
from folio.errors import FolioError


class BackendError(FolioError):
    """The model could not be loaded or the server did not answer."""


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    text: str  # exactly what the model receives (rendered template, or the JSON request)
    tokens: int
    stop: list[str]


class Backend(Protocol):
    model_id: str
    kind: str

    def count_tokens(self, text: str) -> int: ...

    def prompt(self, messages: list[dict[str, str]]) -> Prompt: ...

    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]: ...

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        """One short structured output: JSON of the schema's shape, parsed (BackendError if not)."""
        ...


def parse_json(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BackendError(f"{where}: the model's structured output is not JSON ({e}): {text[:200]!r}") from None
    if not isinstance(data, dict):
        raise BackendError(f"{where}: the model's structured output is not a JSON object: {text[:200]!r}")
    return data


class LlamaCppBackend:
    kind = "llama-cpp"

    def __init__(self, models: ModelSettings, settings: AnswerSettings) -> None:
        from folio.llm import load_llm
        from folio.models import resolve_llm

        file = resolve_llm(models)
        self.llm = load_llm(file, n_ctx=settings.n_ctx, threads=settings.threads or models.threads,
                            n_gpu_layers=settings.n_gpu_layers)
        self.model_id = file.model_id

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def prompt(self, messages: list[dict[str, str]]) -> Prompt:
        text, stop = self.llm.format_chat(messages)
        return Prompt(messages, text, self.llm.count_tokens(text), stop)

    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        # Leave room for the answer inside the context window.
        room = self.llm.n_ctx - prompt.tokens - 8
        if room < 16:
            raise BackendError(f"prompt of {prompt.tokens} tokens does not fit n_ctx={self.llm.n_ctx}")
        return self.llm.stream(prompt.text, prompt.stop, min(max_tokens, room))

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        room = self.llm.n_ctx - prompt.tokens - 8
        if room < 16:
            raise BackendError(f"prompt of {prompt.tokens} tokens does not fit n_ctx={self.llm.n_ctx}")
        return parse_json(self.llm.complete_json(prompt.text, schema, min(max_tokens, room)), self.model_id)


class OpenAIBackend:
    """Streams from ``{base_url}/chat/completions`` with server-sent events."""

    kind = "openai"

    def __init__(self, settings: AnswerSettings) -> None:
        self.cfg = settings.openai
        self.model_id = f"openai:{self.cfg.model}@{self.cfg.base_url}"

    def count_tokens(self, text: str) -> int:
        # The server's tokenizer is not known here; ~4 characters a token is the usual estimate.
        return max(1, len(text) // 4)

    def prompt(self, messages: list[dict[str, str]]) -> Prompt:
        text = json.dumps({"model": self.cfg.model, "messages": messages}, ensure_ascii=False, indent=1)
        return Prompt(messages, text, sum(self.count_tokens(m["content"]) for m in messages), [])

    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        import httpx

        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.cfg.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {"model": self.cfg.model, "messages": prompt.messages, "stream": True,
                "temperature": 0, "max_tokens": max_tokens}
        url = self.cfg.base_url.rstrip("/") + "/chat/completions"
        try:
            with httpx.stream("POST", url, json=body, headers=headers, timeout=self.cfg.timeout_s) as r:
                if r.status_code != 200:
                    r.read()
                    raise BackendError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    delta = json.loads(data)["choices"][0].get("delta") or {}
                    if delta.get("content"):
                        yield str(delta["content"])
        except httpx.HTTPError as e:
            raise BackendError(f"{url}: {e}") from e

    def complete_json(self, prompt: Prompt, schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
        """OpenAI-style structured output (``response_format`` with the JSON schema); llama.cpp
        server, vLLM and Ollama accept it."""
        import httpx

        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.cfg.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {"model": self.cfg.model, "messages": prompt.messages, "temperature": 0, "max_tokens": max_tokens,
                "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}}
        url = self.cfg.base_url.rstrip("/") + "/chat/completions"
        try:
            r = httpx.post(url, json=body, headers=headers, timeout=self.cfg.timeout_s)
        except httpx.HTTPError as e:
            raise BackendError(f"{url}: {e}") from e
        if r.status_code != 200:
            raise BackendError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
        content = r.json()["choices"][0]["message"].get("content") or ""
        return parse_json(str(content), url)


BACKENDS: dict[str, Callable[[ModelSettings, AnswerSettings], Any]] = {
    "llama-cpp": LlamaCppBackend,
    "openai": lambda _models, settings: OpenAIBackend(settings),
}


def load_backend(models: ModelSettings, settings: AnswerSettings) -> Backend:
    try:
        make = BACKENDS[settings.backend]
    except KeyError:
        raise BackendError(f"unknown answer.backend {settings.backend!r}; known: {', '.join(BACKENDS)}") from None
    backend: Backend = make(models, settings)
    return backend
