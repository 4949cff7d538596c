"""The one place that loads GGUF models through llama-cpp-python.

Models load once (``load_llm`` / ``load_vlm`` keep them per path) and are passed in.
Every completion is deterministic (temperature 0) and capped (max_tokens), and bumps
a process-wide call counter so tests and benchmarks can assert "zero model calls".
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from folio.models import ModelError, ModelFile

log = logging.getLogger(__name__)

# family name (as llama-cpp-python's server spells chat_format) -> handler class name in
# llama_cpp.llama_chat_format. Only the families the installed version offers are usable.
VISION_FAMILIES: dict[str, str] = {
    "llava-1-5": "Llava15ChatHandler",
    "llava-1-6": "Llava16ChatHandler",
    "obsidian": "ObsidianChatHandler",
    "moondream": "MoondreamChatHandler",
    "nanollava": "NanoLlavaChatHandler",
    "llama-3-vision-alpha": "Llama3VisionAlphaChatHandler",
    "minicpm-v-2.6": "MiniCPMv26ChatHandler",
    "qwen2.5-vl": "Qwen25VLChatHandler",
    "gemma4": "Gemma4ChatHandler",
    "mtmd": "MTMDChatHandler",
}

_calls = 0
_calls_lock = threading.Lock()


def call_count() -> int:
    """Model completions run in this process so far."""
    return _calls


def _count_call() -> None:
    global _calls
    with _calls_lock:
        _calls += 1


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def available_families() -> dict[str, Any]:
    """family -> handler class, for the families the installed llama-cpp-python has."""
    from llama_cpp import llama_chat_format

    return {
        fam: getattr(llama_chat_format, cls)
        for fam, cls in VISION_FAMILIES.items()
        if hasattr(llama_chat_format, cls)
    }


def handler_class(family: str) -> Any:
    families = available_families()
    try:
        return families[family]
    except KeyError:
        known = ", ".join(sorted(families))
        raise ModelError(f"unknown vision model family {family!r}; known: {known}") from None


class LocalLLM:
    """A loaded GGUF chat model."""

    def __init__(
        self,
        model: ModelFile,
        *,
        n_ctx: int = 4096,
        threads: int | None = None,
        chat_handler: Any = None,
        n_gpu_layers: int = 0,
    ) -> None:
        from llama_cpp import Llama

        self.file = model
        self.model_id = model.model_id
        n_threads = threads or default_threads()
        try:
            self._llama = Llama(
                model_path=str(model.path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                chat_handler=chat_handler,
                n_gpu_layers=n_gpu_layers,
                verbose=False,
            )
        except ValueError as e:
            raise ModelError(f"cannot load {model.path}: {e}") from e
        self.n_ctx = self._llama.n_ctx()
        self._formatter: Any = None
        self._specials: list[str] | None = None
        self._special_re: re.Pattern[str] | None = None
        # One llama context serves one request at a time (the UI may call from several threads).
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def chat(self, messages: list[dict[str, Any]], max_tokens: int = 256) -> str:
        """One deterministic completion. The cap also keeps a prompt plus answer within n_ctx."""
        _count_call()
        with self._lock:
            # No reset(): llama-cpp-python keeps the KV cache of the longest prefix this
            # prompt shares with the last one (the system message and the task text), so
            # only the document part is evaluated again. Decoding stays greedy.
            out: Any = self._llama.create_chat_completion(
                # document text in the messages: see format_chat
                messages=[{**m, "content": self.neutralise(m["content"])}  # type: ignore[misc]
                          if isinstance(m.get("content"), str) else m for m in messages],
                temperature=0.0,
                top_k=1,
                max_tokens=max_tokens,
                seed=0,
            )
        return str(out["choices"][0]["message"]["content"] or "").strip()

    def format_chat(self, messages: list[dict[str, str]]) -> tuple[str, list[str]]:
        """(the exact prompt text the model sees, its stop strings), from the chat template
        the GGUF carries: callers can show, count and send exactly this text."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self._formatter is None:
            meta = self._llama.metadata
            template = meta.get("tokenizer.chat_template")
            if not template:
                raise ModelError(f"{self.file.path} has no chat template (tokenizer.chat_template)")

            def token(key: str) -> str:
                tid = meta.get(key)
                return self._llama._model.token_get_text(int(tid)) if tid is not None else ""

            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=token("tokenizer.ggml.eos_token_id"),
                bos_token=token("tokenizer.ggml.bos_token_id"), add_generation_prompt=True,
            )
        # Message text is data: a "<|im_start|>" written in a document must reach the model as
        # those characters, not as the control token (the prompt string is tokenized with
        # special tokens on, so that the template's own markers work).
        safe = [{**m, "content": self.neutralise(m["content"])} if isinstance(m.get("content"), str) else m
                for m in messages]
        res = self._formatter(messages=safe)
        stop = res.stop if isinstance(res.stop, list) else [res.stop] if res.stop else []
        return res.prompt, stop

    def special_texts(self) -> list[str]:
        """The text of every control and user-defined token of the vocabulary (the ones a
        prompt string would be turned into), longest first."""
        if self._specials is None:
            import llama_cpp

            vocab = llama_cpp.llama_model_get_vocab(self._llama._model.model)
            flags = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
            found = set()
            for tid in range(llama_cpp.llama_vocab_n_tokens(vocab)):
                if llama_cpp.llama_vocab_get_attr(vocab, tid) & flags:
                    text = (llama_cpp.llama_vocab_get_text(vocab, tid) or b"").decode("utf-8", "replace")
                    if len(text.strip()) > 1:  # one character cannot be written by accident... or on purpose
                        found.add(text)
            self._specials = sorted(found, key=len, reverse=True)
        return self._specials

    def neutralise(self, text: str) -> str:
        """``text`` with every special token's text broken by a space after its first
        character ("<|im_start|>" -> "< |im_start|>"): read as plain text by the tokenizer."""
        specials = self.special_texts()
        if not specials or not any(t in text for t in specials):
            return text
        if self._special_re is None:
            self._special_re = re.compile("|".join(map(re.escape, specials)))
        return self._special_re.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1:], text)

    def stream(self, prompt: str, stop: list[str], max_tokens: int = 256) -> Iterator[str]:
        """Greedy completion of an already formatted prompt, piece by piece. The model is
        held for the whole generation; closing the iterator early releases it."""
        _count_call()
        with self._lock:
            # The KV cache keeps the longest prefix this prompt shares with the previous
            # one (the fixed system message), so only the rest is evaluated again.
            it: Any = self._llama.create_completion(
                prompt, max_tokens=max_tokens, temperature=0.0, top_k=1, seed=0,
                stop=stop, stream=True,
            )
            try:
                for part in it:
                    text = part["choices"][0]["text"]
                    if text:
                        yield text
            finally:
                it.close()

    def complete_json(self, prompt: str, schema: dict[str, Any], max_tokens: int = 128) -> str:
        """Greedy completion of a formatted prompt constrained by a JSON schema (llama.cpp
        grammar): a small model then always returns parseable JSON of that shape, and an
        ``enum`` in the schema limits a field to given strings (row labels, block numbers)."""
        # The schema's own key order, not sorted: the grammar makes the model write fields in
        # that order, and "operands" must come before the "expression" over them.
        grammar = _grammar(json.dumps(schema))
        _count_call()
        with self._lock:
            out: Any = self._llama.create_completion(
                prompt, max_tokens=max_tokens, temperature=0.0, top_k=1, seed=0, grammar=grammar,
            )
        return str(out["choices"][0]["text"] or "")

    def close(self) -> None:
        self._llama.close()


