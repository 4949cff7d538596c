"""Review in the real app (the session server: serve.py on the samples, SmolLM2 answering):
an edited caption is what search and answers use (JSON API and gradio_client), a hidden
element is never retrieved nor cited, invalid table edits are refused with the reason,
readers vs reviewers on a login-protected server, the audit log export, and a re-ingest
under the running server that keeps one edit and orphans another."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app_fixtures import ingest, server
from ui.app import basic
from ui.auth import hash_password

REPORT = "northwind-report.pdf"
MEMO = "warehouse-memo.docx"


def _elements(base: str, source: str, kind: str | None = None) -> list[dict[str, Any]]:
    r = httpx.get(base + "/api/review/elements", params={"source": source, **({"kind": kind} if kind else {})})
    assert r.status_code == 200, r.text
    return r.json()["elements"]


def _element(base: str, element_id: str) -> dict[str, Any]:
    r = httpx.get(f"{base}/api/review/elements/{element_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _edit(base: str, element_id: str, field: str, value: Any, **kw: Any) -> httpx.Response:
    return httpx.post(f"{base}/api/review/elements/{element_id}", json={"field": field, "value": value},
                      timeout=60, **kw)


def _search(base: str, q: str, k: int = 5) -> list[dict[str, Any]]:
    r = httpx.get(base + "/api/search", params={"q": q, "k": k}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["hits"]


def _sources_and_answer(base: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """(sources the model got, the prompt, the finished answer) of one streamed /api/ask
    (the prompt is in the events only when asked for)."""
    sources: list[dict[str, Any]] = []
    prompt = ""
    done: dict[str, Any] = {}
    with httpx.stream("POST", base + "/api/ask", json={**body, "stream": True, "show_prompt": True},
                      timeout=300) as r:
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "sources":
                data = json.loads(line[6:])
                sources, prompt = data["sources"], data["prompt"]
            elif line.startswith("data: ") and event == "done":
                done = json.loads(line[6:])
    return sources, prompt, done


def _figure(base: str) -> dict[str, Any]:
    figs = [e for e in _elements(base, REPORT, "image") if e["page"] == 2]
    assert figs, _elements(base, REPORT)
    return _element(base, figs[0]["element_id"])


def test_an_edited_caption_is_what_search_and_answers_use(app_url: str) -> None:
    fig = _figure(app_url)
    assert fig["crop_url"] and fig["page_url"] and fig["content_hash"]
    assert httpx.get(app_url + fig["page_url"]).content[:4] == b"\x89PNG"
    new = "Bar chart of quarterly revenue in which the Wombatian region leads every quarter."
    t0 = time.perf_counter()
    r = _edit(app_url, fig["id"], "caption", new)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["element"]["caption"] == new and out["element"]["caption_model"] == "review:local"
    assert out["refresh"]["chunks_embedded"] >= 1
    hits = _search(app_url, "Wombatian region")
    assert time.perf_counter() - t0 < 10
    assert hits and fig["id"] in hits[0]["element_ids"] and "Wombatian" in hits[0]["text"]
    assert hits[0]["caption"] == new
    # the answer's sources (what the model reads) carry the corrected caption
    sources, prompt, done = _sources_and_answer(app_url, {"question": "Which region is the Wombatian region?",
                                                          "k": 2})
    assert any(fig["id"] in s["element_ids"] for s in sources) and "Wombatian" in prompt
    for c in done["citations"]:
        if fig["id"] in c["element_ids"]:
            assert c["caption"] == new
    # gradio_client: the same edit endpoint and the same answer engine
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    newer = "Bar chart of quarterly revenue; the Quokkanese region leads every quarter."
    res = client.predict(fig["id"], "caption", newer, api_name="/review_edit")
    assert res["overlay"]["values"]["caption"] == newer
    ans = client.predict("Which region is the Quokkanese region?", "", 2, "", "", api_name="/ask")
    assert "session_id" in ans
    assert any(fig["id"] in h["element_ids"] for h in _search(app_url, "Quokkanese region"))
    assert not _search(app_url, "Wombatian region") or fig["id"] not in _search(app_url, "Wombatian")[0]["element_ids"]
    audit = httpx.get(app_url + "/api/review/audit").json()["audit"]
    mine = [a for a in audit if a["element_id"] == fig["id"] and a["field"] == "caption"]
    assert [a["new"] for a in mine[:2]] == [newer, new] and mine[1]["previous"] == fig["caption"]


def test_a_hidden_element_is_never_retrieved_nor_cited(app_url: str) -> None:
    table = _elements(app_url, REPORT, "table")[0]["element_id"]
    question = {"question": "What was the North region revenue in Q4?", "k": 3, "filters": {"source": REPORT}}
    assert any(table in h["element_ids"] for h in _search(app_url, "North region revenue Q4 table"))
    assert httpx.post(f"{app_url}/api/review/elements/{table}/hide", timeout=60).status_code == 200
    try:
        assert not any(table in h["element_ids"] for h in _search(app_url, "North region revenue Q4 table", 20))
        sources, _prompt, done = _sources_and_answer(app_url, question)
        assert all(table not in s["element_ids"] for s in sources)
        assert all(table not in c["element_ids"] for c in done["citations"])
        assert _element(app_url, table)["hidden"] is True  # still there for review and export
    finally:
        assert httpx.post(f"{app_url}/api/review/elements/{table}/unhide", timeout=60).status_code == 200
    assert any(table in h["element_ids"] for h in _search(app_url, "North region revenue Q4 table"))


def test_table_edits_are_validated_and_sanitized(app_url: str) -> None:
    table = _element(app_url, _elements(app_url, REPORT, "table")[0]["element_id"])
    bad = [
        ({"cells": [["a", "b"], ["c"]]}, "not a rectangular grid"),
        ({"html": "<table><tr><td rowspan='4'>a</td></tr><tr><td>b</td></tr></table>"}, "runs past the last row"),
        ({"html": "no table here"}, "<table>"),
    ]
    for value, reason in bad:
        r = _edit(app_url, table["id"], "table", value)
        assert r.status_code == 422 and reason in r.json()["error"], r.text
    r = _edit(app_url, table["id"], "colour", "red")
    assert r.status_code == 400 and "field" in r.json()["error"]
    r = httpx.post(f"{app_url}/api/review/elements/{table['id']}", json={"field": "summary", "value": "x", "zz": 1})
    assert r.status_code == 400 and "zz" in r.json()["error"]
    assert _edit(app_url, "nope", "summary", "x").status_code == 404
    grid = [row[:] for row in table["grid"]]
    grid[-1][-1] = "<img src=x onerror=alert(1)>777.7"
    r = _edit(app_url, table["id"], "table", {"cells": grid})
    assert r.status_code == 200, r.text
    html = r.json()["element"]["html"]
    assert "<img" not in html and "777.7" in html
    assert any(table["id"] in h["element_ids"] for h in _search(app_url, "777.7"))
    r = _edit(app_url, table["id"], "table", {"cells": table["grid"]})  # put it back
    assert r.status_code == 200


def test_the_audit_log_exports_as_json_and_csv(app_url: str) -> None:
    rows = httpx.get(app_url + "/api/review/audit", params={"format": "json"}).json()["audit"]
    assert rows
    r = httpx.get(app_url + "/api/review/audit", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(r.text)))
    assert len(parsed) == len(rows) and parsed[0]["user"] == rows[0]["user"]
    assert json.loads(parsed[0]["new"]) == rows[0]["new"]
    assert httpx.get(app_url + "/api/review/audit", params={"format": "xml"}).status_code == 400


def test_readers_ask_and_flag_reviewers_edit(app_config: Path) -> None:
    users = ",".join([f"ann:reader:{hash_password('reader-pass')}", f"rita:reviewer:{hash_password('review-pass')}"])
    ann = {"Authorization": basic("ann", "reader-pass")}
    rita = {"Authorization": basic("rita", "review-pass")}
    with server(app_config, host="0.0.0.0", env={"FOLIO_USERS": users}, headers=ann) as base:
        fig = _figure_as(base, ann)
        r = _edit(base, fig["id"], "caption", "A reader's caption", headers=ann)
        assert r.status_code == 403 and "reviewer role" in r.json()["error"]
        assert httpx.post(f"{base}/api/review/elements/{fig['id']}/hide", headers=ann).status_code == 403
        assert httpx.post(f"{base}/api/review/orphans/x/dismiss", headers=ann).status_code == 403
        r = httpx.post(base + "/api/review/flag", json={"element_ids": [fig["id"]], "note": "wrong caption"},
                       headers=ann)
        assert r.status_code == 200 and r.json()["flagged"] == 1
        r = httpx.post(base + "/api/ask", json={"question": "What is in the revenue chart?", "k": 1}, headers=ann,
                       timeout=300)
        assert r.status_code == 200 and r.json()["answer"]
        # the flag puts the element at the top of the queue, for the reviewer
        queue = httpx.get(base + "/api/review/queue", headers=rita).json()["queue"]
        assert queue[0]["element_id"] == fig["id"] and "flagged by a reader" in queue[0]["reasons"][0]
        r = _edit(base, fig["id"], "approved", True, headers=rita)
        assert r.status_code == 200 and r.json()["overlay"]["approved_by"] == "rita"
        queue = httpx.get(base + "/api/review/queue", headers=rita).json()["queue"]
        assert fig["id"] not in [q["element_id"] for q in queue]  # approved: out of the queue
        flags = httpx.get(base + "/api/review/audit", headers=rita).json()["audit"]
        assert [(a["user"], a["action"]) for a in flags[:2]] == [("rita", "approve"), ("ann", "flag")]
        from gradio_client import Client

        client = Client(base, verbose=False, headers=ann)
        with pytest.raises(Exception, match="reader role"):
            client.predict(fig["id"], "caption", "x", api_name="/review_edit")
        assert httpx.post(f"{base}/api/review/elements/{fig['id']}", json={"field": "approved", "value": False},
                          headers=rita).status_code == 200
        # Hidden by a reviewer: gone for readers (the 404 of an unknown id), there for reviewers.
        assert httpx.post(f"{base}/api/review/elements/{fig['id']}/hide", headers=rita).status_code == 200
        try:
            for path in (f"/api/elements/{fig['id']}", f"/api/review/elements/{fig['id']}"):
                assert httpx.get(base + path, headers=ann).status_code == 404, path
                assert httpx.get(base + path, headers=rita).status_code == 200, path
        finally:
            assert httpx.post(f"{base}/api/review/elements/{fig['id']}/unhide", headers=rita).status_code == 200
        assert httpx.get(f"{base}/api/elements/{fig['id']}", headers=ann).status_code == 200


def _figure_as(base: str, headers: dict[str, str]) -> dict[str, Any]:
    els = httpx.get(base + "/api/review/elements", params={"source": REPORT, "kind": "image"}, headers=headers).json()
    fig = next(e for e in els["elements"] if e["page"] == 2)
    return httpx.get(f"{base}/api/review/elements/{fig['element_id']}", headers=headers).json()


def test_re_ingest_under_the_running_app_keeps_edits_and_orphans_the_rest(app_url: str, app_config: Path) -> None:
    """Last in this file: it changes the shared documents (the memo gets a new paragraph and
    one of its paragraphs is rewritten)."""
    import docx

    pics = _elements(app_url, MEMO, "image")
    assert pics
    pic = _element(app_url, pics[0]["element_id"])
    para = next(e for e in _elements(app_url, MEMO, "text") if e["preview"].startswith("The Tromso warehouse"))
    caption = "Photo of the Tromso loading bay (Platypian style), reviewed by hand."
    assert _edit(app_url, pic["id"], "caption", caption).status_code == 200
    assert httpx.post(f"{app_url}/api/review/elements/{para['element_id']}/hide", timeout=60).status_code == 200

    path = app_config.parent / "docs" / MEMO
    d = docx.Document(str(path))
    for p in d.paragraphs:
        if p.text.startswith("The Tromso warehouse"):
            p.text = "The Tromso warehouse opened in April 2025 after a delay."
    d.add_paragraph("Added after the review: the memo was revised.")
    d.save(str(path))
    res = ingest(app_config)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "review: " in res.stdout and "orphaned review edit: " + MEMO in res.stdout, res.stdout

    deadline = time.time() + 30  # the server sees the nightly commit within seconds
    new_pics: list[dict[str, Any]] = []
    while time.time() < deadline:
        new_pics = [e for e in _elements(app_url, MEMO, "image") if e["element_id"] != pic["id"]]
        if new_pics:
            break
        time.sleep(1)
    assert new_pics, "the app never saw the re-ingested memo"
    new_pic = _element(app_url, new_pics[0]["element_id"])
    assert new_pic["content_hash"] == pic["content_hash"] and new_pic["caption"] == caption
    assert any(new_pic["id"] in h["element_ids"] for h in _search(app_url, "Platypian loading bay"))
    orphans = httpx.get(app_url + "/api/review/orphans").json()["orphans"]
    orphan = next(o for o in orphans if o["source"] == MEMO)
    assert orphan["hidden"] and "no element with this content" in orphan["orphan_reason"]
    # re-attach the hide to the rewritten paragraph: it disappears from search
    new_para = next(e for e in _elements(app_url, MEMO, "text") if e["preview"].startswith("The Tromso warehouse"))
    assert any(new_para["element_id"] in h["element_ids"] for h in _search(app_url, "Tromso warehouse opened April"))
    r = httpx.post(f"{app_url}/api/review/orphans/{orphan['content_hash']}/reattach",
                   json={"element_id": new_para["element_id"]}, timeout=60)
    assert r.status_code == 200, r.text
    assert not any(new_para["element_id"] in h["element_ids"]
                   for h in _search(app_url, "Tromso warehouse opened April", 20))
    assert all(o["source"] != MEMO for o in httpx.get(app_url + "/api/review/orphans").json()["orphans"])
