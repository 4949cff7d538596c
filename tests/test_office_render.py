"""Office documents rendered by LibreOffice: DOCX pages and boxes, PPTX boxes on the
rendered slide, a hanging conversion killed, and the run without LibreOffice (CLI in a
clean environment, then LibreOffice found: only the office documents are redone)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from folio.config import PartitionSettings
from folio.element import Element
from partition import partition_file
from partition.office.place import PdfWords, place_pptx, tokens
from partition.office.render import RenderError, convert
from tests.office_fixtures import png
from tests.pipeline_fixtures import make_pdf
from tests.ray_head import BIN, clean_env, run_cli

HAVE_LO = shutil.which("soffice") is not None
needs_lo = pytest.mark.skipif(not HAVE_LO, reason="LibreOffice (soffice) not installed")
ONNX_CACHE = Path.home() / ".cache" / "folio" / "onnx"


def words_in(pdf: Path, page: int, box: tuple[float, float, float, float]) -> list[str]:
    """The words of ``page`` whose centre lies in ``box`` (what a reader sees boxed)."""
    import pymupdf

    with pymupdf.open(str(pdf)) as doc:
        out = []
        for x0, y0, x1, y1, text, *_ in doc[page - 1].get_text("words"):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if box[0] - 2 <= cx <= box[2] + 2 and box[1] - 2 <= cy <= box[3] + 2:
                out.extend(tokens(text))
        return out


def make_paged_docx(path: Path) -> Path:
    """Four pages by forced breaks: text on 1, a table on 2, a picture on 3, text on 4."""
    import docx
    from docx.enum.text import WD_BREAK
    from docx.shared import Inches

    d = docx.Document()
    d.add_heading("Quarterly warehouse memo", level=1)
    d.add_paragraph("Inbound volumes rose in every region during the spring quarter.")
    d.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    d.add_paragraph("Shift staffing by site follows.")
    t = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["Site", "Morning", "Night"], ["Leeds", "14", "9"], ["Bristol", "11", "7"]]):
        for c, text in enumerate(row):
            t.cell(r, c).text = text
    d.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    d.add_paragraph("The loading dock layout is pictured below.")
    d.add_picture(png("blue", (120, 90)), width=Inches(2))
    d.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    d.add_paragraph("Closing remarks about overtime budgets for the autumn.")
    d.save(str(path))
    return path


def rendered(tmp_path: Path, els: list[Element]) -> Path:
    return tmp_path / "assets" / els[0].doc_id / "rendered.pdf"


@needs_lo
def test_docx_elements_land_on_their_rendered_pages(tmp_path: Path) -> None:
    path = make_paged_docx(tmp_path / "memo.docx")
    els = partition_file(path, PartitionSettings(), tmp_path / "assets")
    assert els[0].meta["office_render"]["status"] == "rendered"
    by_text = {e.text.split("\n")[0][:20]: e for e in els}
    expected = {"Quarterly warehouse ": 1, "Inbound volumes rose": 1, "Shift staffing by si": 2,
                "Site | Morning | Nig": 2, "The loading dock lay": 3, "Closing remarks abou": 4}
    assert {k: by_text[k].page for k in expected} == expected
    picture = next(e for e in els if e.kind == "image")
    assert picture.page == 3 and picture.bbox is not None
    # The box holds the element's words on the rendered page (the table: every cell).
    pdf = rendered(tmp_path, els)
    for e in els:
        if e.kind != "image":
            assert e.bbox is not None and e.page is not None
            assert set(tokens(e.text)) <= set(words_in(pdf, e.page, e.bbox)), e.text
    # A picture's box is a picture on that page, not the text above it.
    table = by_text["Site | Morning | Nig"]
    assert picture.bbox[1] > 72 and table.bbox[3] - table.bbox[1] > 20
    # Ids name the page: the same every time for the same bytes.
    again = partition_file(path, PartitionSettings(), tmp_path / "assets")
    assert [e.id for e in again] == [e.id for e in els]


@needs_lo
def test_pptx_boxes_hold_their_text_on_the_rendered_slide(tmp_path: Path) -> None:
    import pptx
    from pptx.util import Emu, Pt

    prs = pptx.Presentation()
    prs.slide_width, prs.slide_height = Emu(9144000), Emu(5143500)  # 16:9, 720 x 405 pt
    for n, (x, y, text) in enumerate([(50, 40, "North region revenue"), (400, 250, "Headcount plan"),
                                      (100, 300, "Hidden slide words")]):
        slide = prs.slides.add_slide(prs.slide_layouts[6])
        box = slide.shapes.add_textbox(Pt(x), Pt(y), Pt(250), Pt(60))
        box.text_frame.text = text
        if n == 2:
            slide._element.set("show", "0")  # exported too: page n stays slide n
    path = tmp_path / "deck.pptx"
    prs.save(str(path))
    els = partition_file(path, PartitionSettings(), tmp_path / "assets")
    assert els[0].meta["office_render"]["status"] == "rendered"
    pdf = rendered(tmp_path, els)
    for e in els:
        assert e.bbox is not None and e.page is not None
        assert tokens(e.text) == words_in(pdf, e.page, e.bbox), (e.page, e.text)


def test_slide_boxes_scale_to_the_rendered_page_width(tmp_path: Path) -> None:
    import pymupdf

    pdf = tmp_path / "r.pdf"
    doc = pymupdf.open()
    doc.new_page(width=1440, height=810)
    doc.save(str(pdf))
    el = Element(id="x", doc_id="d", source="s.pptx", doc_sha256="0" * 64, kind="text", text="t",
                 page=1, bbox=(10.0, 20.0, 110.0, 60.0))
    (out,) = place_pptx([el], pdf, 720.0, 1)
    assert out.bbox == (20.0, 40.0, 220.0, 120.0) and out.meta["page_source"] == "rendered"
    with pytest.raises(ValueError, match="1 pages for 2 slides"):
        place_pptx([el], pdf, 720.0, 2)


def _hanging_soffice(folder: Path) -> Path:
    """A stand-in for soffice that starts a child and never finishes (as a stuck
    conversion does); it writes the child's pid so the test can see it was killed."""
    folder.mkdir(parents=True, exist_ok=True)
    prog = folder / "soffice"
    prog.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {folder}/child.pid\nwait\n")
    prog.chmod(prog.stat().st_mode | stat.S_IEXEC)
    return prog


