"""The real type comes from the bytes, not the name."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from folio.errors import DocumentError, UnsupportedFormat
from folio.filetype import sniff
from partition import detect


def test_pdf_behind_a_docx_name(tmp_path: Path) -> None:
    p = tmp_path / "report.docx"
    p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    assert sniff(p) == "pdf"


@pytest.mark.parametrize(("member", "kind"), [("word/document.xml", "docx"), ("ppt/presentation.xml", "pptx"),
                                              ("xl/workbook.xml", "xlsx")])
def test_ooxml_by_content(tmp_path: Path, member: str, kind: str) -> None:
    p = tmp_path / "file.bin"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(member, "<x/>")
    assert sniff(p) == kind


def test_empty_unsupported_and_text(tmp_path: Path) -> None:
    empty = tmp_path / "a.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match="empty file"):
        detect(empty)
    binary = tmp_path / "a.exe"
    binary.write_bytes(b"MZ\x90\x00" + bytes(100))
    with pytest.raises(UnsupportedFormat, match="unsupported format"):
        detect(binary)
    md = tmp_path / "notes.md"
    md.write_text("# Title\n\nSome text é\n")
    assert detect(md) == "md"
    ole = tmp_path / "old.doc"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    with pytest.raises(UnsupportedFormat, match="OLE"):
        detect(ole)
