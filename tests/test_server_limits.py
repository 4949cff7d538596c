"""Limits and bad input over the real server (issue 19, item 7): each used to be accepted
or to end in a 500; each is now a clear 4xx before any work."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

JSON = {"content-type": "application/json"}


def test_search_has_the_question_length_limit(app_url: str) -> None:
    r = httpx.get(app_url + "/api/search", params={"q": "staff " * 1000}, timeout=60)
    assert r.status_code == 413 and "q:" in r.json()["error"]


def test_earlier_openai_turns_count_against_the_limit(app_url: str) -> None:
    long = "tell me about the memo " * 2000  # 46,000 characters in an earlier turn
    r = httpx.post(app_url + "/v1/chat/completions", timeout=120, json={"model": "folio", "messages": [
        {"role": "user", "content": long}, {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "And the late shift?"}]})
    assert r.status_code == 413 and "conversation" in r.json()["error"]["message"]


def test_bad_boxes_are_a_400(app_url: str) -> None:
    # a PDF element: its page is always drawn (DOCX pages need LibreOffice)
    hit = httpx.get(app_url + "/api/search", params={"q": "North region revenue Q4", "k": 5}).json()["hits"]
    eid = next(h["element_ids"][0] for h in hit if h["source"].endswith(".pdf"))
    page = httpx.get(app_url + f"/api/elements/{eid}").json()["page_url"]
    base = page.split("?")[0]
    assert httpx.get(app_url + base, timeout=60).status_code == 200
    for box in ("inf,0,10,10", "nan,0,10,10", "50,50,10,10", "1,2,3", "0,0,1e309,5"):
        r = httpx.get(app_url + base, params={"box": box}, timeout=60)
        assert r.status_code == 400, (box, r.status_code)
    assert httpx.get(app_url + base, params={"box": "10,10,50,50"}, timeout=60).status_code == 200


def test_a_chunked_body_over_the_limit_is_a_413(app_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    r = httpx.post(app_url + "/api/ask", content=chunks(), headers=JSON, timeout=60)
    assert r.status_code == 413


def test_deeply_nested_json_is_a_400(app_url: str) -> None:
    for depth in (50, 100_000):
        body = "[" * depth + "]" * depth
        r = httpx.post(app_url + "/api/ask", content=body, headers=JSON, timeout=60)
        assert r.status_code in (400, 413) and r.status_code != 500, (depth, r.status_code)
        if len(body) < 200_000:
            assert r.status_code == 400 and "nested" in r.json()["error"]


def test_gradio_upload_route_is_closed(app_url: str) -> None:
    # No component takes a file; before, any user could store files through this route.
    files = {"files": ("big.bin", b"\0" * 200_000, "application/octet-stream")}
    r = httpx.post(app_url + "/gradio_api/upload", files=files, timeout=60)
    assert r.status_code == 403 and "takes no files" in r.json()["error"]