def test_a_hanging_conversion_is_killed_with_its_children(tmp_path: Path) -> None:
    prog = _hanging_soffice(tmp_path / "bin")
    docx_path = tmp_path / "m.docx"
    make_paged_docx(docx_path)
    t0 = time.time()
    with pytest.raises(RenderError, match="timed out after 2 s"):
        convert(docx_path, tmp_path / "out" / "rendered.pdf", "docx", 2, str(prog))
    assert time.time() - t0 < 15
    child = int((tmp_path / "bin" / "child.pid").read_text())
    time.sleep(0.2)
    alive = Path(f"/proc/{child}").exists() and "Z" not in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert not alive
    assert not (tmp_path / "out" / "rendered.pdf").exists()


def _config(folder: Path, extra: str = "") -> Path:
    lines = ["[pipelines.t]", 'sources = [{ path = "docs" }]', 'index = "index"',
             "[pipelines.t.embed]", f'cache_dir = "{ONNX_CACHE}"', "[pipelines.t.run]", "workers = 1",
             "[pipelines.t.enrich]", "enabled = false", extra]
    cfg = folder / "pipelines.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def _small_deck(path: Path) -> Path:
    import pptx
    from pptx.util import Pt

    prs = pptx.Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    slide.shapes.add_textbox(Pt(60), Pt(60), Pt(300), Pt(50)).text_frame.text = "Regional revenue overview"
    prs.save(str(path))
    return path


def _docs(store_dir: Path) -> dict[str, list[Element]]:
    from index.store import Store

    store = Store(store_dir)
    return {s: store.elements(s) for s in store.documents()}


