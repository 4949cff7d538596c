"""The Corpus and Review tabs as a reader sees them at 1280 px, in a real headless
Chromium on the session server: the Corpus tab shows the enrichment backlog, the review
queue and the last nights' chart with the same numbers ``ingest.py status`` computes; the
Review queue has readable columns, j / k open the next / previous element beside its page.
Screenshots go to tests/artifacts/ (corpus-tab.png, review-queue.png; copied to docs/)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.test_app_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LOCAL_HOSTS, sync_api

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")

WIDTH = 1280
# the element is open and its page drawn: what a reader waits for before the next key
HEAD_HAS = ("(id) => ((document.querySelector('#review-head') || {}).textContent || '').includes(id) && "
            "(() => { const i = document.querySelector('#review-page img'); "
            "return !!i && i.complete && i.naturalWidth > 0; })()")


def _status(app_config: Path) -> dict:  # type: ignore[type-arg]
    from commands.status import gather_status
    from folio.config import load_config
    from tests.app_fixtures import PIPELINE

    return gather_status(load_config(app_config).pipeline(PIPELINE))


# Slow: timing-sensitive in Chromium (failed 1 of 5 runs for its author, and once in a
# fresh-clone make test); run it with -m slow until its waits are made event-driven.
@pytest.mark.slow
def test_corpus_and_review_tabs_at_1280_px(app_url: str, app_config: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    broken: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": 900}, service_workers="block")
            context.route("**/*", lambda r: r.continue_() if urlsplit(r.request.url).hostname in LOCAL_HOSTS
                          or r.request.url.startswith(("data:", "blob:")) else r.abort())
            context.on("response", lambda resp: broken.append(f"{resp.url} {resp.status}") if resp.status >= 400
                       else None)
            page = context.new_page()
            page.goto(app_url + "/", wait_until="load", timeout=60_000)
            page.wait_for_selector("#folio-question textarea", timeout=60_000)

            page.get_by_role("tab", name="Corpus").click()
            shot = ARTIFACTS / "corpus-tab.png"
            try:
                page.wait_for_selector("#folio-runs-chart table.folio-runs tbody tr", timeout=30_000)
                page.wait_for_function("() => (document.querySelector('#folio-backlog') || {}).textContent"
                                       "?.includes('Review queue')", timeout=30_000)
                # the tab's load is finished (no progress timer over it) and its table drawn
                page.wait_for_function("() => document.querySelectorAll('#folio-documents .virtual-row').length > 0"
                                       " && !document.querySelector('.eta-bar, .progress-text')", timeout=60_000)
                chart = page.eval_on_selector_all(
                    "#folio-runs-chart table.folio-runs tbody tr",
                    "rows => rows.map(r => Array.from(r.querySelectorAll('td')).map(td => td.textContent.trim()))")
                backlog = page.locator("#folio-backlog").inner_text()
                docs_text = page.locator("#folio-documents").inner_text()
            finally:
                with contextlib.suppress(sync_api.Error):
                    page.screenshot(path=str(shot), full_page=True)
            st = _status(app_config)  # the status command's numbers, computed now
            assert [row[2] for row in chart] == [str(r["changed"]) for r in reversed(st["runs"][:len(chart)])]
            assert [row[4] for row in chart] == [str(r["failed"]) for r in reversed(st["runs"][:len(chart)])]
            assert f"Review queue: {st['review_queue']} elements" in backlog, backlog
            assert "Enrichment backlog" in backlog and "northwind-report.pdf" in docs_text

            page.get_by_role("tab", name="Review").click()
            shot = ARTIFACTS / "review-queue.png"
            try:
                # Gradio draws the list's rows as div.virtual-row, cells as div.body-cell
                page.wait_for_function("() => document.querySelectorAll('#review-list .virtual-row').length > 1",
                                       timeout=30_000)
                widths = page.eval_on_selector_all("#review-list thead th",
                                                   "ths => ths.map(t => t.getBoundingClientRect().width)")
                ids = page.eval_on_selector_all(
                    "#review-list .virtual-row",
                    "rows => rows.slice(0, 2).map(r => { const c = r.querySelectorAll('.body-cell'); "
                    "return c[c.length - 1].textContent.trim(); })")
                page.locator("body").focus()
                page.keyboard.press("j")
                page.wait_for_function(HEAD_HAS, arg=ids[0], timeout=30_000)
                page.wait_for_timeout(1000)  # the rest of the view (crop, edit boxes) settles
                page.keyboard.press("j")
                page.wait_for_function(HEAD_HAS, arg=ids[1], timeout=30_000)
                page.wait_for_timeout(1000)
                page.keyboard.press("Alt+ArrowUp")
                page.wait_for_function(HEAD_HAS, arg=ids[0], timeout=30_000)
                page.wait_for_function("() => { const i = document.querySelector('#review-page img'); "
                                       "return i && i.complete && i.naturalWidth > 0; }", timeout=30_000)
                list_box = page.locator("#review-list").bounding_box()
                page_box = page.locator("#review-page img").bounding_box()
            finally:
                with contextlib.suppress(sync_api.Error):
                    page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert len(widths) == 6 and min(widths) >= 45, f"a column too narrow to read at {WIDTH} px: {widths}"
    assert list_box and page_box and page_box["x"] >= list_box["x"] + list_box["width"] - 5, (list_box, page_box)
    assert not broken, broken
