"""The bundled sample set partitions into what a user would expect to see."""

from __future__ import annotations

from pathlib import Path

from folio.config import PartitionSettings
from folio.element import Element
from folio.table_grid import html_to_grid
from partition import partition_file

DOCS = Path(__file__).resolve().parents[1] / "samples" / "docs"


def run(name: str, tmp_path: Path) -> list[Element]:
    return partition_file(DOCS / name, PartitionSettings(), tmp_path)


def test_report_pdf(tmp_path: Path) -> None:
    els = run("northwind-report.pdf", tmp_path)
    tables = [e for e in els if e.kind == "table"]
    assert len(tables) == 1
    grid = html_to_grid(tables[0].html or "")
    assert grid[0] == ["Region", "Q1", "Q2", "Q3", "Q4"]
    assert grid[-1] == ["Total", "897.8", "945.3", "993.4", "1077.9"]
    assert tables[0].section == ("2 Revenue by region",)
    assert tables[0].page == 1 and tables[0].page_label == "R-1"

    figures = [e for e in els if e.kind == "image"]
    assert len(figures) == 2
    for f in figures:
        assert f.image and (tmp_path / f.image).is_file()
    # The vector chart keeps its axis and point labels; they are not body paragraphs.
    vector = figures[1]
    assert {"Q1", "Q4", "46%"} <= set(vector.text.split())
    body = {e.text for e in els if e.kind == "text"}
    assert "Q1" not in body
    headings = [e.text for e in els if e.role == "heading"]
    assert headings == ["1 Overview", "2 Revenue by region", "3 Drivers", "4 Figures"]
    # no running page numbers in the body
    assert not any(e.text.strip() in {"1", "2"} for e in els)


def test_memo_docx(tmp_path: Path) -> None:
    els = run("warehouse-memo.docx", tmp_path)
    assert not any("internal memo" in e.text for e in els)  # running header kept out
    table = next(e for e in els if e.kind == "table")
    assert table.section == ("Warehouse memo", "Staffing", "Shift schedule")
    assert html_to_grid(table.html or "")[1] == ["Early", "06:00-14:00", "18"]
    assert sum(e.role == "list_item" for e in els) == 3
    pic = next(e for e in els if e.kind == "image")
    assert pic.image and (tmp_path / pic.image).is_file()


def test_deck_pptx(tmp_path: Path) -> None:
    els = run("northwind-deck.pptx", tmp_path)
    chart = next(e for e in els if e.role == "chart")
    assert chart.page == 2 and "501.2" in chart.text and "West" in chart.text
    notes = next(e for e in els if e.role == "notes")
    assert notes.page == 1
    pic = next(e for e in els if e.kind == "image")
    assert "Bar chart" in pic.text and pic.page == 3
