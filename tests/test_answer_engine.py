"""The engine's plumbing over a real LanceDB store: uncommitted writes are never retrieved,
sessions persist with frozen snapshots, the queue is fair, assets stay inside their folder.

The model is a scripted backend here (it returns a fixed text) so that what is checked is
the engine; real generation is covered by the app tests (tests/test_app_api.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from answer.backends import Prompt
from answer.engine import Engine
from answer.requests import Ask, AskError
from answer.sessions import Sessions, stale
from folio.config import Pipeline, Source
from index.store import Store
from tests.test_store import HashEmbedder, index_doc, make_doc
from ui.assets import resolve
from ui.auth import Authenticator, hash_password, is_loopback, verify_password


class Scripted:
    kind = "scripted"
    model_id = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt(self, messages: list[dict[str, str]]) -> Prompt:
        text = "\n".join(m["content"] for m in messages)
        return Prompt(messages, text, self.count_tokens(text), [])

    def stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        self.prompts.append(prompt.text)
        yield from self.reply.split(" ")


def _engine(tmp_path: Path, reply: str) -> tuple[Engine, Store, HashEmbedder]:
    emb = HashEmbedder()
    store = Store(tmp_path, dim=emb.dim, embed_model=emb.model_id)
    index_doc(store, emb, make_doc("pumps.pdf", ["the old pump failed in march 2021", "pump costs were 4,200 euros"]))
    pipe = Pipeline(name="t", sources=[Source(path=tmp_path)], index=tmp_path)
    return Engine(pipe, store, emb, Scripted(reply)), store, emb  # type: ignore[arg-type]


def test_an_uncommitted_write_is_never_retrieved(tmp_path: Path) -> None:
    engine, store, emb = _engine(tmp_path, "ok")
    # A nightly run between adding rows and committing them: rows with a write_id that no
    # documents row names.
    els = make_doc("pumps.pdf", ["the new turbine costs 9,999 euros"], sha="e" * 64)
    from index.chunk import chunk_elements
    from index.store import chunk_table

    chunks = chunk_elements(els, emb.count_tokens, emb.max_tokens)
    tbl = store.chunks_table
    tbl.add(chunk_table(chunks, emb.embed([c.text for c in chunks]), "pumps.pdf", emb.model_id,
                         uuid.uuid4().hex, tbl.schema))
    blocks = engine.retrieve("turbine costs", 5)
    assert blocks and all("turbine" not in b.text for b in blocks)


def test_answer_cites_and_the_session_freezes_it(tmp_path: Path) -> None:
    engine, store, emb = _engine(tmp_path, "Pump costs were 4,200 euros [1].")
    events = list(engine.ask(Ask("What did the pumps cost?")))
    kinds = [e.kind for e in events]
    assert kinds[0] == "sources" and kinds[-1] == "done" and "token" in kinds
    result = events[-1].data
    assert result["citations"][0]["source"] == "pumps.pdf" and "4,200" in result["citations"][0]["text"]
    sid = result["session_id"]
    # the document changes: the old answer still opens, marked as changed
    index_doc(store, emb, make_doc("pumps.pdf", ["the pumps were replaced"], sha="f" * 64))
    turn = engine.session(sid)["turns"][0]
    assert turn["answer"] == result["answer"] and turn["citations"][0]["stale"] == "changed"
    store.delete_document("pumps.pdf")
    assert engine.session(sid)["turns"][0]["citations"][0]["stale"] == "deleted"
    # and a new question never retrieves the deleted document
    after = engine.answer(Ask("What did the pumps cost?"))
    assert after["citations"] == [] and after["abstained"]


def test_bad_questions_are_refused_with_the_field(tmp_path: Path) -> None:
    engine, _, _ = _engine(tmp_path, "x")
    for req, field in ((Ask("   "), "question"), (Ask("x" * 5000), "question"),
                       (Ask("q", filters={"kind": "video"}), "filters.kind"),
                       (Ask("q", filters={"colour": 1}), "filters"), (Ask("q", k=0), "k")):
        with pytest.raises(AskError, match=field):
            engine.validate(req)


def test_sessions_survive_reopening(tmp_path: Path) -> None:
    s = Sessions(tmp_path)
    turn = {"question": "q", "standalone_query": "q", "answer": "a [1]", "unsupported": [], "timings": {},
            "citations": [{"n": 1, "source": "a.pdf", "doc_sha256": "x"}]}
    s.add_turn("abc", turn, "ann")
    again = Sessions(tmp_path).get("abc", {"a.pdf": "x"}, "ann")
    assert again["turns"][0]["answer"] == "a [1]" and again["turns"][0]["citations"][0]["stale"] is None
    assert stale({"source": "a.pdf", "doc_sha256": "x"}, {}) == "deleted"


def test_asset_paths_cannot_leave_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "assets"
    (root / "d").mkdir(parents=True)
    (root / "d" / "ok.png").write_bytes(b"png")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"secret")
    (root / "d" / "link.png").symlink_to(secret)
    assert resolve(root, "d/ok.png") == (root / "d" / "ok.png").resolve()
    for bad in ("../secret.png", "d/../../secret.png", "%2e%2e/secret.png", str(secret), "d/link.png",
                "/etc/passwd", "d\\..\\..\\secret.png", "d/ok.png\x00.png", "d/../d/ok.png"):
        assert resolve(root, bad) is None, bad


def test_passwords_are_hashed_and_checked() -> None:
    h = hash_password("correct horse")
    assert "correct" not in h and verify_password("correct horse", h) and not verify_password("wrong", h)
    from ui.auth import User

    auth = Authenticator({"ann": User("ann", "reader", h)})
    import base64

    assert auth.user("Basic " + base64.b64encode(b"ann:correct horse").decode()).name == "ann"  # type: ignore[union-attr]
    assert auth.user("Bearer ann:correct horse") is not None
    assert auth.user("Basic " + base64.b64encode(b"ann:nope").decode()) is None
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


def _prompt(text: str = "p") -> Prompt:
    return Prompt([], text, 1, [])


def test_the_model_worker_serves_in_arrival_order_and_bounds_the_line() -> None:
    from answer.worker import Busy, ModelWorker

    gate = threading.Event()
    order: list[str] = []

    def stream(prompt: Prompt, max_tokens: int) -> Iterator[str]:
        gate.wait(5)
        order.append(prompt.text)
        yield prompt.text

    w = ModelWorker(max_line=3, per_user=2)
    slots = [w.admit("ann"), w.admit("ann"), w.admit("bob")]
    with pytest.raises(Busy) as full:
        w.admit("carl")
    assert full.value.status == 429 and full.value.retry_after >= 1
    slots[2].release()
    with pytest.raises(Busy, match="in flight"):
        w.admit("ann")  # the line has room, ann does not
    outs: list[list[str]] = [[], [], []]
    threads = [threading.Thread(target=lambda i=i: outs[i].extend(
        d for k, d in w.generate_sync(lambda i=i: stream(_prompt(str(i)), 4)) if k == "token")) for i in range(3)]
    for i, th in enumerate(threads):
        th.start()
        # each job in the line before the next is started: arrival order is the test's, not
        # the scheduler's (a fixed sleep lost the race on a loaded machine)
        deadline = time.monotonic() + 10
        while len(w._jobs) + (w._running is not None) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    gate.set()
    for th in threads:
        th.join(10)
    assert order == ["0", "1", "2"] and outs == [["0"], ["1"], ["2"]]
    for s in slots:
        s.release()
    assert w.in_line() == 0


def test_a_cancelled_job_leaves_the_line_and_a_running_one_stops() -> None:
    import asyncio

    from answer.worker import ModelWorker

    produced: list[int] = []

    def stream(prompt: Prompt, max_tokens: int) -> Iterator[str]:
        for i in range(max_tokens):
            produced.append(i)
            time.sleep(0.01)
            yield f"{prompt.text}{i} "

    w = ModelWorker(max_line=4)

    async def scenario() -> tuple[list[str], list[str]]:
        gen = w.generate(lambda: stream(_prompt("a"), 1000))
        first = [(await anext(gen))[1]]  # "a" is generating
        waiting = w.generate(lambda: stream(_prompt("b"), 1000))
        assert await anext(waiting) == ("queued", 1)
        await waiting.aclose()  # the client of "b" left while waiting
        while len(first) < 3:
            first.append((await anext(gen))[1])
        await gen.aclose()  # the client of "a" left mid-answer
        got = [d async for k, d in w.generate(lambda: stream(_prompt("c"), 3)) if k == "token"]
        return first, got

    first, got = asyncio.run(scenario())
    assert first == ["a0 ", "a1 ", "a2 "] and got == ["c0 ", "c1 ", "c2 "]
    assert len(produced) < 20  # "a" stopped at its next token, "b" never ran
