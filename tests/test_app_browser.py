"""The Ask tab in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Loads the app from the session server (``app_url``: the samples, SmolLM2-135M), asks a
question answered by the PDF's revenue table, and checks what a user sees: the answer in
the chatbot and citation cards whose pictures really loaded (a table card shows the
rendered table). Every request the page makes is recorded: the page must be fully offline,
so any host other than 127.0.0.1 (a CDN, web fonts, analytics) fails the test; such requests
are also aborted, so an offline machine does not wait for them. A screenshot of the tab is
saved to tests/artifacts/ask-tab.png, also when the test fails.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1"}
# Its answer is a row of "Table 1: Quarterly revenue by region" in northwind-report.pdf (501.2).
QUESTION = "What was the North region revenue in Q4?"
ANSWER_TIMEOUT_MS = 150_000  # the whole answer, tiny model on 2 cores: a few seconds when well
IMAGES_TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (Debian package chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed (pip: playwright)")

# Installed before the page's scripts run: remembers every <img> that ever appears in
# #folio-sources and whether it loaded, because the cards shown while the model writes
# (the retrieved sources) are replaced by the cited ones when the answer is done.
WATCH_IMAGES = """
window.__folioImgs = [];
const seen = new WeakSet();
const note = (img) => {
  if (seen.has(img)) return;
  seen.add(img);
  const rec = {src: img.getAttribute('src'), alt: img.getAttribute('alt'), loaded: false, error: false,
               width: 0};
  window.__folioImgs.push(rec);
  const done = () => { rec.loaded = img.naturalWidth > 0; rec.width = img.naturalWidth; };
  img.addEventListener('load', done);
  img.addEventListener('error', () => { rec.error = true; });
  if (img.complete) done();
};
new MutationObserver(() => {
  document.querySelectorAll('#folio-sources img').forEach(note);
}).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ['src']});
"""

# The cards on the page now: kind (from the head line), whether a <table> is rendered, and
# each picture's state.
CARDS = """
() => Array.from(document.querySelectorAll('#folio-sources .folio-card')).map(card => {
  const head = (card.querySelector('.head') || {}).textContent || '';
  const kind = head.replace(/\\(document .*\\)\\s*$/, '').trim().split(' · ').pop().trim();
  const imgs = Array.from(card.querySelectorAll('img')).map(i => ({
    src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth}));
  return {head: head.trim(), kind: kind, pending: card.classList.contains('folio-pending'),
          tag: card.tagName.toLowerCase(), imgs: imgs,
          tables: (card.closest('.folio-cardwrap') || card).querySelectorAll('table').length};
})
"""


# The answer is complete: the engine's last event writes "N citation(s) · first token ..."
# under the chat; an error writes "Cannot answer: ..." in it.
DONE = """
() => ((document.querySelector('#folio-query') || {}).textContent || '').includes('citation(s)')
   || ((document.querySelector('#folio-chat') || {}).textContent || '').includes('Cannot answer')
