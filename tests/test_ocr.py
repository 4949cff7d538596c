"""RapidOCR wrapper and the scanned-page path of the PDF partitioner."""

from __future__ import annotations

from pathlib import Path

import pytest

from folio import ocr
from folio.config import PartitionSettings
from partition import partition_file

pymupdf = pytest.importorskip("pymupdf")
pytest.importorskip("rapidocr")

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _text_png(lines: list[str], zoom: float = 2.0) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=60 + 40 * len(lines))
    for n, line in enumerate(lines):
        page.insert_text((30, 50 + 40 * n), line, fontsize=20)
    return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom)).tobytes("png")


def test_ocr_image_reads_text_in_order_and_scales_boxes() -> None:
    boxes = ocr.ocr_image(_text_png(["Quarterly revenue 2024", "Operating margin"]), scale=2.0)
    texts = [b.text for b in boxes]
    assert len(texts) == 2
    assert "revenue" in texts[0].lower() and "margin" in texts[1].lower()
    first = boxes[0].bbox
    # Page coordinates (scale divided out): the first line sits near x=30, baseline y=50.
    assert 20 <= first[0] <= 40 and 25 <= first[1] <= 50 and first[3] <= 60
    assert all(0.5 <= b.score <= 1.0 for b in boxes)


def test_engine_loads_once_per_process() -> None:
    assert ocr.get_engine() is ocr.get_engine()


def test_scanned_page_becomes_ocr_text(tmp_path: Path) -> None:
    src = tmp_path / "scan.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=420, height=300)
    page.insert_image(page.rect, stream=_text_png(["Patient summary report", "Blood pressure normal"]))
    doc.save(src)
    assert not pymupdf.open(src)[0].get_text().strip(), "the fixture must have no text layer"
    els = partition_file(src, PartitionSettings(), tmp_path / "assets")
    assert els and all(e.kind == "text" and e.role == "ocr" for e in els)
    joined = " ".join(e.text for e in els).lower()
    assert "patient summary" in joined and "blood pressure" in joined
    assert all(e.bbox and 0 <= e.bbox[0] < e.bbox[2] <= 420 for e in els)
    # No OCR, no text: the page image stays, as a figure.
    off = partition_file(src, PartitionSettings(ocr=False), tmp_path / "assets2")
    assert [e.kind for e in off] == ["image"]


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_scanned_report(tmp_path: Path) -> None:
    els = partition_file(
        CORPUS / "MEDRPT-2024-PAT-3847_medical_report_scan.pdf", PartitionSettings(), tmp_path / "assets"
    )
    assert {e.page for e in els} == {1, 2, 3}
    assert len(" ".join(e.text for e in els)) > 500
