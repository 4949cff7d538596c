"""HTML/MD/TXT/EML/XLSX through unstructured, the unstructured PDF engine, and the
offline patch that makes unstructured usable at all."""

from __future__ import annotations

import json
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from folio.config import PartitionSettings
from folio.element import Element
from folio.errors import DocumentError
from folio.table_grid import html_to_grid
from partition import partition_file

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def _run(path: Path, tmp_path: Path, **settings: object) -> list[Element]:
    return partition_file(path, PartitionSettings(**settings), tmp_path / "assets")  # type: ignore[arg-type]


def test_prepare_unstructured_uses_a_local_spacy_pipeline() -> None:
    from partition.unstructured_compat import prepare_unstructured

    prepare_unstructured()
    prepare_unstructured()  # idempotent
    from unstructured.nlp import tokenize

    nlp = tokenize._get_nlp()
    assert nlp.meta["name"] != "core_web_sm"  # not the downloaded model
    assert "sentencizer" in nlp.pipe_names
    assert tokenize.sent_tokenize("One sentence here. And another one.") == [
        "One sentence here.",
        "And another one.",
    ]


def test_html_headings_lists_and_sanitized_table(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><body><h1>Main Title</h1><p>Intro text for the page.</p><h2>Details</h2>"
        "<ul><li>first point</li><li>second point</li></ul>"
        "<table><tr><th>Name</th><th>Qty</th></tr>"
        "<tr><td onclick='x()'>apples<script>alert(1)</script></td><td>3</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    els = _run(path, tmp_path)
    assert els[0].role == "heading" and els[0].text == "Main Title"
    items = [e for e in els if e.role == "list_item"]
    assert [e.text for e in items] == ["first point", "second point"]
    assert items[0].section == ("Main Title", "Details")
    table = next(e for e in els if e.kind == "table")
    assert html_to_grid(table.html or "") == [["Name", "Qty"], ["apples", "3"]]
    assert "script" not in (table.html or "") and "onclick" not in (table.html or "")


def test_markdown_and_text(tmp_path: Path) -> None:
    md = tmp_path / "notes.md"
    md.write_text("# Guide\n\nSome text here.\n\n## Part B\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    els = _run(md, tmp_path)
    table = next(e for e in els if e.kind == "table")
    assert table.section == ("Guide", "Part B")
    assert html_to_grid(table.html or "") == [["a", "b"], ["1", "2"]]
    txt = tmp_path / "plain.txt"
    txt.write_text("SHORT TITLE\n\nThis is plain text. It has two sentences.\n\nAnother line here.\n")
    roles = [(e.role, e.text) for e in _run(txt, tmp_path)]
    assert roles[0] == ("heading", "SHORT TITLE")
    # Without POS tags unstructured calls short sentences titles; they stay paragraphs.
    assert ("paragraph", "Another line here.") in roles


def test_email_subject_is_the_section(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "Quarterly numbers"
    msg.set_content("Hello team,\n\nRevenue grew 5 percent this quarter.\n")
    path = tmp_path / "mail.eml"
    path.write_bytes(bytes(msg))
    els = _run(path, tmp_path)
    assert els[0].role == "title" and els[0].text == "Quarterly numbers"
    body = next(e for e in els if "Revenue grew" in e.text)
    assert body.section == ("Quarterly numbers",)


def test_xlsx_sheets_become_tables(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sales"
    for row in (["Region", "Q1"], ["North", 10], ["South", 5]):
        ws.append(row)
    wb.create_sheet("Costs").append(["Rent", 7])
    path = tmp_path / "book.xlsx"
    wb.save(str(path))
    tables = [e for e in _run(path, tmp_path) if e.kind == "table"]
    assert [(t.page, t.page_label, t.section) for t in tables] == [
        (1, "Sales", ("Sales",)),
        (2, "Costs", ("Costs",)),
    ]
    assert html_to_grid(tables[0].html or "") == [["Region", "Q1"], ["North", "10"], ["South", "5"]]


def test_cli_json_stdout_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><body><h1>Hello</h1><p>World text here.</p></body></html>")
    out = subprocess.run(
        [sys.executable, str(ROOT / "ingest.py"), "partition", str(path), "--json", "--assets", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )
    result = json.loads(out.stdout)  # no advert or log line mixed into stdout
    assert result["status"] == "ok"
    assert [e["text"] for e in result["elements"]] == ["Hello", "World text here."]


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")


@needs_corpus
def test_unstructured_fast_pdf_engine(tmp_path: Path) -> None:
    els = _run(CORPUS / "layout-parser-paper-with-table.pdf", tmp_path, pdf_engine="unstructured-fast")
    assert all(e.page == 1 for e in els)
    title = next(e for e in els if "LayoutParser" in e.text)
    assert title.bbox is not None
    x0, y0, x1, y1 = title.bbox
    # PDF points with a top-left origin on a US-letter page: the title is near the top.
    assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 < 200


@needs_corpus
@pytest.mark.slow
def test_unstructured_ocr_only_pdf_engine(tmp_path: Path) -> None:
    import shutil

    if shutil.which("tesseract") is None:
        with pytest.raises(DocumentError, match="tesseract"):
            _run(CORPUS / "single_table.pdf", tmp_path, pdf_engine="unstructured-ocr_only")
        return
    els = _run(CORPUS / "layout-parser-paper-with-table.pdf", tmp_path, pdf_engine="unstructured-ocr_only")
    title = next(e for e in els if "LayoutParser" in e.text)
    assert title.bbox is not None and title.bbox[3] < 200
