"""One question's way through the engine, as events: checks and the conversation, the
follow-up rewrite, retrieval, the answer paths, the checked result saved in the session.

Two drivers share every step: ``ask_async`` for the server (waiting for the model holds
no thread: the model's work runs in answer/worker.py's thread and its text comes back
through a queue; the blocking steps, SQLite and retrieval, run in a small thread pool of
their own) and ``ask_sync`` for callers without an event loop (the CLI, tests).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from answer import prompts
from answer.checks import Checked
from answer.citations import citation, source_card
from answer.contracts import checked_result

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from answer.backends import Backend, Prompt
    from answer.context import Block
    from answer.paths import Outcome
    from answer.requests import Ask, Event
    from answer.sessions import Sessions
    from answer.worker import ModelWorker, Slot
    from folio.config import AnswerSettings


class Engine(Protocol):
    """What a turn uses of the engine (answer/engine.py implements it): named here, so
    the engine imports its turns and not the other way round."""

    settings: AnswerSettings
    backend: Backend
    sessions: Sessions
    worker: ModelWorker
    system: str

    def validate(self, req: Ask) -> None: ...
    def retrieve(self, query: str, k: int, filters: dict[str, Any] | None = None) -> list[Block]: ...
    def similarity(self, query: str) -> Callable[[Sequence[str]], list[float]]: ...
    def snapshot(self, cites: list[dict[str, Any]]) -> None: ...
    def blocking_limiter(self) -> Any: ...

REWRITE_MAX_TOKENS = 48


@dataclass
class Turn:
    req: Ask
    question: str
    session_id: str
    history: list[tuple[str, str]]
    query: str
    blocks: list[Block] = field(default_factory=list)
    prompt: Prompt | None = None
    retrieve_ms: float = 0.0
    ttft: float | None = None
    outcome: Outcome | None = None
    t0: float = field(default_factory=time.perf_counter)


def begin(engine: Engine, req: Ask) -> Turn:
    """Checks and the conversation so far (a SQLite read): before any model work."""
    from answer.requests import AskError

    engine.validate(req)
    question = " ".join(req.question.split())
    if req.session_id and not engine.sessions.owned(req.session_id, req.owner):
        # Someone else's id, or one the server never issued: the same answer for both,
        # so ids cannot be probed.
        raise AskError(f"session_id: no session {req.session_id!r}", 404)
    session_id = req.session_id or engine.sessions.new_id()
    turns = engine.settings.history_turns
    history: list[tuple[str, str]] = []
    if turns and req.history is not None:
        history = req.history[-turns:]
    elif turns and req.session_id:
        history = engine.sessions.history(session_id, turns)
    return Turn(req, question, session_id, history, question)


def rewrite_work(engine: Engine, turn: Turn) -> Iterator[str]:
    """Runs in the model worker: the follow-up rewritten as a standalone question."""
    prompt = engine.backend.prompt(prompts.rewrite_messages(engine.system, turn.history, turn.question))
    return engine.backend.stream(prompt, REWRITE_MAX_TOKENS)


def retrieve(engine: Engine, turn: Turn) -> Event:
    from answer.requests import Event

    t = time.perf_counter()
    turn.blocks = engine.retrieve(turn.query, turn.req.k or engine.settings.k, turn.req.filters)
    turn.retrieve_ms = (time.perf_counter() - t) * 1000
    turn.prompt = engine.backend.prompt(prompts.answer_messages(engine.system, turn.blocks, turn.question))
    data: dict[str, Any] = {"standalone_query": turn.query, "sources": [source_card(b) for b in turn.blocks],
                            "retrieve_ms": round(turn.retrieve_ms, 1),
                            "prompt_tokens": turn.prompt.tokens if turn.blocks else 0}
    if turn.req.show_prompt:  # the system prompt and every source: only to who asked for it
        data["prompt"] = turn.prompt.text
    return Event("sources", data)


def answer_work(engine: Engine, turn: Turn) -> Generator[str, None, Outcome]:
    """Runs in the model worker: the answer paths (answer/paths.py), every model call of
    this question one after the other while it has the model."""
    from answer.paths import Answerer

    assert turn.prompt is not None
    answerer = Answerer(engine.backend, engine.system, engine.settings, turn.blocks, turn.question, turn.prompt,
                        engine.similarity(turn.query))
    return answerer.run()


def event(turn: Turn, kind: str, data: Any) -> Event | None:
    """A worker item as an event (None for what the reader need not see)."""
    from answer.requests import Event

    if kind == "queued":
        return Event("queued", {"ahead": data})
    if kind == "result":
        turn.outcome = data
        return None
    if turn.ttft is None:
        turn.ttft = (time.perf_counter() - turn.t0) * 1000
    return Event("token", data)


def finish(engine: Engine, turn: Turn) -> dict[str, Any]:
    """The checked answer, saved in the session, its cited pages rendered."""
    blocks, prompt, outcome = turn.blocks, turn.prompt, turn.outcome
    assert prompt is not None
    total_ms = (time.perf_counter() - turn.t0) * 1000
    checked = outcome.checked if outcome else Checked(prompts.NOT_FOUND, [], {}, abstained=True)
    by_n = {b.n: b for b in blocks}
    cites = [citation(by_n[n], checked.elements.get(n, [])) for n in checked.cited]
    result: dict[str, Any] = {
        "question": turn.question,
        "standalone_query": turn.query,
        "answer": checked.text,
        "citations": cites,
        "unsupported": checked.unsupported,
        "abstained": checked.abstained,
        "session_id": turn.session_id,
        "timings": {"retrieve_ms": round(turn.retrieve_ms, 1),
                    "ttft_ms": round(turn.ttft if turn.ttft is not None else total_ms, 1),
                    "total_ms": round(total_ms, 1)},
        "prompt_tokens": prompt.tokens if blocks else 0,
        "model": engine.backend.model_id,
        "path": outcome.path if outcome else "none",
        "model_calls": outcome.model_calls if outcome else 0,
    }
    if outcome and outcome.detail:
        result[outcome.path] = outcome.detail
    if turn.req.show_prompt:
        result["prompt"] = prompt.text
    if checked.draft:
        result["draft"] = checked.draft
    result = checked_result(result)  # the one contract every front end gets (answer/contracts.py)
    engine.sessions.add_turn(turn.session_id, result, turn.req.owner)
    engine.snapshot(cites)
    return result


def ask_sync(engine: Engine, req: Ask) -> Iterator[Event]:
    from answer.requests import Event

    turn = begin(engine, req)
    with engine.worker.admit(req.owner):
        if turn.history:
            items = engine.worker.generate_sync(lambda: rewrite_work(engine, turn))
            turn.query = prompts.checked_rewrite("".join(d for k, d in items if k == "token"), turn.question,
                                                 turn.history)
            yield Event("query", {"standalone_query": turn.query})
        yield retrieve(engine, turn)
        if turn.blocks:
            for kind, data in engine.worker.generate_sync(lambda: answer_work(engine, turn)):
                ev = event(turn, kind, data)
                if ev is not None:
                    yield ev
        else:
            yield Event("token", prompts.NOT_FOUND)  # nothing retrieved: no model call, no guess
        yield Event("done", finish(engine, turn))


async def ask_async(engine: Engine, req: Ask, slot: Slot | None = None) -> AsyncGenerator[Event, None]:
    """Front ends that must answer 429 before a stream starts take the ``slot`` first
    (``engine.admit``); cancelling the caller (a client gone) cancels its model work."""
    import anyio.to_thread

    from answer.requests import Event

    slot = slot or engine.worker.admit(req.owner)
    limiter = engine.blocking_limiter()
    try:
        turn = await anyio.to_thread.run_sync(begin, engine, req, limiter=limiter)
        if turn.history:
            out = ""
            async with aclosing(engine.worker.generate(lambda: rewrite_work(engine, turn))) as items:
                async for kind, data in items:
                    out += data if kind == "token" else ""
            turn.query = prompts.checked_rewrite(out, turn.question, turn.history)
            yield Event("query", {"standalone_query": turn.query})
        yield await anyio.to_thread.run_sync(retrieve, engine, turn, limiter=limiter)
        if turn.blocks:
            async with aclosing(engine.worker.generate(lambda: answer_work(engine, turn))) as items:
                async for kind, data in items:
                    ev = event(turn, kind, data)
                    if ev is not None:
                        yield ev
        else:
            yield Event("token", prompts.NOT_FOUND)
        yield Event("done", await anyio.to_thread.run_sync(finish, engine, turn, limiter=limiter))
    finally:
        slot.release()
