"""Image captions: a vision model when one is configured, else OCR text + the LLM.

Every caption records how it was made (meta caption_path: vlm | ocr+llm | ocr) and the
model that wrote it (caption_model, e.g. "ocr+llm:qwen2.5-coder-1.5b-q4_k_m@cc324af070c2").
Decorative images (tiny, or the same picture on many pages: a logo) are skipped, and
identical pictures in one batch are captioned once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import struct
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enrich.cache import EnrichCache, content_hash
from enrich.engines import EnrichModels
from enrich.prompts import (
    CAPTION_OCR_VERSION,
    CAPTION_VLM_VERSION,
    CaptionContext,
    caption_from_ocr_messages,
    caption_vlm_prompt,
    check_caption,
    fallback_caption,
    low_information,
)
from folio.config import EnrichSettings
from folio.element import Element
from folio.sanitize import too_little_text

log = logging.getLogger(__name__)

NO_TEXT_NOTE = "no text in the picture and no caption or alt text: describing it needs a vision model (models.vlm)"


@dataclass(frozen=True)
class CaptionJob:
    indices: tuple[int, ...]  # every element showing this picture; captioned once
    png: Path
    image_hash: str
    context: CaptionContext


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def _clip(text: str, limit: int, from_end: bool = False) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return "…" + text[-limit:] if from_end else text[:limit] + "…"


def _nearby_text(elements: list[Element], i: int, step: int, limit: int) -> str:
    """Text elements next to element i, walking by ``step`` (-1: before, +1: after),
    on the same page when pages are known, until about ``limit`` characters."""
    el = elements[i]
    out: list[str] = []
    size = 0
    j = i + step
    while 0 <= j < len(elements) and size < limit:
        other = elements[j]
        j += step
        if other.kind != "text" or (el.page is not None and other.page != el.page):
            continue
        out.append(other.text)
        size += len(other.text)
    return " ".join(reversed(out) if step < 0 else out)


def caption_context(elements: list[Element], i: int, settings: EnrichSettings) -> CaptionContext:
    el = elements[i]
    limit = settings.context_chars
    return CaptionContext(
        section=" > ".join(el.section),
        before=_clip(_nearby_text(elements, i, -1, limit), limit, from_end=True),
        after=_clip(_nearby_text(elements, i, +1, limit), limit),
        figure_caption=_clip(str(el.meta.get("caption_text") or ""), limit),
        alt_text=_clip(str(el.meta.get("alt_text") or ""), limit),
    )


def plan_captions(
    elements: list[Element], assets_dir: Path, settings: EnrichSettings
) -> tuple[list[CaptionJob], dict[int, str]]:
    """(jobs, {element index: why it is skipped})."""
    skipped: dict[int, str] = {}
    by_hash: dict[str, list[int]] = defaultdict(list)
    pages: dict[str, set[Any]] = defaultdict(set)
    paths: dict[str, Path] = {}
    for i, el in enumerate(elements):
        if el.kind != "image":
            continue
        if not el.image:
            skipped[i] = "no image file"
            continue
        path = Path(assets_dir) / el.image
        try:
            data = path.read_bytes()
        except OSError as e:
            skipped[i] = f"image file unreadable: {e}"
            continue
        size = _png_size(data) or (int(el.meta.get("width") or 0), int(el.meta.get("height") or 0))
        if 0 < min(size) < settings.min_image_px:
            skipped[i] = f"decorative: {size[0]}x{size[1]} px"
            continue
        h = hashlib.sha256(data).hexdigest()
        by_hash[h].append(i)
        pages[h].add((el.source, el.page))
        paths[h] = path
    jobs = []
    for h, indices in by_hash.items():
        if len(pages[h]) >= settings.repeat_pages:
            for i in indices:
                skipped[i] = f"decorative: same picture on {len(pages[h])} pages"
            continue
        jobs.append(CaptionJob(tuple(indices), paths[h], h, caption_context(elements, indices[0], settings)))
    return jobs, skipped


def choose_path(settings: EnrichSettings, models: EnrichModels) -> str:
    if settings.caption_path == "auto":
        return "vlm" if models.vlm_files is not None else "ocr+llm"
    return settings.caption_path


def _model_and_version(path: str, models: EnrichModels) -> tuple[str, str]:
    if path == "vlm":
        return f"vlm:{models.vlm_id}", CAPTION_VLM_VERSION
    return f"ocr+llm:{models.llm_id}", CAPTION_OCR_VERSION


def _params(settings: EnrichSettings) -> dict[str, Any]:
    return {"max_tokens": settings.caption_max_tokens}


def _cache_key(job: CaptionJob) -> str:
    return content_hash(job.image_hash, job.context.key())


def cached_caption(
    job: CaptionJob, path: str, models: EnrichModels, cache: EnrichCache, settings: EnrichSettings
) -> dict[str, Any] | None:
    model_id, version = _model_and_version(path, models)
    value = cache.get("caption", _cache_key(job), model_id, version, _params(settings))
    return None if value is None else finish_caption(job, path, model_id, value)


def make_caption(
    job: CaptionJob, path: str, models: EnrichModels, cache: EnrichCache, settings: EnrichSettings
) -> dict[str, Any]:
    """Run OCR and the model for one picture, store what the model said in the cache,
    and return the checked caption."""
    model_id, version = _model_and_version(path, models)
    png = job.png.read_bytes()
    # OCR on the vision path too: its text is what the output check needs to spot a
    # picture that addresses the model.
    ocr_text = models.ocr_text(png)
    raw: str | None = None
    if path == "vlm":
        system, prompt = caption_vlm_prompt(job.context, ocr_text)
        raw = models.vlm().describe(job.png, prompt, system, max_tokens=settings.caption_max_tokens)
    elif not low_information(ocr_text, job.context):
        raw = models.llm().chat(
            caption_from_ocr_messages(job.context, ocr_text), max_tokens=settings.caption_max_tokens
        )
    # The cache keeps the model's own words (None: not asked); the checks run on every
    # use, so a better check applies to cached captions without calling the model again.
    value: dict[str, Any] = {"raw": raw, "ocr_text": ocr_text}
    cache.put("caption", _cache_key(job), model_id, version, value, _params(settings))
    return finish_caption(job, path, model_id, value)


def finish_caption(job: CaptionJob, path: str, model_id: str, value: dict[str, Any]) -> dict[str, Any]:
    """The caption to apply: the model's output (``value["raw"]``) through the current
    checks, or the OCR fallback. Entries cached before the raw output was kept hold the
    checked caption, or the rejected output under "rejected"."""
    ocr_text = str(value.get("ocr_text") or "")
    if "raw" in value:
        raw = value["raw"]
    else:
        raw = value.get("rejected") if value.get("path") == "ocr" else value.get("caption")
    out: dict[str, Any] = {"caption": None, "model": model_id, "path": path, "ocr_text": ocr_text}
    if path != "vlm" and low_information(ocr_text, job.context):
        # Without a vision model, a picture with no text of its own and no caption or alt
        # text cannot be described: the LLM would only paraphrase the text around it.
        return {**out, "model": None, "path": "none", "note": NO_TEXT_NOTE}
    if raw is not None:
        source = "\n".join((ocr_text, job.context.key()))
        # a vision caption's figures are checked when OCR found text to check them against
        out["caption"] = check_caption(raw, source, saw_image=path == "vlm",
                                       check_figures=path != "vlm" or not too_little_text(ocr_text))
        if out["caption"] is None:
            log.info("caption of %s failed the output checks; using the OCR fallback: %r", job.png, raw[:200])
            out["rejected"] = raw[:500]
    if out["caption"] is None:
        out.update(caption=fallback_caption(ocr_text, job.context), model="ocr:rapidocr", path="ocr")
    return out


def apply_caption(el: Element, value: dict[str, Any]) -> Element:
    meta = {**el.meta, "caption_path": value["path"], "ocr_text": value.get("ocr_text", "")}
    for key in ("rejected", "note"):
        if value.get(key):
            meta[f"caption_{key}"] = value[key]
    return dataclasses.replace(
        el,
        caption=value["caption"],
        caption_model=value["model"],
        text=el.text or value.get("ocr_text", ""),
        meta=meta,
    )
