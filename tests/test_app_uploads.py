"""Documents from the browser over the real server (issue 22, item 6): a reviewer uploads a
PDF, it is searchable at once (no restart) and removable; readers are refused; bad names,
types and sizes get a clear 4xx; a run holding the index lock is reported, not waited for.
Indexing is the real `ingest.py run --only` child with the real embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app_fixtures import copy_app, server
from ui.app import basic
from ui.auth import hash_password

READER = {"Authorization": basic("ann", "ann-password")}
REVIEWER = {"Authorization": basic("bob", "bob-password")}
RAW = {"content-type": "application/octet-stream"}
WORD = "quokkaledger"  # in no sample document


def pdf_bytes(text: str) -> bytes:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), text, fontsize=12)
    data: bytes = doc.tobytes()
    doc.close()
    return data


@pytest.fixture(scope="module")
def app(app_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cfg = copy_app(app_config, tmp_path_factory.mktemp("uploads") / "app",
                   'login = "always"\nupload_dir = "docs/uploads"\nupload_max_mb = 0.5')
    users = f"ann:reader:{hash_password('ann-password')},bob:reviewer:{hash_password('bob-password')}"
    with server(cfg, env={"FOLIO_USERS": users}, headers=READER) as base:
        yield base, cfg


def upload(base: str, name: str, body: bytes, who: dict[str, str] = REVIEWER,
           ctype: dict[str, str] = RAW) -> httpx.Response:
    return httpx.post(base + "/api/upload", params={"name": name}, content=body, headers={**who, **ctype},
                      timeout=300)


def sources(base: str, q: str) -> list[str]:
    r = httpx.get(base + "/api/search", params={"q": q, "k": 5}, headers=READER, timeout=60)
    assert r.status_code == 200, r.text
    return [h["source"] for h in r.json()["hits"]]


@pytest.mark.slow
def test_upload_is_searchable_at_once_then_removed(app: tuple[str, Path]) -> None:
    base, cfg = app
    folder = cfg.parent / "docs" / "uploads"
    body = pdf_bytes(f"The {WORD} lists 4711 quokkas counted on Rottnest Island in March.")
    r = upload(base, "../../escape/quokka count.pdf", body)  # a path in the name: only its last part counts
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["source"] == "uploads/quokka count.pdf" and out["status"] in ("ok", "partial"), out
    assert (folder / "quokka count.pdf").read_bytes() == body
    assert not (cfg.parent / "escape").exists()
    assert "uploads/quokka count.pdf" in sources(base, f"{WORD} quokkas Rottnest")  # no restart

    # the same name again: a new file beside it, the first is not overwritten
    r2 = upload(base, "quokka count.pdf", pdf_bytes(f"Second {WORD} list."))
    assert r2.status_code == 200 and r2.json()["source"] == "uploads/quokka count (2).pdf", r2.text
    assert (folder / "quokka count.pdf").read_bytes() == body

    # a reader may not remove; a document outside the upload folder cannot be removed here
    assert httpx.post(base + "/api/remove", json={"source": "uploads/quokka count.pdf"}, headers=READER,
                      timeout=60).status_code == 403
    r = httpx.post(base + "/api/remove", json={"source": "northwind-report.pdf"}, headers=REVIEWER, timeout=60)
    assert r.status_code == 403 and "upload folder" in r.json()["error"], r.text
    assert (cfg.parent / "docs" / "northwind-report.pdf").exists()

    # re-index one document (a reviewer may re-index any)
    r = httpx.post(base + "/api/reindex", json={"source": "uploads/quokka count.pdf"}, headers=REVIEWER, timeout=300)
    assert r.status_code == 200 and "re-indexed" in r.json()["message"], r.text

    for source in ("uploads/quokka count.pdf", "uploads/quokka count (2).pdf"):
        r = httpx.post(base + "/api/remove", json={"source": source}, headers=REVIEWER, timeout=300)
        assert r.status_code == 200, r.text
    assert not list(folder.iterdir())
    assert not [s for s in sources(base, f"{WORD} quokkas Rottnest") if s.startswith("uploads/")]
    docs = httpx.get(base + "/api/documents", headers=READER, timeout=60).json()
    assert "northwind-report.pdf" in str(docs) and "quokka" not in str(docs)


def test_readers_and_bad_files_are_refused(app: tuple[str, Path]) -> None:
    base, cfg = app
    folder = cfg.parent / "docs" / "uploads"
    r = upload(base, "memo.pdf", pdf_bytes("reader's upload"), who=READER)
    assert r.status_code == 403 and "reviewer role" in r.json()["error"], r.text
    r = upload(base, "tool.exe", b"MZ\x90\x00" * 10)
    assert r.status_code == 415 and "tool.exe" in r.json()["error"] and ".exe" in r.json()["error"], r.text
    r = upload(base, "fake.pdf", b"MZ\x90\x00" * 10)  # an .exe renamed
    assert r.status_code == 415 and "fake.pdf" in r.json()["error"], r.text
    big = b"%PDF-1.7\n" + b"0" * (600 * 1024)
    r = upload(base, "big.pdf", big)
    assert r.status_code == 413, r.text
    r = upload(base, "form.pdf", pdf_bytes("x"), ctype={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 415, r.text
    assert httpx.post(base + "/api/reindex", json={"source": "northwind-report.pdf"}, headers=READER,
                      timeout=60).status_code == 403
    assert httpx.post(base + "/gradio_api/upload", headers=REVIEWER, content=b"x", timeout=60).status_code == 403
    assert not [p for p in folder.iterdir() if p.name != "held.pdf"]


def test_a_run_holding_the_lock_is_reported_not_waited_for(app: tuple[str, Path]) -> None:
    from pipeline.lock import RunLock

    base, cfg = app
    with RunLock(cfg.parent / "index" / "run.lock"):
        r = upload(base, "held.pdf", pdf_bytes(f"held {WORD}"))
    assert r.status_code == 409 and "another run" in r.json()["error"], r.text
    assert (cfg.parent / "docs" / "uploads" / "held.pdf").exists()  # the next run indexes it
