"""Every file of the shared corpus ends with the right status, through the same isolated
path the nightly run uses (child process, per-document time limit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from folio.config import PartitionSettings
from folio.errors import DocumentError
from partition import partition_file
from partition.isolate import run_isolated

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FILES = sorted(p for p in CORPUS.glob("*") if p.suffix.lower() in {".pdf", ".docx", ".pptx"}) if CORPUS.is_dir() else []
# file -> words the error must contain; every other file must give elements.
EXPECTED_ERRORS = {
    "empty.pdf": "empty file",
    "libreoffice-writer-password.pdf": "encrypted",
}

pytestmark = pytest.mark.skipif(not FILES, reason="../shared/corpus is not beside the checkout")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_status(path: Path, tmp_path: Path) -> None:
    expected = EXPECTED_ERRORS.get(path.name)
    try:
        elements = run_isolated(partition_file, (path, PartitionSettings(), tmp_path), 300, path.name)
    except DocumentError as e:
        assert expected is not None, f"{path.name} failed: {e}"
        assert expected in e.reason
        assert path.name in str(e)
        return
    assert expected is None, f"{path.name} should have failed with {expected!r}"
    assert elements, path.name
    assert any(e.text.strip() or e.image for e in elements)
    assert len({e.id for e in elements}) == len(elements)  # ids are unique within a document
