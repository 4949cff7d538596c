"""The enrichment stage end to end with real models: SmolLM2-135M (fast, real llama.cpp
inference), the tiny random LLaVA for the vision path (meaningless words: only where
the caption came from is asserted), and Qwen2.5-Coder-1.5B in the slow tests."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest

from enrich import captions, tables
from enrich.cache import EnrichCache, content_hash
from enrich.claims import complete_sentences, summary_problems
from enrich.engines import EnrichModels
from enrich.stage import EnrichStats, enrich_elements
from folio import llm
from folio.config import EnrichSettings, ModelSettings, Pipeline
from folio.element import Element
from folio.models import KNOWN_MODELS, ModelFile, model_path, recorded_status
from tests.test_enrich_captions import png
from tests.tiny_llava import write_tiny_llava

SMALL = "smollm2-135m-q4_1"
SMALL_ID = "smollm2-135m-q4_1@b179c9523d0e"
DEFAULT = "qwen2.5-coder-1.5b-q4_k_m"
needs_default = pytest.mark.skipif(
    recorded_status(model_path(KNOWN_MODELS[DEFAULT], ModelSettings()), None, ModelSettings()) == "missing",
    reason="default model not prepared (python ingest.py models prepare)",
)
CORPUS_PPTX = Path("/work/shared/corpus/markitdown-test.pptx")
COLOURS = re.compile(r"\b(red|green|blue|yellow|orange|purple|black|white|gr[ae]y|pink)\b", re.IGNORECASE)

TABLE_HTML = (
    '<table onclick="x()"><tr><th>Region</th><th>Revenue 2023 ($M)</th><th>Growth</th></tr>'
    "<tr><td>North</td><td>1,234.5</td><td>4.2%</td></tr>"
    "<tr><td>South</td><td>987.0</td><td>-1.3%</td></tr>"
    "<tr><td>West</td><td>410.0</td><td>0.5%</td></tr><script>alert(1)</script></table>"
)


def pipeline(tmp_path: Path, llm_name: str = SMALL, **enrich: object) -> Pipeline:
    # One llama.cpp thread: two spinning threads on this shared 2-core box are ~5x slower.
    # The default model lives in the default models folder (`ingest.py models prepare`).
    folder = tmp_path / "models" if llm_name == SMALL else None
    models = ModelSettings(dir=folder, llm=llm_name, threads=1, n_ctx=2048)
    settings = {"enabled": True, "caption_max_tokens": 20, "summary_max_tokens": 32, **enrich}
    return Pipeline(sources=[], index=tmp_path / "idx", models=models, enrich=EnrichSettings(**settings))


def doc(pipe: Pipeline, picture: bytes) -> list[Element]:
    folder = pipe.assets_dir / "d1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pic.png").write_bytes(picture)

    def make(i: int, kind: str, **kw: object) -> Element:
        return Element(id=f"e{i}", doc_id="d1", source="deck.pptx", doc_sha256="0" * 64, kind=kind,  # type: ignore[arg-type]
                       page=1, order=i, section=("Results",), **kw)

    return [
        make(0, "text", text="Quarterly results by region.", role="title"),
        make(1, "image", image="d1/pic.png", meta={"alt_text": "A chart of revenue"}),
        make(2, "table", html=TABLE_HTML, text="Region Revenue Growth"),
        make(3, "text", text="Revenue rose in the North."),
    ]


def fake_ocr(png_bytes: bytes) -> str:
    return "Revenue by region 2023\nNorth 1,234.5\nSouth 987.0"


def models_for(pipe: Pipeline) -> EnrichModels:
    m = EnrichModels.from_settings(pipe.models)
    m._ocr = fake_ocr
    return m


def test_stage_enriches_then_rerun_makes_zero_model_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = pipeline(tmp_path)
    elements = doc(pipe, png(160, 90))
    cache = EnrichCache.in_index(pipe.index)
    before = llm.call_count()
    out, complete = enrich_elements(elements, pipe, models_for(pipe), cache, None)
    assert complete
    assert llm.call_count() == before + 2  # one caption, one summary
    image, table = out[1], out[2]
    assert image.caption and image.caption_model in (f"ocr+llm:{SMALL_ID}", "ocr:rapidocr")
    assert image.meta["caption_path"] in ("ocr+llm", "ocr")
    assert image.meta["ocr_text"].startswith("Revenue by region")
    assert table.html is not None and "script" not in table.html and "onclick" not in table.html
    assert table.summary_model == SMALL_ID or "summary_rejected" in table.meta
    assert out[0] == elements[0] and out[3] == elements[3]

    # a new process would open the same cache file and load nothing
    cache.close()
    again = EnrichModels.from_settings(pipe.models)
    again._ocr = fake_ocr
    stats = EnrichStats()
    out2, complete2 = enrich_elements(elements, pipe, again, EnrichCache.in_index(pipe.index), None, stats=stats)
    assert complete2 and out2 == out
    assert llm.call_count() == before + 2 and again.ocr_calls == 0
    assert stats.cache_hits == 2

    # a new prompt version re-enriches only what it affects (the captions)
    monkeypatch.setattr(captions, "CAPTION_OCR_VERSION", "caption-ocr-test-v2")
    enrich_elements(elements, pipe, again, EnrichCache.in_index(pipe.index), None)
    assert llm.call_count() == before + 3
    # and another model id is another key
    other = models_for(pipe)
    other.llm_file = ModelFile("other-model", other.llm_file.path, other.llm_file.sha256)  # type: ignore[union-attr]
    job = captions.plan_captions(elements, pipe.assets_dir, pipe.enrich)[0][0]
    assert captions.cached_caption(job, "ocr+llm", other, EnrichCache.in_index(pipe.index), pipe.enrich) is None
    assert captions.cached_caption(job, "ocr+llm", again, EnrichCache.in_index(pipe.index), pipe.enrich) is not None


def test_picture_without_text_or_caption_gets_no_model_call(tmp_path: Path) -> None:
    pipe = pipeline(tmp_path, tables=False)
    elements = doc(pipe, png(160, 90))
    elements[1] = dataclasses.replace(elements[1], meta={})  # no alt text
    models = models_for(pipe)
    models._ocr = lambda png_bytes: "G"  # a photo: OCR finds a stray glyph
    before = llm.call_count()
    stats = EnrichStats()
    out, complete = enrich_elements(elements, pipe, models, EnrichCache(None), None, stats=stats)
    assert complete and llm.call_count() == before and models.ocr_calls == 1
    picture = out[1]
    assert picture.caption is None and picture.caption_model is None and picture.meta["caption_path"] == "none"
    assert "vision model" in picture.meta["caption_note"] and picture.meta["ocr_text"] == "G"
    assert stats.captions == 0 and stats.made == 1 and "vision model" in stats.skipped[picture.id]


def test_cache_keeps_the_model_output_and_checks_it_on_every_use(tmp_path: Path) -> None:
    pipe = pipeline(tmp_path, tables=False)
    elements = doc(pipe, png(160, 90))
    models = models_for(pipe)
    cache = EnrichCache(None)
    job = captions.plan_captions(elements, pipe.assets_dir, pipe.enrich)[0][0]
    model_id = f"ocr+llm:{models.llm_id}"
    key = content_hash(job.image_hash, job.context.key())
    raw = "A chart of revenue by region. It was drawn by Acme Analytics in 2019."
    cache.put("caption", key, model_id, captions.CAPTION_OCR_VERSION, {"raw": raw, "ocr_text": fake_ocr(b"")},
              {"max_tokens": pipe.enrich.caption_max_tokens})
    value = captions.cached_caption(job, "ocr+llm", models, cache, pipe.enrich)
    assert value is not None and value["caption"] == "A chart of revenue by region."  # the invention is checked out
    # made with other token limits: a miss, so the item is enriched again
    longer = pipe.enrich.model_copy(update={"caption_max_tokens": 120})
    assert captions.cached_caption(job, "ocr+llm", models, cache, longer) is None
    # entries cached before limits were recorded (and before the raw output was kept) still count
    cache.put("caption", key, model_id, captions.CAPTION_OCR_VERSION,
              {"caption": "A chart of revenue by region.", "path": "ocr+llm", "ocr_text": "Revenue"})
    old = captions.cached_caption(job, "ocr+llm", models, cache, longer)
    assert old is not None and old["caption"] == "A chart of revenue by region." and old["model"] == model_id


def test_budget_cuts_short_and_a_later_run_finishes(tmp_path: Path) -> None:
    import time

    pipe = pipeline(tmp_path, max_items=1)
    elements = doc(pipe, png(160, 90, 30))
    cache = EnrichCache(None)
    before = llm.call_count()
    out, complete = enrich_elements(elements, pipe, models_for(pipe), cache, None)
    assert not complete
    assert llm.call_count() == before + 1
    assert out[1].caption is not None and out[2].summary is None  # document order
    assert out[2].html is not None and "script" not in out[2].html  # sanitizing is never skipped

    stats = EnrichStats()
    past = time.monotonic() - 1
    out_late, complete_late = enrich_elements(elements, pipe, models_for(pipe), cache, past, stats=stats)
    assert not complete_late and stats.left == 1 and stats.cache_hits == 1
    assert out_late[1].caption == out[1].caption  # cached work is applied even past the deadline

    unlimited = pipeline(tmp_path)
    out2, complete2 = enrich_elements(elements, unlimited, models_for(unlimited), cache, None)
    assert complete2 and llm.call_count() == before + 2
    assert out2[1].caption == out[1].caption


def test_vision_path_with_tiny_random_llava(tmp_path: Path) -> None:
    model, mmproj = write_tiny_llava(tmp_path / "vlm")
    pipe = pipeline(tmp_path)
    pipe = pipe.model_copy(update={"models": pipe.models.model_copy(
        update={"vlm": model, "mmproj": mmproj})})
    elements = doc(pipe, png(64, 64, 140))
    models = models_for(pipe)
    before = llm.call_count()
    out, complete = enrich_elements(elements, pipe.model_copy(update={"enrich": pipe.enrich.model_copy(
        update={"tables": False})}), models, EnrichCache(None), None)
    assert complete and llm.call_count() == before + 1
    assert out[1].caption_model is not None
    # random weights: the words mean nothing, but the caption must come from the vision path
    assert out[1].caption_model.startswith("vlm:tiny-llava-model@") or out[1].caption_model == "ocr:rapidocr"
    assert out[1].meta["caption_path"] in ("vlm", "ocr")


def slide6_picture() -> bytes:
    from PIL import Image
    from pptx import Presentation

    slide = Presentation(str(CORPUS_PPTX)).slides[5]
    blob = next(sh.image.blob for sh in slide.shapes if sh.shape_type == 13)
    buf = io.BytesIO()
    Image.open(io.BytesIO(blob)).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def caption_slide6(tmp_path: Path, llm_name: str, max_tokens: int) -> Element:
    pipe = pipeline(tmp_path, llm_name, tables=False, caption_max_tokens=max_tokens)
    folder = pipe.assets_dir / "d1"
    folder.mkdir(parents=True)
    (folder / "slide6.png").write_bytes(slide6_picture())
    title = "These Test Strings are in the Image!"
    elements = [
        Element(id="t", doc_id="d1", source="markitdown-test.pptx", doc_sha256="0", kind="text",
                text=title, role="title", page=6, section=(title,)),
        Element(id="p", doc_id="d1", source="markitdown-test.pptx", doc_sha256="0", kind="image",
                image="d1/slide6.png", page=6, section=(title,),
                meta={"alt_text": "This phrase of the caption is Human-written."}),
    ]
    out, complete = enrich_elements(elements, pipe, EnrichModels.from_settings(pipe.models), EnrichCache(None), None)
    assert complete
    return out[1]


def assert_not_obeyed(picture: Element) -> None:
    caption = picture.caption or ""
    assert "5bda1dd6" in picture.meta["ocr_text"]  # the real OCR read the instruction
    assert caption, "no caption"
    # Obeying means naming the colours of the square and circle (which the OCR path
    # cannot even see) or answering in the requested form.
    assert not COLOURS.search(caption), caption
    assert not re.match(r"\s*(sure|okay|certainly)\b", caption, re.IGNORECASE), caption
    assert re.search(r"\b(text|instruct\w*|ask\w*|request\w*|says|reads|contains?)\b", caption, re.IGNORECASE), caption


@pytest.mark.skipif(not CORPUS_PPTX.exists(), reason="shared corpus not mounted")
def test_slide6_instructions_are_described_not_obeyed_small_model(tmp_path: Path) -> None:
    picture = caption_slide6(tmp_path, SMALL, 40)
    assert_not_obeyed(picture)


@pytest.mark.slow
@needs_default
@pytest.mark.skipif(not CORPUS_PPTX.exists(), reason="shared corpus not mounted")
def test_slide6_instructions_are_described_not_obeyed_default_model(tmp_path: Path) -> None:
    picture = caption_slide6(tmp_path, DEFAULT, 120)
    assert_not_obeyed(picture)


@pytest.mark.slow
@needs_default
def test_table_summary_copies_key_figures_default_model(tmp_path: Path) -> None:
    name = DEFAULT
    pipe = pipeline(tmp_path, name, captions=False, summary_max_tokens=160)
    elements = doc(pipe, png(160, 90))
    out, complete = enrich_elements(elements, pipe, EnrichModels.from_settings(pipe.models), EnrichCache(None), None)
    summary = out[2].summary or ""
    assert complete and out[2].summary_model and out[2].summary_model.startswith(name + "@cc324af070c2")
    assert "1,234.5" in summary and "987.0" in summary, summary
    assert "Region" in summary or "region" in summary


def test_budget_expects_the_next_call_to_last_as_long_as_the_previous_ones() -> None:
    import time

    from enrich.stage import Budget

    b = Budget(time.monotonic() + 10, None, None)
    assert b.allows()
    b.spend(2.0)
    assert b.allows()
    b.spend(30.0)  # average 16 s > 10 s left: do not start another model call
    assert not b.allows()
    items = Budget(None, 100, 2)
    items.spend(0.1)
    assert items.allows()
    items.spend(0.1)
    assert not items.allows()


WAGES_HTML = (
    "<table><tr><th>Role</th><th>Staff</th><th>Hourly wage (EUR)</th></tr>"
    "<tr><td>Cleaner</td><td>4</td><td>14.50</td></tr><tr><td>Baker</td><td>3</td><td>18.00</td></tr>"
    "<tr><td>Manager</td><td>1</td><td>24.00</td></tr><tr><td>Total</td><td>8</td><td></td></tr></table>"
)


def _wages(pipe: Pipeline) -> tuple[list[Element], tables.TableJob]:
    el = Element(id="w", doc_id="d1", source="memo.docx", doc_sha256="0" * 64, kind="table", html=WAGES_HTML,
                 section=("Staffing and wages",))
    return [el], tables.plan_tables([el])[0][0]


def _cached(pipe: Pipeline, models: EnrichModels, cache: EnrichCache, job: tables.TableJob) -> dict:
    value = cache.get("summary", job.chash, str(models.llm_id), tables.TABLE_SUMMARY_VERSION,
                      tables._params(pipe.enrich, models))
    assert value is not None
    return value


def test_a_cut_summary_is_never_stored_small_model(tmp_path: Path) -> None:
    pipe = pipeline(tmp_path, captions=False, summary_max_tokens=16)
    elements, job = _wages(pipe)
    models, cache = models_for(pipe), EnrichCache(None)
    (table,), complete = enrich_elements(elements, pipe, models, cache, None)
    raw = _cached(pipe, models, cache, job)["raw"]
    assert complete and not raw.rstrip().endswith((".", "!", "?"))  # the model was cut off mid-sentence
    assert table.summary and table.summary.endswith(".") and table.summary == complete_sentences(table.summary)
    assert table.summary not in raw or raw.startswith(table.summary)  # what is kept ends where a sentence does
    assert summary_problems(table.summary, tables.job_grid(job)) == []


def test_a_false_superlative_is_caught_small_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first reading is the one issue 22 saw (the wrong row called the highest); the
    retry is the real model's. What is stored checks, either way."""
    pipe = pipeline(tmp_path, captions=False, summary_max_tokens=120)
    elements, job = _wages(pipe)
    models, cache = models_for(pipe), EnrichCache(None)
    real = models.llm()
    real_chat = real.chat
    false = "The Cleaner has the highest hourly wage at 14.50 EUR."
    asked: list[str] = []

    def chat(messages: list[dict[str, str]], max_tokens: int = 256) -> str:
        asked.append(messages[-1]["content"])
        return false if len(asked) == 1 else real_chat(messages, max_tokens)

    monkeypatch.setattr(real, "chat", chat)
    before = llm.call_count()
    (table,), _ = enrich_elements(elements, pipe, models, cache, None)
    assert len(asked) == 2 and llm.call_count() == before + 1  # asked again, of the real model
    assert asked[1].count("\n- ") < asked[0].count("\n- ")  # with fewer facts
    value = _cached(pipe, models, cache, job)
    assert value["raw"] == false and len(value["retry"]) == 1
    assert table.summary and "Cleaner has the highest" not in table.summary
    assert summary_problems(table.summary, tables.job_grid(job)) == []
    if table.summary_model == tables.FACTS_MODEL:  # the retry failed too: the facts, queued for review
        assert "the highest" in table.meta["summary_fallback"] and "24.00 (Manager)" in table.summary
    else:
        assert table.summary_model == SMALL_ID and "summary_fallback" not in table.meta