@needs_lo
@pytest.mark.slow
def test_without_libreoffice_then_with_it_only_office_documents_are_redone(tmp_path: Path) -> None:
    base = tmp_path
    docs = base / "docs"
    docs.mkdir()
    make_pdf(docs / "report.pdf", ["Annual results of the northern depot."])
    make_paged_docx(docs / "memo.docx")
    _small_deck(docs / "deck.pptx")
    cfg = _config(base)
    # LibreOffice out of reach: this interpreter's folder is the whole PATH.
    assert not (BIN / "soffice").exists()
    no_lo = clean_env(base / "home", PATH=str(BIN))
    doctor = run_cli(["--config", str(cfg), "doctor", "--pipeline", "t"], no_lo, timeout=300)
    assert "office pages: MISSING LibreOffice" in doctor.stdout, doctor.stdout + doctor.stderr
    first = run_cli(["--config", str(cfg), "run", "--pipeline", "t"], no_lo, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    before = _docs(base / "index")
    assert all(e.page is None for e in before["memo.docx"])
    assert not list((base / "index" / "assets").rglob("rendered.pdf"))

    with_lo = clean_env(base / "home")
    second = run_cli(["--config", str(cfg), "run", "--pipeline", "t"], with_lo, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    report = json.loads((base / "index" / "reports" / "last.json").read_text())
    redone = {d["source"]: d["reason"] for d in report["documents"] if d["status"] in ("ok", "partial")}
    assert redone == {"memo.docx": "fingerprint", "deck.pptx": "fingerprint"}
    assert report["counts"]["unchanged"] == 1
    assert any("settings changed (render)" in n for n in report["notes"])
    after = _docs(base / "index")
    assert {e.page for e in after["memo.docx"]} == {1, 2, 3, 4}
    assert len(list((base / "index" / "assets").rglob("rendered.pdf"))) == 2
    third = run_cli(["--config", str(cfg), "run", "--pipeline", "t"], with_lo, timeout=600)
    assert json.loads((base / "index" / "reports" / "last.json").read_text())["counts"]["unchanged"] == 3, third.stdout


def test_a_render_only_change_redoes_office_rows_and_keeps_their_vectors() -> None:
    from pipeline.plan import for_document, make_plan
    from pipeline.walk import FileEntry

    fp_on = "p=1;c=2;e=3;o=lo"
    fp_off = "p=1;c=2;e=3;o=off"

    class Row:
        def __init__(self, source: str) -> None:
            self.source, self.status, self.size, self.mtime, self.sha256 = source, "ok", 1, 1.0, "ab"
            self.fingerprint, self.embed_model = for_document(fp_off, source), "m"

    files = {s: FileEntry(source=s, path=Path(s), size=1, mtime=1.0) for s in ("a.pdf", "b.docx", "c.pptx")}
    plan = make_plan(files, {s: Row(s) for s in files}, fp_on, lambda p: "ab", "m")
    assert plan.unchanged == ["a.pdf"]
    assert {(t.entry.source, t.reason, t.reuse_elements, t.keep_vectors) for t in plan.tasks} == {
        ("b.docx", "fingerprint", False, True), ("c.pptx", "fingerprint", False, True)}


def test_renderer_off_in_settings_leaves_office_documents_as_before(tmp_path: Path) -> None:
    path = make_paged_docx(tmp_path / "memo.docx")
    els = partition_file(path, PartitionSettings(office_render="off"), tmp_path / "assets")
    assert all(e.page is None and e.bbox is None for e in els)
    assert els[0].meta["office_render"] == {"status": "off"}
    assert not (tmp_path / "assets" / els[0].doc_id / "rendered.pdf").exists()


def test_pdf_words_index_finds_sequences_in_order(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "w.pdf", ["alpha beta gamma delta alpha beta", "epsilon alpha beta"])
    words = PdfWords(pdf)
    first = words.find(["alpha", "beta"], 0, 1000)
    assert first == 0
    assert words.find(["alpha", "beta"], 1, 1000) == 4
    assert words.words[words.find(["alpha", "beta"], 5, 1000) or 0].page == 2
    assert words.find(["alpha", "beta"], 5, 1) is None  # not within the limit


@needs_lo
def test_slide_text_in_a_group_and_overflowing_its_shape_is_boxed_where_drawn(tmp_path: Path) -> None:
    import pptx
    from pptx.util import Pt

    prs = pptx.Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Pt(300), Pt(200), Pt(200), Pt(40)).text_frame.text = "Grouped warehouse note"
    tight = slide.shapes.add_textbox(Pt(40), Pt(40), Pt(200), Pt(20)).text_frame
    tight.word_wrap = True
    tight.text = "Overflowing text about depot staffing levels that wraps onto several lines below"
    path = tmp_path / "groups.pptx"
    prs.save(str(path))
    els = partition_file(path, PartitionSettings(), tmp_path / "assets")
    pdf = rendered(tmp_path, els)
    texts = [e for e in els if e.kind == "text"]
    assert len(texts) == 2
    for e in texts:
        assert e.bbox is not None and e.page == 1
        assert set(tokens(e.text)) <= set(words_in(pdf, 1, e.bbox)), e.text


@needs_lo
def test_a_docx_paragraph_over_a_page_break_has_a_box_on_each_page(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    for i in range(40):
        d.add_paragraph(f"Filler line {i} keeps the first page busy.")
    long = " ".join(f"Clause {i} of the tenancy continues here." for i in range(40))
    d.add_paragraph(long)
    path = tmp_path / "long.docx"
    d.save(str(path))
    els = partition_file(path, PartitionSettings(), tmp_path / "assets")
    pdf = rendered(tmp_path, els)
    last = els[-1]
    spans = last.meta["spans"]
    assert [s[0] for s in spans] == [last.page, (last.page or 0) + 1]
    under = [t for s in spans for t in words_in(pdf, int(s[0]), tuple(s[1:5]))]
    assert set(tokens(long)) <= set(under)
    # each page holds part of it, not all: the boxes are per page
    assert not set(tokens(long)) <= set(words_in(pdf, int(spans[0][0]), tuple(spans[0][1:5])))


@needs_lo
def test_an_indexed_office_document_cites_its_rendered_pages(tmp_path: Path) -> None:
    """A real run (LanceDB on disk, the partitioning child): the page image of a DOCX page
    and of a slide is the rendered page, and a DOCX table's crop is its region of it."""
    from PIL import Image

    from index.pages import DPI, Renderer, crop_path, page_path
    from index.store import Store
    from tests.pipeline_fixtures import Counters, pipeline_for
    from tests.pipeline_fixtures import run as run_pipeline

    src = tmp_path / "docs"
    src.mkdir()
    make_paged_docx(src / "memo.docx")
    _small_deck(src / "deck.pptx")
    pipe = pipeline_for(src, tmp_path / "index")
    runner = run_pipeline(pipe, Counters())
    assert runner.report.counts["ok"] == 2, runner.report.to_dict()
    store = Store(tmp_path / "index")
    renderer = Renderer(pipe.assets_dir, store)
    table = next(e for e in store.elements("memo.docx") if e.kind == "table")
    slide_text = next(e for e in store.elements("deck.pptx") if e.kind == "text")
    for el, size_pt in ((table, (612, 792)), (slide_text, (720, 540))):
        png = renderer.ensure(page_path(el.doc_id, el.page or 0))
        assert png is not None, el.source
        w, h = Image.open(png).size
        assert (round(w * 72 / DPI), round(h * 72 / DPI)) == size_pt  # the PDF page, not a schematic
    crop = renderer.ensure(crop_path(table) or "")
    assert crop is not None and table.bbox is not None
    cw, ch = Image.open(crop).size
    assert abs(cw - (table.bbox[2] - table.bbox[0] + 8) * DPI / 72) < 3
    assert abs(ch - (table.bbox[3] - table.bbox[1] + 8) * DPI / 72) < 3


def test_a_hanging_conversion_leaves_the_document_indexed_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.pipeline_fixtures import Counters, pipeline_for
    from tests.pipeline_fixtures import run as run_pipeline

    fake = _hanging_soffice(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    src = tmp_path / "docs"
    src.mkdir()
    make_paged_docx(src / "memo.docx")
    pipe = pipeline_for(src, tmp_path / "index")
    pipe = pipe.model_copy(update={"partition": pipe.partition.model_copy(update={"office_timeout_s": 2.0})})
    runner = run_pipeline(pipe, Counters())
    report = runner.report.to_dict()
    (doc,) = report["documents"]
    assert doc["status"] in ("ok", "partial") and doc["elements"] > 0
    assert doc["warning"] == "indexed without page images: LibreOffice conversion timed out after 2 s"
    assert any(n.startswith("memo.docx: indexed without page images") for n in report["notes"])
    assert runner.report.status != "failed"
