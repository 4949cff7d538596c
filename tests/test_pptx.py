"""PPTX partitioner: generated decks for each feature, plus the real corpus files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from folio.errors import DocumentError
from folio.table_grid import html_to_grid
from tests.office_fixtures import png, run_partition

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EVAL = ROOT.parent / "shared" / "eval-dev" / "tables.jsonl"


@pytest.fixture
def sample_pptx(tmp_path: Path) -> Path:
    from pptx import Presentation
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    prs = Presentation()
    # Slide 1: title + bulleted body with levels, and speaker notes.
    s1 = prs.slides.add_slide(prs.slide_layouts[1])
    s1.shapes.title.text = "Quarterly Plan"
    body = s1.placeholders[1].text_frame
    body.text = "Grow revenue"
    sub = body.add_paragraph()
    sub.text = "In Europe"
    sub.level = 1
    s1.notes_slide.notes_text_frame.text = "Remember to mention hiring."
    # Slide 2: a table with merged cells, a picture with alt text, a group.
    s2 = prs.slides.add_slide(prs.slide_layouts[5])
    s2.shapes.title.text = "Numbers"
    table = s2.shapes.add_table(3, 3, Inches(0.5), Inches(1.5), Inches(6), Inches(2)).table
    for r in range(3):
        for c in range(3):
            table.cell(r, c).text = f"r{r}c{c}"
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(0, 0).text = "wide"
    table.cell(1, 2).merge(table.cell(2, 2))
    table.cell(1, 2).text = "tall"
    pic = s2.shapes.add_picture(png("green", (120, 90)), Inches(7), Inches(1.5))
    pic._element.nvPicPr.cNvPr.set("descr", "A green box")
    group = s2.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(5), Inches(2), Inches(1)).text_frame.text = "inside a group"
    # Slide 3: a chart.
    s3 = prs.slides.add_slide(prs.slide_layouts[5])
    s3.shapes.title.text = "Sales chart"
    data = CategoryChartData()
    data.categories = ["2023", "2024"]
    data.add_series("Apples", (11, 17))
    data.add_series("Pears", (5, 9))
    chart = s3.shapes.add_chart(
        XL_CHART_TYPE.COLUMN_CLUSTERED, Inches(1), Inches(1.5), Inches(6), Inches(4), data
    ).chart
    chart.has_title = True
    chart.chart_title.text_frame.text = "Fruit sold"
    path = tmp_path / "sample.pptx"
    prs.save(str(path))
    return path


def test_titles_lists_and_notes(sample_pptx: Path, tmp_path: Path) -> None:
    els = run_partition(sample_pptx, tmp_path)
    slide1 = [e for e in els if e.page == 1]
    assert slide1[0].role == "title" and slide1[0].text == "Quarterly Plan"
    assert all(e.section == ("Quarterly Plan",) for e in slide1)
    items = [(e.text, e.meta.get("level")) for e in slide1 if e.role == "list_item"]
    assert items == [("Grow revenue", 0), ("In Europe", 1)]
    notes = [e for e in els if e.role == "notes"]
    assert [(n.page, n.text) for n in notes] == [(1, "Remember to mention hiring.")]
    assert {e.page for e in els} == {1, 2, 3}
    assert all(e.bbox is not None for e in els if e.role != "notes")


def test_table_with_merged_cells(sample_pptx: Path, tmp_path: Path) -> None:
    table = next(e for e in run_partition(sample_pptx, tmp_path) if e.role == "table")
    assert table.page == 2
    grid = html_to_grid(table.html or "")
    assert grid[0] == ["wide", "wide", "r0c2"]
    assert grid[1][2] == grid[2][2] == "tall"
    assert 'colspan="2"' in (table.html or "") and 'rowspan="2"' in (table.html or "")


def test_picture_and_group(sample_pptx: Path, tmp_path: Path) -> None:
    els = run_partition(sample_pptx, tmp_path)
    image = next(e for e in els if e.kind == "image")
    assert image.page == 2 and image.text == "A green box" and image.meta["alt_text"] == "A green box"
    assert (tmp_path / "assets" / (image.image or "missing")).is_file()
    grouped = next(e for e in els if e.text == "inside a group")
    assert grouped.page == 2 and grouped.section == ("Numbers",)


def test_chart_as_table(sample_pptx: Path, tmp_path: Path) -> None:
    chart = next(e for e in run_partition(sample_pptx, tmp_path) if e.role == "chart")
    assert chart.kind == "table" and chart.page == 3
    assert chart.meta["chart_title"] == "Fruit sold"
    assert "Fruit sold" in chart.text
    assert html_to_grid(chart.html or "") == [["", "Apples", "Pears"], ["2023", "11", "5"], ["2024", "17", "9"]]
    assert "2024 | Apples: 17 | Pears: 9" in chart.text


def test_truncated_pptx_is_a_clean_error(sample_pptx: Path, tmp_path: Path) -> None:
    data = sample_pptx.read_bytes()
    broken = tmp_path / "broken.pptx"
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(DocumentError, match="truncated"):
        run_partition(broken, tmp_path)


# -- real corpus ------------------------------------------------------------------------

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")


@needs_corpus
@pytest.mark.parametrize(
    "doc", ["powerpoint_sample.pptx", "markitdown-test.pptx", "fake-power-point-table.pptx",
            "sample-presentation.pptx"],
)
def test_corpus_tables_match_ground_truth(doc: str, tmp_path: Path) -> None:
    tables = [e for e in run_partition(CORPUS / doc, tmp_path) if e.role == "table"]
    checked = 0
    for line in EVAL.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d["doc"] != doc:
            continue
        got = tables[d["table_index"]]
        assert got.page == d["page"]
        norm = [[" ".join(c.split()) for c in row] for row in d["grid"]]
        assert [[" ".join(c.split()) for c in row] for row in html_to_grid(got.html or "")] == norm
        checked += 1
    assert checked


@needs_corpus
def test_corpus_bar3d_chart_read_from_xml(tmp_path: Path) -> None:
    charts = [e for e in run_partition(CORPUS / "pptx_chart.pptx", tmp_path) if e.role == "chart"]
    assert [c.page for c in charts] == [1, 2]
    assert charts[0].meta["chart_title"] == "Wild Duck Observations by Year"
    assert "2022 | Freshwater Ducks: 175" in charts[0].text
    assert charts[1].meta["chart_type"] == "bar3DChart"
    assert html_to_grid(charts[1].html or "")[1:] == [["Q1", "10"], ["Q2", "20"], ["Q3", "30"]]


@needs_corpus
def test_corpus_broken_pictures_keep_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    els = run_partition(CORPUS / "powerpoint_malformed_pictures.pptx", tmp_path)
    assert [e.page for e in els] == [1, 2, 3] and not [e for e in els if e.kind == "image"]
    assert sum("skipping picture" in r.message for r in caplog.records) == 3
    linked = run_partition(CORPUS / "powerpoint_with_image.pptx", tmp_path)
    assert sum(e.kind == "image" for e in linked) == 1  # the linked picture is skipped
    assert "Image linked to file" in [e.text for e in linked]


@needs_corpus
def test_corpus_masters_are_not_content(tmp_path: Path) -> None:
    els = run_partition(CORPUS / "science-exploration-1p.pptx", tmp_path)
    assert not [e for e in els if e.kind == "image"]
    assert any("Sciences and Exploration Directorate" in e.text for e in els)


@needs_corpus
@pytest.mark.parametrize(
    ("doc", "status"), [("fake-power-point-malformed.pptx", "ok"), ("pptx_chart.pptx", "ok")]
)
def test_cli_status(doc: str, status: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "ingest.py"), "partition", str(CORPUS / doc), "--json",
         "--assets", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )
    result = json.loads(out.stdout)
    assert result["status"] == status, result["error"]
    assert any(e["text"] for e in result["elements"])