"""


def _foreign(requests: list[str]) -> list[str]:
    return sorted({u for u in requests if urlsplit(u).hostname not in LOCAL_HOSTS
                   and not u.startswith(("data:", "blob:"))})


def _trouble(requests: list[str], broken: list[str]) -> str:
    return (f"requests to other hosts: {_foreign(requests) or 'none'}; resources answered with an error: "
            + ("\n".join(broken) or "none"))


def _server_log(app_config: Path) -> str:
    logs = sorted(app_config.parent.glob("serve-*.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text(errors="replace")[-3000:] if logs else "(no server log)"


def test_ask_tab_in_chromium(app_url: str, app_config: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ask-tab.png"
    requests: list[str] = []
    failed: list[str] = []  # pictures whose request failed
    broken: list[str] = []  # any resource answered with an HTTP error
    csp: list[str] = []  # what the Content-Security-Policy refused

    def on_failed(req: Any) -> None:
        # ERR_ABORTED: a retrieved source's picture dropped when the cited cards replaced it
        if req.resource_type == "image" and "ERR_ABORTED" not in (req.failure or ""):
            failed.append(f"{req.url} ({req.failure})")

    def on_response(resp: Any) -> None:
        if resp.status >= 400:
            body = ""
            with contextlib.suppress(sync_api.Error):
                body = resp.text()[:200]
            broken.append(f"{resp.request.method} {resp.url} -> {resp.status} {body}")

    def route(r: Any) -> None:
        host = urlsplit(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            r.abort()  # recorded by the request listener; fails the test below

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
            context.on("request", lambda req: requests.append(req.url))
            context.on("requestfailed", on_failed)
            context.on("response", on_response)
            context.route("**/*", route)
            context.add_init_script(WATCH_IMAGES)
            page = context.new_page()
            page.on("websocket", lambda ws: requests.append(ws.url))
            # The page works under the server's Content-Security-Policy: nothing refused.
            page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
            try:
                page.goto(app_url + "/", wait_until="load", timeout=60_000)
                try:
                    page.wait_for_selector("#folio-question textarea", timeout=60_000)
                except sync_api.TimeoutError:
                    rendered = False
                else:
                    rendered = True
                if not rendered:
                    pytest.fail("the Ask tab did not render in 60 s; " + _trouble(requests, broken))
                page.locator("#folio-question textarea").fill(QUESTION)
                page.locator("#folio-ask").click()

                try:
                    page.wait_for_function(DONE, timeout=ANSWER_TIMEOUT_MS)
                except sync_api.TimeoutError:
                    answered = False
                else:
                    answered = True
                if not answered:
                    chat = page.locator("#folio-chat").inner_text()
                    pytest.fail(f"no finished answer within {ANSWER_TIMEOUT_MS / 1000:.0f} s; the chat shows "
                                f"{chat[-500:]!r}; {_trouble(requests, broken)}\nserver log:\n"
                                f"{_server_log(app_config)}")
                bot = page.locator("#folio-chat [data-testid='bot']").last
                answer = bot.inner_text().strip()
                assert answer and not answer.startswith("(waiting"), f"no answer text in the chatbot: {answer!r}"
                assert not answer.startswith("Cannot answer"), answer

                # Every picture the cards show has finished loading (or failed).
                with contextlib.suppress(sync_api.TimeoutError):  # judged below, with the details
                    page.wait_for_function(
                        "() => Array.from(document.querySelectorAll('#folio-sources img')).every(i => i.complete)"
                        " && window.__folioImgs.some(r => r.loaded || r.error)",
                        timeout=IMAGES_TIMEOUT_MS)
                cards: list[dict[str, Any]] = page.evaluate(CARDS)
                seen: list[dict[str, Any]] = page.evaluate("() => window.__folioImgs")
            finally:  # also when it failed: the picture shows how far it got
                with contextlib.suppress(sync_api.Error):
                    page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()

    detail = json.dumps({"answer": answer, "cards": cards, "images_seen": seen}, indent=1)
    foreign = _foreign(requests)
    assert not foreign, f"the page requested other hosts (it must work offline): {foreign}"
    assert not csp, f"the Content-Security-Policy refused part of the page: {csp}"
    assert not failed, f"pictures failed to load: {failed}"
    assert not broken, f"resources answered with an HTTP error: {broken}"
    assert any(r["loaded"] for r in seen), f"no citation card picture loaded:\n{detail}"
    final = [c for c in cards if not c["pending"]]
    for c in final:  # the cited cards (none when the tiny model cited nothing); DOCX elements have no picture
        assert all(i["complete"] and i["width"] > 0 for i in c["imgs"]), f"a card's picture did not load: {c}"
        if c["kind"] == "table":
            assert c["tables"] >= 1, f"a table citation without its rendered <table>: {c}"