@functools.lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    """Compiled grammars by schema: building one costs milliseconds, questions repeat shapes."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


class VisionLLM(LocalLLM):
    """A GGUF model plus its projector, driven through a multimodal chat handler."""

    def __init__(
        self, model: ModelFile, mmproj: ModelFile, family: str, *, n_ctx: int = 4096,
        threads: int | None = None,
    ) -> None:
        check_projector(model.path, mmproj.path)
        _quiet_mtmd_logs()
        handler = handler_class(family)(clip_model_path=str(mmproj.path), verbose=False)
        super().__init__(model, n_ctx=n_ctx, threads=threads, chat_handler=handler)
        self.model_id = f"{model.model_id}+{mmproj.model_id}"
        self._handler = handler

    def describe(self, png: Path, prompt: str, system: str | None = None, max_tokens: int = 160) -> str:
        # A data: URI, because the handlers fetch any other URL with urllib.
        url = "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": prompt}],
        })
        try:
            return self.chat(messages, max_tokens=max_tokens)
        except ValueError as e:
            if "mtmd" not in str(e).lower():
                raise  # e.g. a prompt longer than n_ctx: this item fails, not the model
            raise ModelError(f"vision model {self.file.path} with {self._handler.clip_model_path}: {e}") from e


def _gguf_fields(path: Path) -> dict[str, Any]:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    out: dict[str, Any] = {}
    for key, f in reader.fields.items():
        if f.types and len(f.data) == 1:
            try:
                out[key] = f.contents()
            except Exception:  # exotic value types are not needed here
                continue
    out["__tensors__"] = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    return out


def check_projector(model: Path, mmproj: Path) -> None:
    """Refuse a projector whose output width differs from the model's embedding width,
    before llama.cpp sees the pair (it only reports "Failed to load mtmd context")."""
    try:
        m = _gguf_fields(model)
        p = _gguf_fields(mmproj)
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read GGUF metadata of {model} / {mmproj}: {e}") from e
    arch = m.get("general.architecture")
    n_embd = m.get(f"{arch}.embedding_length")
    if p.get("general.architecture") != "clip":
        raise ModelError(f"{mmproj} is not a projector (mmproj) file for {model}")
    width = _projector_width(p)
    if isinstance(n_embd, int) and width is not None and width != n_embd:
        raise ModelError(
            f"projector {mmproj} outputs {width}-wide embeddings but model {model} expects "
            f"{n_embd} ({arch}.embedding_length); they do not belong together"
        )


def _projector_width(fields: dict[str, Any]) -> int | None:
    dim = fields.get("clip.vision.projection_dim")
    tensors: dict[str, tuple[int, ...]] = fields["__tensors__"]
    # The last projector layer's output width is what reaches the language model; the
    # GGUF shape lists ggml's dimensions innermost first, so the output is the last one.
    for name in ("mm.2.weight", "mm.model.fc.weight", "mm.1.weight", "mm.0.weight"):
        if name in tensors and len(tensors[name]) == 2:
            return tensors[name][1]
    return dim if isinstance(dim, int) else None


def _quiet_mtmd_logs() -> None:
    """Route libmtmd's log through llama-cpp-python's callback, which honours verbose=False
    (libmtmd otherwise prints every image step to stderr, flooding cron logs)."""
    from llama_cpp import mtmd_cpp
    from llama_cpp._logger import llama_log_callback

    mtmd_cpp.mtmd_log_set(llama_log_callback, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(llama_log_callback, ctypes.c_void_p(0))


_loaded: dict[tuple[str, ...], LocalLLM] = {}
_load_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    # Closing before interpreter teardown: llama-cpp-python's __del__ otherwise runs after
    # sys.stderr is gone and prints "I/O operation on closed file" tracebacks.
    for m in _loaded.values():
        m.close()
    _loaded.clear()


def unload_all() -> None:
    """Free every loaded model (tests and benchmarks that switch models)."""
    with _load_lock:
        _close_all()


def load_llm(
    model: ModelFile, n_ctx: int = 4096, threads: int | None = None, n_gpu_layers: int = 0
) -> LocalLLM:
    """Load once per (file, n_ctx, offload); later calls return the same instance."""
    key = (str(model.path), model.sha256, str(n_ctx), str(n_gpu_layers))
    with _load_lock:
        if key not in _loaded:
            log.info("loading %s (n_ctx=%d)", model.path, n_ctx)
            _loaded[key] = LocalLLM(model, n_ctx=n_ctx, threads=threads, n_gpu_layers=n_gpu_layers)
        return _loaded[key]


def load_vlm(
    model: ModelFile, mmproj: ModelFile, family: str, n_ctx: int = 4096, threads: int | None = None
) -> VisionLLM:
    key = (str(model.path), model.sha256, str(mmproj.path), mmproj.sha256, family, str(n_ctx))
    with _load_lock:
        if key not in _loaded:
            log.info("loading vision model %s + %s (%s)", model.path, mmproj.path, family)
            _loaded[key] = VisionLLM(model, mmproj, family, n_ctx=n_ctx, threads=threads)
        vlm = _loaded[key]
    assert isinstance(vlm, VisionLLM)
    return vlm
