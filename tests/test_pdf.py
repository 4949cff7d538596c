"""PDF partitioner: small PDFs generated with PyMuPDF, plus quick checks on corpus files."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from folio.config import PartitionSettings
from folio.element import Element
from folio.errors import DocumentError
from partition import partition_file
from partition import pdf as pdf_partitioner

pymupdf = pytest.importorskip("pymupdf")

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
LOREM = (
    "Retrieval systems index passages so that a question can be answered from the most "
    "relevant evidence. This sentence only fills the paragraph with ordinary body text. "
)


@pytest.fixture(autouse=True)
def _workers():
    yield
    pdf_partitioner.set_workers(None)


def _run(path: Path, tmp_path: Path, **settings) -> list[Element]:
    return partition_file(path, PartitionSettings(**settings), tmp_path / "assets")


def _para(page, y: float, text: str, x0: float = 72, x1: float = 540, size: float = 10) -> float:
    rect = pymupdf.Rect(x0, y, x1, y + 200)
    left = page.insert_textbox(rect, text, fontsize=size, fontname="helv")
    return y + 200 - left + 14  # next paragraph starts below this one, after a gap


def _heading(page, y: float, text: str, size: float) -> float:
    page.insert_text((72, y + size), text, fontsize=size, fontname="hebo")
    return y + size + 12


def _structured_pdf(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    y = _heading(page, 60, "A Study of Retrieval", 22)
    y = _heading(page, y + 10, "1 Introduction", 14)
    y = _para(page, y, "INTRO " + LOREM * 2)
    y = _heading(page, y, "1.1 Scope", 12)
    y = _para(page, y, "SCOPE " + LOREM * 2)
    y = _para(page, y, "- first bullet point of the list")
    y = _para(page, y, "2. second bullet point of the list")
    page = doc.new_page()
    y = _para(page, 72, "CONTINUED " + LOREM)
    y = _heading(page, y, "2 Background", 14)
    y = _para(page, y, "BACKGROUND " + LOREM * 2)
    _para(page, y, "Table 1: Results on the benchmark, a caption line.")
    doc.save(path)


def test_headings_sections_lists_and_captions(tmp_path: Path) -> None:
    src = tmp_path / "doc.pdf"
    _structured_pdf(src)
    els = _run(src, tmp_path)
    by_start = {e.text.split()[0]: e for e in els if e.kind == "text"}
    assert [e.role for e in els if e.text == "A Study of Retrieval"] == ["title"]
    assert by_start["INTRO"].section == ("1 Introduction",)
    assert by_start["SCOPE"].section == ("1 Introduction", "1.1 Scope")
    # The section path carries over the page break, and a sibling heading replaces it.
    assert by_start["CONTINUED"].section == ("1 Introduction", "1.1 Scope")
    assert by_start["BACKGROUND"].section == ("2 Background",)
    bullets = [e for e in els if "bullet point" in e.text]
    assert len(bullets) == 2 and all(e.role == "list_item" for e in bullets)
    assert by_start["Table"].role == "caption"
    headings = [e.text for e in els if e.role == "heading"]
    assert headings == ["1 Introduction", "1.1 Scope", "2 Background"]
    assert [e.order for e in els] == sorted(e.order for e in els)


def test_two_columns_read_column_by_column(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    _heading(page, 40, "Two Column Paper", 20)
    y_left = y_right = 100.0
    for n in range(1, 4):
        y_left = _para(page, y_left, f"LEFT{n} " + LOREM, x0=56, x1=290)
        y_right = _para(page, y_right, f"RIGHT{n} " + LOREM, x0=320, x1=556)
    src = tmp_path / "cols.pdf"
    doc.save(src)
    order = [e.text.split()[0] for e in _run(src, tmp_path) if e.text.startswith(("LEFT", "RIGHT"))]
    assert order == ["LEFT1", "LEFT2", "LEFT3", "RIGHT1", "RIGHT2", "RIGHT3"]


def _raster_png(w: int = 240, h: int = 160) -> bytes:
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, w, h), False)
    pix.set_rect(pix.irect, (30, 90, 200))
    pix.set_rect(pymupdf.IRect(20, 20, 120, 100), (240, 200, 40))
    return pix.tobytes("png")


def test_raster_image_crop_written_at_dpi(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    _para(page, 60, "Some text above the picture. " + LOREM)
    page.insert_image(pymupdf.Rect(100, 250, 340, 410), stream=_raster_png())
    page.insert_image(pymupdf.Rect(400, 250, 410, 260), stream=_raster_png(8, 8))  # an icon
    src = tmp_path / "img.pdf"
    doc.save(src)
    assets = tmp_path / "assets"
    els = _run(src, tmp_path)
    images = [e for e in els if e.kind == "image"]
    assert len(images) == 1, "the tiny icon must be skipped"
    img = images[0]
    assert img.role == "figure" and img.image
    crop = assets / img.image
    assert crop.is_file()
    pix = pymupdf.Pixmap(str(crop))
    width_pt = img.bbox[2] - img.bbox[0]
    assert pix.width / (width_pt / 72) >= 149.5  # at least settings.image_dpi
    assert not [e for e in _run(src, tmp_path, images=False) if e.kind == "image"]


def test_vector_chart_keeps_its_labels(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    y = _para(page, 60, "BODY " + LOREM * 2)
    ox, oy = 120, y + 220  # chart origin
    page.draw_line((ox, oy), (ox + 300, oy))
    page.draw_line((ox, oy), (ox, oy - 180))
    for n, h in enumerate((60, 120, 90, 150)):
        page.draw_rect(pymupdf.Rect(ox + 20 + n * 70, oy - h, ox + 60 + n * 70, oy), color=None,
                       fill=(0.2, 0.4 + n * 0.1, 0.8))
    page.draw_bezier((ox, oy - 20), (ox + 100, oy - 170), (ox + 200, oy - 10), (ox + 300, oy - 160))
    page.insert_text((ox + 110, oy + 16), "Epochs", fontsize=8)
    page.insert_text((ox - 40, oy - 90), "Accuracy", fontsize=8)
    page.insert_text((72, oy + 50), "Figure 1: Accuracy per epoch.", fontsize=10)
    _para(page, oy + 70, "AFTER " + LOREM)
    src = tmp_path / "chart.pdf"
    doc.save(src)
    els = _run(src, tmp_path)
    images = [e for e in els if e.kind == "image"]
    assert len(images) == 1
    fig = images[0]
    assert fig.meta["source"] == "vector"
    assert "Accuracy" in fig.text and "Epochs" in fig.text
    assert fig.meta.get("caption_text", "").startswith("Figure 1")
    body = [e.text for e in els if e.kind == "text"]
    assert "Epochs" not in body and "Accuracy" not in body
    assert (tmp_path / "assets" / fig.image).is_file()
    starts = [e.text.split()[0] for e in els]
    assert starts.index("BODY") < starts.index(fig.text.split()[0]) < starts.index("AFTER")


def test_running_headers_footers_and_page_labels(tmp_path: Path) -> None:
    doc = pymupdf.open()
    for n in range(5):
        page = doc.new_page()
        page.insert_text((72, 40), "ACME Corp Annual Report 2024", fontsize=9)
        page.insert_text((300, 770), str(n + 1), fontsize=9)
        _para(page, 120, f"PAGE{n} " + LOREM)
    doc.set_page_labels([{"startpage": 0, "prefix": "A-", "style": "D", "firstpagenum": 3}])
    src = tmp_path / "furniture.pdf"
    doc.save(src)
    els = _run(src, tmp_path)
    assert [e.text.split()[0] for e in els] == [f"PAGE{n}" for n in range(5)]
    assert [e.page_label for e in els] == [f"A-{n + 3}" for n in range(5)]


def test_a_title_per_page_that_differs_in_its_numbers_is_kept(tmp_path: Path) -> None:
    # "Q1 2022 - ..." over "Q2 2023 - ..." in the same place on every page: digits masked,
    # they look like a running header, but no number in them counts the pages.
    doc = pymupdf.open()
    quarters = ["Q1 2022", "Q2 2022", "Q4 2023", "Q1 2021", "Q3 2022"]
    for n, q in enumerate(quarters):
        page = doc.new_page()
        page.insert_text((72, 40), f"ACME Corp report page {n + 7}", fontsize=9)
        page.insert_text((72, 70), f"{q} - Income Before Tax by Segment", fontsize=9)
        _para(page, 120, f"PAGE{n} " + LOREM)
    src = tmp_path / "titles.pdf"
    doc.save(src)
    texts = [e.text for e in _run(src, tmp_path)]
    assert [t for t in texts if "Income Before Tax" in t] == [f"{q} - Income Before Tax by Segment" for q in quarters]
    assert not [t for t in texts if "report page" in t]  # "page 7", "page 8": counts pages, dropped


def _long_pdf(path: Path, pages: int = 20) -> None:
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        y = _heading(page, 60, f"{n + 1} Chapter {n + 1}", 14)
        y = _para(page, y, f"P{n}A " + LOREM, x0=56, x1=290)
        _para(page, 100, f"P{n}B " + LOREM, x0=320, x1=556)
        if n % 5 == 0:
            page.insert_image(pymupdf.Rect(100, 400, 340, 560), stream=_raster_png())
    doc.save(path)


def test_ids_and_order_identical_across_runs_and_worker_counts(tmp_path: Path) -> None:
    src = tmp_path / "long.pdf"
    _long_pdf(src)
    pdf_partitioner.set_workers(1)
    one = _run(src, tmp_path / "a")
    again = _run(src, tmp_path / "b")
    pdf_partitioner.set_workers(2)
    two = _run(src, tmp_path / "c")
    key = [(e.id, e.order, e.text, e.section, e.image) for e in one]
    assert key == [(e.id, e.order, e.text, e.section, e.image) for e in again]
    assert key == [(e.id, e.order, e.text, e.section, e.image) for e in two]
    assert len({e.page for e in two}) == 20 and len({e.id for e in two}) == len(two)


def test_worker_count_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLIO_PDF_WORKERS", "3")
    assert pdf_partitioner.worker_count() == 3
    pdf_partitioner.set_workers(1)
    assert pdf_partitioner.worker_count() == 1


def test_encrypted_pdf_needs_the_password(tmp_path: Path) -> None:
    doc = pymupdf.open()
    _para(doc.new_page(), 72, "SECRET " + LOREM)
    src = tmp_path / "locked.pdf"
    doc.save(src, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="open-sesame", owner_pw="owner")
    with pytest.raises(DocumentError, match="encrypted: password required"):
        _run(src, tmp_path)
    with pytest.raises(DocumentError, match="encrypted"):
        _run(src, tmp_path, password="wrong")
    els = _run(src, tmp_path, password="open-sesame")
    assert els[0].text.startswith("SECRET")


def test_zero_pages_and_not_a_pdf_are_clean_errors(tmp_path: Path) -> None:
    empty = tmp_path / "nopages.pdf"
    empty.write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    with pytest.raises(DocumentError, match="no pages"):
        _run(empty, tmp_path)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    with pytest.raises(DocumentError):
        _run(junk, tmp_path)


def test_truncated_pdf_is_repaired(tmp_path: Path) -> None:
    src = tmp_path / "full.pdf"
    doc = pymupdf.open()
    for n in range(3):
        _para(doc.new_page(), 72, f"PAGE{n} " + LOREM)
    doc.save(src, deflate=False, use_objstms=False)
    data = src.read_bytes()
    assert b"\nxref" in data
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: data.index(b"\nxref")])  # no xref table, no trailer
    els = _run(cut, tmp_path)
    assert {e.text.split()[0] for e in els} == {"PAGE0", "PAGE1", "PAGE2"}


def test_unstructured_engine_is_delegated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "doc.pdf"
    _structured_pdf(src)
    fake = types.ModuleType("partition.pdf.unstructured")
    seen = []

    def fake_partition(ctx):
        seen.append(ctx.settings.pdf_engine)
        return [ctx.make("text", "from unstructured", page=1)]

    fake.partition = fake_partition  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "partition.pdf.unstructured", fake)
    els = _run(src, tmp_path, pdf_engine="unstructured-fast")
    assert seen == ["unstructured-fast"] and els[0].text == "from unstructured"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_broken_files(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="encrypted"):
        _run(CORPUS / "libreoffice-writer-password.pdf", tmp_path)
    opened = _run(CORPUS / "libreoffice-writer-password.pdf", tmp_path, password="openpassword")
    assert "lorem" in " ".join(e.text for e in opened).lower()
    truncated = _run(CORPUS / "truncated-multi-column-2p.pdf", tmp_path)
    assert {e.page for e in truncated} == {1, 2}
    invalid = _run(CORPUS / "invalid-pdf-structure-pdfminer-one-page.pdf", tmp_path)
    assert sum(len(e.text) for e in invalid if e.kind == "text") > 5000


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_multi_column_paper(tmp_path: Path) -> None:
    els = _run(CORPUS / "multi-column.pdf", tmp_path, tables="off")
    texts = [e.text for e in els]
    title = next(e for e in els if e.role == "title")
    assert title.text.startswith("Dense Passage Retrieval")
    intro = next(i for i, t in enumerate(texts) if t == "1 Introduction")
    background = next(i for i, t in enumerate(texts) if t == "2 Background")
    assert intro < background
    retrieval = [e for e in els if e.role == "heading" and e.text.startswith("3.1")]
    assert retrieval and retrieval[0].section[0].startswith("3 Dense Passage Retriever")
    assert any(e.kind == "image" and e.page == 5 for e in els), "Figure 1 is a vector chart on page 5"


def test_reading_order_columns_versus_label_rows() -> None:
    from partition.pdf.order import reading_order

    # "Item 1A." labels beside their text: narrow runs are not columns, read row by row.
    labels = [(72, y, 110, y + 10) for y in (100, 140, 180)]
    texts = [(130, y, 540, y + 30) for y in (100, 140, 180)]
    assert reading_order(labels + texts, 612) == [0, 3, 1, 4, 2, 5]
    # Two real columns under a full-width title, with paragraph gaps at the same heights.
    title = [(72, 40, 540, 60)]
    left = [(72, y, 290, y + 40) for y in (100, 150, 200)]
    right = [(320, y, 540, y + 40) for y in (100, 150, 200)]
    assert reading_order(title + left + right, 612) == [0, 1, 2, 3, 4, 5, 6]
