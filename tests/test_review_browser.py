"""One review round trip in a real headless Chromium (Playwright on Debian's chromium), on
the session server: a reader flags a citation card in the Ask tab; in the Review tab the
queue lists elements, the flagged one is opened beside its crop and its page (box drawn),
its caption is corrected and saved, and search finds the corrected caption. A screenshot of
the tab is saved to tests/artifacts/review-tab.png (also when the test fails)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest

from tests.test_app_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DONE, LOCAL_HOSTS, sync_api

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")

REPORT = "northwind-report.pdf"
CAPTION = "Grouped bar chart of quarterly revenue; the Numbatian region is tallest in Q4."


def _figure(base: str) -> str:
    els = httpx.get(base + "/api/review/elements", params={"source": REPORT, "kind": "image"}).json()["elements"]
    return next(e["element_id"] for e in els if e["page"] == 2)


def test_review_round_trip_in_chromium(app_url: str) -> None:
    from urllib.parse import urlsplit

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "review-tab.png"
    fig = _figure(app_url)
    broken: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1500, "height": 1300}, service_workers="block")
            context.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).hostname in LOCAL_HOSTS
                          or r.request.url.startswith(("data:", "blob:")) else r.abort())
            context.on("response", lambda resp: broken.append(f"{resp.url} {resp.status}") if resp.status >= 400
                       else None)
            page = context.new_page()
            try:
                page.goto(app_url + "/", wait_until="load", timeout=60_000)
                page.wait_for_selector("#folio-question textarea", timeout=60_000)
                # A reader flags a citation card of an answer.
                page.locator("#folio-question textarea").fill("What does Figure 1 show about quarterly revenue?")
                page.locator("#folio-ask").click()
                page.wait_for_function(DONE, timeout=150_000)
                flags = page.locator("#folio-sources .folio-flag")
                flagged = flags.count() > 0
                if flagged:
                    flags.first.click()
                    page.wait_for_function("() => Array.from(document.querySelectorAll('#folio-sources "
                                           ".folio-flag')).some(b => b.textContent.includes('Flagged'))",
                                           timeout=20_000)

                # opening the tab fills the needs-review list (no click on Refresh)
                page.get_by_role("tab", name="Review").click()
                page.wait_for_function("() => document.querySelectorAll('#review-list tbody tr').length > 0 && "
                                       "!(document.querySelector('#review-list tbody') || {}).textContent"
                                       ".includes('No data')", timeout=30_000)
                queue_text = page.locator("#review-list").inner_text()
                if flagged:
                    assert "flagged by a reader" in queue_text, queue_text[:1000]
                page.locator("#review-element-id textarea, #review-element-id input").first.fill(fig)
                page.locator("#review-open").click()
                page.wait_for_function(f"() => (document.querySelector('#review-head') || {{}}).textContent"
                                       f".includes('{fig}')", timeout=30_000)
                page.wait_for_function("() => ['#review-crop img', '#review-page img'].every(s => {"
                                       "const i = document.querySelector(s); return i && i.complete && "
                                       "i.naturalWidth > 0; })", timeout=30_000)
                assert "northwind-report.pdf" in page.locator("#review-head").inner_text()
                box = page.locator("#review-caption textarea")
                box.fill(CAPTION)
                page.locator("#review-save-caption").click()
                page.wait_for_function("() => (document.querySelector('#review-status') || {}).textContent"
                                       ".includes('Saved')", timeout=30_000)
                assert page.locator("#review-caption textarea").input_value() == CAPTION
                assert "edited by" in page.locator("#review-head").inner_text()
            finally:
                with contextlib.suppress(sync_api.Error):
                    page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    hits = httpx.get(app_url + "/api/search", params={"q": "Numbatian region", "k": 3}).json()["hits"]
    assert hits and fig in hits[0]["element_ids"] and hits[0]["caption"] == CAPTION
    audit = httpx.get(app_url + "/api/review/audit").json()["audit"]
    assert audit[0]["element_id"] == fig and audit[0]["new"] == CAPTION
    assert not [b for b in broken if "/assets/" in b], broken
    assert Path(shot).stat().st_size > 10_000
