"""DOCX partitioner: generated fixtures for each feature, plus the real corpus files."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from folio.errors import DocumentError
from folio.table_grid import html_to_grid
from tests.office_fixtures import png, run_partition

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EVAL = ROOT.parent / "shared" / "eval-dev" / "tables.jsonl"


@pytest.fixture
def sample_docx(tmp_path: Path) -> Path:
    import docx

    doc = docx.Document()
    doc.sections[0].header.paragraphs[0].text = "RUNNING HEADER TEXT"
    doc.sections[0].footer.paragraphs[0].text = "RUNNING FOOTER TEXT"
    doc.add_heading("Annual Report", level=0)
    doc.add_heading("Revenue", level=1)
    doc.add_paragraph("Revenue grew in every region.")
    doc.add_paragraph("first bullet", style="List Bullet")
    doc.add_paragraph("second bullet", style="List Bullet")
    table = doc.add_table(rows=3, cols=3)
    for r in range(3):
        for c in range(3):
            table.cell(r, c).text = f"r{r}c{c}"
    table.cell(0, 0).merge(table.cell(0, 1)).text = "wide"
    table.cell(1, 2).merge(table.cell(2, 2)).text = "tall"
    inner = table.cell(1, 1).add_table(rows=2, cols=2)
    for r in range(2):
        for c in range(2):
            inner.cell(r, c).text = f"inner{r}{c}"
    doc.add_paragraph("After the table.")
    doc.add_heading("Pictures", level=1)
    doc.add_picture(png("red"))
    doc.inline_shapes[-1]._inline.docPr.set("descr", "A red rectangle")
    doc.add_paragraph("Figure 1: The red one", style="Caption")
    doc.add_picture(png("blue", fmt="JPEG"))
    doc.inline_shapes[-1]._inline.docPr.set("descr", "A blue rectangle")
    doc.add_paragraph("Closing words.")
    path = tmp_path / "sample.docx"
    doc.save(str(path))
    return path


def test_headings_lists_and_order(sample_docx: Path, tmp_path: Path) -> None:
    els = run_partition(sample_docx, tmp_path)
    texts = [e.text for e in els if e.kind == "text"]
    assert texts[0] == "Annual Report"
    assert els[0].role == "title"
    revenue = next(e for e in els if e.text == "Revenue grew in every region.")
    assert revenue.section == ("Annual Report", "Revenue")
    bullets = [e for e in els if e.role == "list_item"]
    assert [b.text for b in bullets] == ["first bullet", "second bullet"]
    assert bullets[0].meta["level"] == 0
    pics = next(e for e in els if e.text == "Closing words.")
    assert pics.section == ("Annual Report", "Pictures")
    # The table sits between the bullets and "After the table." (body order kept).
    kinds = [(e.kind, e.text) for e in els]
    t = next(i for i, (k, _) in enumerate(kinds) if k == "table")
    assert kinds[t - 1][1] == "second bullet" and kinds[t + 1][1] == "After the table."
    assert [e.order for e in els] == sorted(e.order for e in els)
    assert all(e.page is None for e in els)


def test_headers_and_footers_stay_out(sample_docx: Path, tmp_path: Path) -> None:
    joined = " ".join(e.text for e in run_partition(sample_docx, tmp_path))
    assert "RUNNING HEADER" not in joined and "RUNNING FOOTER" not in joined


def test_merged_and_nested_table(sample_docx: Path, tmp_path: Path) -> None:
    table = next(e for e in run_partition(sample_docx, tmp_path) if e.kind == "table")
    assert table.html is not None
    assert 'colspan="2">wide' in table.html
    assert 'rowspan="2">tall' in table.html
    assert table.html.count("<table>") == 2  # the nested table is inside a cell
    grid = html_to_grid(table.html)
    assert grid[0] == ["wide", "wide", "r0c2"]
    assert grid[1][2] == grid[2][2] == "tall"
    # The nested values are searchable in the element text.
    for value in ("inner00", "inner01", "inner10", "inner11"):
        assert value in table.text
    assert table.meta["nested_tables"] == 1


def test_pictures_alt_text_caption_andpng(sample_docx: Path, tmp_path: Path) -> None:
    from PIL import Image

    images = [e for e in run_partition(sample_docx, tmp_path) if e.kind == "image"]
    assert [e.text for e in images] == ["A red rectangle", "A blue rectangle"]
    assert images[0].meta["alt_text"] == "A red rectangle"
    assert images[0].meta["caption_text"] == "Figure 1: The red one"
    assert "caption_text" not in images[1].meta
    for e in images:
        assert e.image is not None
        path = tmp_path / "assets" / e.image
        with Image.open(path) as im:  # the JPEG was converted
            assert im.format == "PNG"
            assert im.size == (80, 60)


def test_images_off_and_small_images(sample_docx: Path, tmp_path: Path) -> None:
    assert not [e for e in run_partition(sample_docx, tmp_path, images=False) if e.kind == "image"]
    assert not [e for e in run_partition(sample_docx, tmp_path, min_image_px=100) if e.kind == "image"]


def test_truncated_docx_is_a_clean_error(sample_docx: Path, tmp_path: Path) -> None:
    data = sample_docx.read_bytes()
    broken = tmp_path / "broken.docx"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(DocumentError, match="truncated"):
        run_partition(broken, tmp_path)


def test_missing_document_part_is_a_clean_error(sample_docx: Path, tmp_path: Path) -> None:
    broken = tmp_path / "nobody.docx"
    with zipfile.ZipFile(sample_docx) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            if item.filename != "word/document.xml":
                dst.writestr(item, src.read(item.filename))
    with pytest.raises(DocumentError, match="DOCX"):
        run_partition(broken, tmp_path)


# -- real corpus ------------------------------------------------------------------------

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")


def _gt_grids(doc: str) -> dict[int, list[list[str]]]:
    grids = {}
    for line in EVAL.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d["doc"] == doc:
            grids[d["table_index"]] = d["grid"]
    return grids


def _norm(grid: list[list[str]]) -> list[list[str]]:
    return [[" ".join(c.split()) for c in row] for row in grid]


@needs_corpus
@pytest.mark.parametrize("doc", ["word_tables.docx", "word_sample.docx", "markitdown-test.docx"])
def test_corpus_tables_match_ground_truth(doc: str, tmp_path: Path) -> None:
    tables = [e for e in run_partition(CORPUS / doc, tmp_path) if e.kind == "table"]
    gt = _gt_grids(doc)
    assert gt and len(tables) >= len(gt)
    for i, grid in gt.items():
        assert _norm(html_to_grid(tables[i].html or "")) == _norm(grid), f"{doc} table {i}"


@needs_corpus
def test_corpus_nested_table_values(tmp_path: Path) -> None:
    tables = [e for e in run_partition(CORPUS / "docx-tables.docx", tmp_path) if e.kind == "table"]
    nested = tables[1]
    assert nested.meta["nested_tables"] == 1
    for value in ("e", "f", "g&t", "h"):
        assert f"{value}" in nested.text
    assert "<table>" in (nested.html or "")[7:]  # a table inside the outer one
    merged = html_to_grid(tables[2].html or "")
    assert _norm(merged) == _norm(_gt_grids("docx-tables.docx")[2])


@needs_corpus
def test_corpus_picture_with_caption(tmp_path: Path) -> None:
    els = run_partition(CORPUS / "word_sample.docx", tmp_path)
    image = next(e for e in els if e.kind == "image")
    assert image.meta["alt_text"].startswith("A cartoon duck")
    assert image.meta["caption_text"] == "Figure 1: This is a cute duckling"


@needs_corpus
def test_corpus_handbook(tmp_path: Path) -> None:
    els = run_partition(CORPUS / "handbook-872p.docx", tmp_path)
    assert len(els) > 4000
    assert sum(e.kind == "table" for e in els) == 2
    assert sum(e.role == "heading" for e in els) > 100


@needs_corpus
@pytest.mark.parametrize(
    ("doc", "status"),
    [("docx-tables.docx", "ok"), ("word_sample.docx", "ok"), ("wrong-extension-actually-pdf.docx", "ok")],
)
def test_cli_status(doc: str, status: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "ingest.py"), "partition", str(CORPUS / doc), "--json",
         "--assets", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )
    result = json.loads(out.stdout)
    assert result["status"] == status, result["error"]
    assert result["elements"]


_NS = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
_BOX = '<w:txbxContent><w:p><w:r><w:t>boxed words</w:t></w:r></w:p></w:txbxContent>'
_TEXTBOX_RUN = (
    f'<w:r {_NS}><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor>'
    '<wp:docPr id="5" name="Text Box 5"/><a:graphic><a:graphicData '
    'uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp>'
    f"<wps:txbx>{_BOX}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing>"
    f"</mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox>{_BOX}</v:textbox></v:shape></w:pict>"
    "</mc:Fallback></mc:AlternateContent></w:r>"
)


def test_text_box_read_once_and_chart_as_table(tmp_path: Path) -> None:
    """A text box (with its VML fallback copy) and a chart part embedded in a DOCX."""
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from docx.oxml import parse_xml
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE

    prs = Presentation()
    data = CategoryChartData()
    data.categories = ["East", "West"]
    data.add_series("Units", (4, 6))
    frame = prs.slides.add_slide(prs.slide_layouts[6]).shapes.add_chart(
        XL_CHART_TYPE.PIE, 0, 0, 100, 100, data
    )
    chart_blob = frame.chart.part.blob

    doc = docx.Document()
    host = doc.add_paragraph("Before the box.")
    host._p.append(parse_xml(_TEXTBOX_RUN))
    part = Part(PackURI("/word/charts/chart1.xml"),
                "application/vnd.openxmlformats-officedocument.drawingml.chart+xml", chart_blob, doc.part.package)
    rid = doc.part.relate_to(part, RT.CHART)
    chart_run = (
        f'<w:r {_NS}><w:drawing><wp:inline><wp:docPr id="7" name="Chart 7" descr="unit split"/>'
        '<a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/chart">'
        f'<c:chart r:id="{rid}"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r>'
    )
    doc.add_paragraph()._p.append(parse_xml(chart_run))
    path = tmp_path / "boxes.docx"
    doc.save(str(path))

    els = run_partition(path, tmp_path)
    assert [e.text for e in els if e.kind == "text"] == ["Before the box.", "boxed words"]
    chart = next(e for e in els if e.role == "chart")
    assert chart.kind == "table" and chart.meta["chart_type"] == "pieChart"
    assert html_to_grid(chart.html or "") == [["", "Units"], ["East", "4"], ["West", "6"]]
    assert chart.meta["alt_text"] == "unit split"
