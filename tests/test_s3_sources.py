"""Sources on an object-store prefix (`{ path = "s3://bucket/docs/" }`): listed with the
same include/exclude globs, fetched only when a file has to be read, and indexed exactly
as the same files in a local folder (a real moto server, tests/s3_fixtures.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from folio.config import Pipeline, Source
from folio.storage import S3Blobs, resolve_options
from index.store import Store
from tests.pipeline_fixtures import Counters, chunk_rows, make_corpus, make_pdf, run, sentence
from tests.s3_fixtures import moto_endpoint, s3_bucket  # noqa: F401  (fixtures)
from tests.test_s3_index import InProcess


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLIO_CACHE_DIR", str(tmp_path / "cache"))


def upload(blobs: S3Blobs, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            blobs.write(path.relative_to(folder).as_posix(), path.read_bytes())


def observed(index: Path) -> dict[str, Any]:
    docs = {s: (d.sha256, d.status, d.chunks, d.pages) for s, d in Store(index).documents().items()}
    return {"docs": docs, "ids": sorted(r["id"] for r in chunk_rows(index))}


def test_object_store_source_indexes_like_a_folder(tmp_path: Path, s3_bucket: str) -> None:  # noqa: F811
    src = tmp_path / "src"
    make_corpus(src, n_pdf=2)
    make_pdf(src / "sub" / "deep.pdf", [sentence("kappa")])
    (src / "README.md").write_text("# not a document of the pipeline\n")
    (src / "sub" / "skip.pdf").write_bytes((src / "doc0.pdf").read_bytes())
    uri = f"{s3_bucket}/share/docs/"
    blobs = S3Blobs(uri.rstrip("/"), resolve_options())
    upload(blobs, src)
    globs: dict[str, Any] = {"include": ["**/*.pdf", "**/*.docx"], "exclude": ["sub/skip.pdf"]}
    local = Pipeline(name="t", sources=[Source(path=src, **globs)], index=tmp_path / "local-idx")
    remote = Pipeline.model_validate({"name": "t", "sources": [{"path": uri, **globs}], "index": tmp_path / "s3-idx"})
    assert remote.sources[0].remote == uri.rstrip("/")

    a, b = InProcess(), InProcess()
    ra, rb = run(local, a).report, run(remote, b).report
    assert sorted(a.partitioned) == sorted(b.partitioned) == ["doc0.pdf", "doc1.pdf", "notes.docx", "sub/deep.pdf"]
    assert ra.counts == rb.counts
    first = observed(local.index)
    assert observed(remote.index) == first

    # nothing changed: listed, not downloaded again, nothing to do
    cache = remote.sources[0].path
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    c = Counters()
    again = run(remote, c)
    assert again._fast and c.partitioned == []
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == before

    # changed, deleted, new objects (and the same in the folder)
    make_pdf(src / "doc0.pdf", [sentence("zeta"), sentence("eta")])
    (src / "doc1.pdf").unlink()
    make_pdf(src / "sub" / "new.pdf", [sentence("omega")])
    blobs.write("doc0.pdf", (src / "doc0.pdf").read_bytes())
    blobs.delete("doc1.pdf")
    blobs.write("sub/new.pdf", (src / "sub" / "new.pdf").read_bytes())
    a, b = InProcess(), InProcess()
    ra, rb = run(local, a).report, run(remote, b).report
    assert sorted(a.partitioned) == sorted(b.partitioned) == ["doc0.pdf", "sub/new.pdf"]
    assert ra.counts == rb.counts and rb.counts["deleted"] == 1
    assert observed(remote.index) == observed(local.index) != first

    # this machine's copies lost (another driver): fetched again only where needed
    shutil.rmtree(cache)
    assert run(remote, Counters())._fast
