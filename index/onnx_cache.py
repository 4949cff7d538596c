"""The on-disk cache of ONNX exports, keyed by what determines the exported graph.

Key = model folder content hash + precision + quantization variant + optimum versions +
this module's recipe version, so a second load does no export and any change does one.
Exports are built by the index/onnx_export.py worker in a temporary folder inside the
cache and renamed into place only when complete: a killed export never leaves a cache
entry that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from folio.errors import ConfigError
from folio.procs import pid_alive
from index.model_folder import ModelSpec
from index.onnx_export import LOG_PREFIX

log = logging.getLogger(__name__)

# Bump when the export or quantization recipe changes so old cache entries are not reused.
RECIPE_VERSION = 3  # 3: SkipLayerNormalization left unfused, embeddings not quantized
MARKER = "folio_export.json"  # written last inside the temporary folder
MODEL_FILE = "model.onnx"
_TMP_PREFIX = ".tmp-"
_REPO_ROOT = Path(__file__).resolve().parents[1]
_EXPORT_TIMEOUT_S = 1800


def cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "folio" / "onnx"


def quant_variant() -> str:
    """Which dynamic-int8 recipe suits this CPU (see index/onnx_export.quantize_int8)."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        flags = ""
    return "vnni" if re.search(r"\b(avx512_vnni|avx_vnni)\b", flags) else "avx2"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def export_key(spec: ModelSpec, precision: str) -> dict[str, object]:
    return {
        "recipe": RECIPE_VERSION,
        "model_hash": spec.content_hash,
        "precision": precision,
        "quantization": quant_variant() if precision == "int8" else None,
        "optimum": _version("optimum"),
        "optimum-onnx": _version("optimum-onnx"),
        "onnxruntime": _version("onnxruntime"),  # its quantizer writes the int8 graph
    }


def entry_dir(spec: ModelSpec, precision: str, cache_dir: Path | None) -> Path:
    key = hashlib.sha256(json.dumps(export_key(spec, precision), sort_keys=True).encode()).hexdigest()
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.name)
    return cache_root(cache_dir) / f"{safe_name}-{precision}-{key[:16]}"


def is_complete(entry: Path) -> bool:
    return (entry / MARKER).is_file() and (entry / MODEL_FILE).is_file()


def _remove_stale_tmp(root: Path) -> None:
    """Delete temporary folders left by exports whose process died (killed, crashed)."""
    for tmp in root.glob(_TMP_PREFIX + "*"):
        pid_text = tmp.name.rsplit("-", 1)[-1]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            log.info("removing unfinished export %s", tmp)
            shutil.rmtree(tmp, ignore_errors=True)


def _run_worker(args: list[str], what: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "index.onnx_export", *args]
    log.info("%s (one time; torch runs in a separate process)", what)
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, cwd=_REPO_ROOT, capture_output=True, text=True, timeout=_EXPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what}: timed out after {_EXPORT_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise ConfigError(f"{what}: failed (exit code {proc.returncode}):\n{tail}")
    log.debug("worker output:\n%s", proc.stderr)
    for line in proc.stderr.splitlines():
        if line.startswith(LOG_PREFIX):
            log.warning("%s: %s", what, line.removeprefix(LOG_PREFIX).strip())
    log.info("%s: done in %.1f s", what, time.monotonic() - start)


def _build(spec: ModelSpec, precision: str, cache_dir: Path | None, tmp: Path) -> None:
    if precision == "fp32":
        _run_worker(["export", str(spec.path), str(tmp)], f"exporting {spec.path} to ONNX")
    else:
        # Quantize the cached fp32 export rather than exporting again.
        fp32 = cached_export(spec, "fp32", cache_dir)
        variant = quant_variant()
        _run_worker(
            ["quantize", str(fp32), str(tmp), "--variant", variant],
            f"quantizing {spec.name} to int8 ({variant})",
        )
    if not (tmp / MODEL_FILE).is_file() or not (tmp / "tokenizer.json").is_file():
        found = sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
        raise ConfigError(f"ONNX export of {spec.path} produced no {MODEL_FILE} + tokenizer.json (found: {found})")


def cached_export(spec: ModelSpec, precision: str, cache_dir: Path | None) -> Path:
    """The cache folder holding model.onnx + tokenizer.json for this model; exports once."""
    entry = entry_dir(spec, precision, cache_dir)
    if is_complete(entry):
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(entry.parent)
    tmp = entry.parent / f"{_TMP_PREFIX}{entry.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _build(spec, precision, cache_dir, tmp)
        meta = {**export_key(spec, precision), "model_dir": str(spec.path), "name": spec.name}
        (tmp / MARKER).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if entry.exists() and not is_complete(entry):
            shutil.rmtree(entry)  # an entry from before the marker existed; never trusted
        try:
            os.rename(tmp, entry)  # atomic on one filesystem: the commit point
        except OSError:
            if not is_complete(entry):
                raise
            log.info("another process finished the same export first; using it")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry
