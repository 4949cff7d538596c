"""An upload through the Corpus tab in headless Chromium (issue 22, item 6): a reviewer
picks a PDF, the tab says it is indexed, a question answered by it cites it within a
minute (the small model, no restart), and the Remove button takes it out again.
Driven as tests/test_app_browser.py drives the Ask tab (Debian's Chromium, Playwright)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app_fixtures import copy_app, server
from tests.test_app_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_app_uploads import pdf_bytes

sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed (pip: playwright)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")]
STATUS = "#folio-docs-status"


@pytest.fixture(scope="module")
def app(app_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    # loopback without login: the local user reviews
    cfg = copy_app(app_config, tmp_path_factory.mktemp("upload-browser") / "app", 'upload_dir = "docs/uploads"')
    with server(cfg) as base:
        yield base, cfg


def test_upload_ask_and_remove_in_chromium(app: tuple[str, Path], tmp_path: Path) -> None:
    base, cfg = app
    pdf = tmp_path / "wildlife census.pdf"
    pdf.write_bytes(pdf_bytes("Wildlife census: 4711 quokkas were counted on Rottnest Island in March 2025."))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(base + "/", wait_until="load", timeout=60_000)
            page.get_by_role("tab", name="Corpus").click()
            page.set_input_files("#folio-upload-file", str(pdf))
            t0 = time.time()
            page.click("#folio-upload-go")
            page.wait_for_function(f"() => /indexed|Refused|Failed/.test(document.querySelector('{STATUS}')"
                                   ".textContent)", timeout=120_000)
            status = page.locator(STATUS).inner_text()
            assert "uploads/wildlife census.pdf: indexed" in status, status
            r = httpx.post(base + "/api/ask", json={"question": "How many quokkas did the wildlife census count?"},
                           timeout=120)
            took = time.time() - t0
            assert r.status_code == 200, r.text
            cited = {c["source"] for c in r.json()["citations"]}
            assert "uploads/wildlife census.pdf" in cited and "4711" in r.json()["answer"], r.json()
            assert took < 60, f"upload to answer took {took:.0f} s"
            page.wait_for_selector("text=uploads/wildlife census.pdf", timeout=30_000)  # the table refreshed

            page.fill("#folio-doc-source", "uploads/wildlife census.pdf")
            page.click("#folio-doc-remove")
            page.wait_for_function(f"() => /removed|Refused|Failed/.test(document.querySelector('{STATUS}')"
                                   ".textContent)", timeout=120_000)
            assert "removed" in page.locator(STATUS).inner_text()
        finally:
            browser.close()
    assert not (cfg.parent / "docs" / "uploads" / "wildlife census.pdf").exists()
    docs = httpx.get(base + "/api/documents", timeout=60).json()
    assert "wildlife census" not in str(docs)
