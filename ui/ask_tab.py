"""The Ask tab: chat with streamed answers, citation cards, filters, resumable sessions.

Handlers are plain generator functions over the engine; the Gradio wiring is at the end.
Sources appear as soon as retrieval is done (before the first token); when the answer
is complete they are replaced by the citations the answer actually uses.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import gradio as gr

from answer.requests import Ask, AskError
from answer.sessions import SessionError
from answer.worker import Busy
from folio.untrusted import md_text
from ui import cards

if TYPE_CHECKING:
    from answer.engine import Engine

ALL = "(all)"
Outputs = tuple[list[dict[str, str]], str, str, str, str]


def _filters(doc: str | None, kind: str | None) -> dict[str, Any]:
    f: dict[str, Any] = {}
    if doc and doc != ALL:
        f["source"] = doc
    if kind and kind != ALL:
        f["kind"] = kind
    return f


async def ask_stream(
    engine: Engine, question: str, chat: list[dict[str, str]] | None, session_id: str, doc: str | None,
    kind: str | None, show_prompt: bool, user: str | None = None,
) -> AsyncGenerator[Outputs, None]:
    """Yields (chat, sources html, standalone query, prompt, session id) as the answer grows."""
    chat = list(chat or [])
    # Questions and answers are shown as literal text (md_text): a model repeating a
    # document's ``![x](https://elsewhere/...)`` must not make the browser fetch it.
    chat.append({"role": "user", "content": md_text(question)})
    chat.append({"role": "assistant", "content": ""})
    req = Ask(question, session_id=session_id or None, filters=_filters(doc, kind), owner=user,
              show_prompt=bool(show_prompt))
    sources_html, query_md, prompt, answer = "", "", "", ""
    try:
        # An async generator: waiting for the model holds no thread, and Gradio cancelling
        # the event (the browser left) closes it, which takes the question out of the line.
        async with aclosing(engine.ask_async(req)) as events:
            async for ev in events:
                if ev.kind == "queued":
                    answer = f"(waiting: {ev.data['ahead']} answer(s) ahead)"
                elif ev.kind == "query":
                    query_md = f"Searched for: {md_text(ev.data['standalone_query'])}"
                elif ev.kind == "sources":
                    sources_html = cards.pending(ev.data["sources"])
                    prompt = ev.data.get("prompt", "") if show_prompt else ""
                    answer = "" if answer.startswith("(waiting") else answer
                elif ev.kind == "token":
                    answer = ("" if answer.startswith("(waiting") else answer) + ev.data
                elif ev.kind == "done":
                    r = ev.data
                    session_id = r["session_id"]
                    answer = r["answer"]
                    sources_html = cards.cards(r["citations"]) + cards.unsupported(r["unsupported"])
                    t = r["timings"]
                    query_md = (query_md + "  \n" if query_md else "") + (
                        f"<small>{len(r['citations'])} citation(s) · first token {t['ttft_ms'] / 1000:.1f} s · "
                        f"total {t['total_ms'] / 1000:.1f} s · {r['prompt_tokens']} prompt tokens</small>")
                chat[-1]["content"] = md_text(answer)
                yield chat, sources_html, query_md, prompt, session_id
    except Busy as e:
        chat[-1]["content"] = md_text(f"Cannot answer now: {e} (retry in {e.retry_after} s)")
        yield chat, sources_html, query_md, prompt, session_id
    except AskError as e:
        chat[-1]["content"] = md_text(f"Cannot answer: {e}")
        yield chat, sources_html, query_md, prompt, session_id


def resume(engine: Engine, session_id: str, user: str | None = None) -> tuple[list[dict[str, str]], str, str, str]:
    """Reload a conversation by id: its turns and the last answer's frozen citations."""
    sid = (session_id or "").strip()
    if not sid:
        return [], "", "Enter a session id to resume.", ""
    try:
        s = engine.session(sid, user)
    except SessionError:
        return [], "", f"No session {md_text(sid)}.", ""
    chat: list[dict[str, str]] = []
    for t in s["turns"]:
        chat += [{"role": "user", "content": md_text(t["question"])},
                 {"role": "assistant", "content": md_text(t["answer"])}]
    last = s["turns"][-1] if s["turns"] else None
    html = cards.cards(last["citations"]) + cards.unsupported(last["unsupported"]) if last else ""
    return chat, html, f"Resumed session {md_text(sid)} ({len(s['turns'])} turn(s)).", sid


def build(engine: Engine, gr: Any, blocks: Any, login: bool = False) -> None:
    """The tab's components and events (called inside a ``gr.Blocks``)."""

    def user_of(request: Any) -> str | None:
        # The logged-in user (the login guard set it); without login, None: the one
        # anonymous owner the JSON API also uses, so a conversation resumes in either.
        return getattr(request, "username", None) if login and request is not None else None

    import hashlib

    docs = [d["source"] for d in engine.documents() if d["status"] != "error"]
    # The conversation id lives in the browser (localStorage), so a page refresh or a
    # server restart reopens the conversation with its citations. The secret is stable
    # per index so a restarted server can still read what the browser kept.
    secret = hashlib.sha256(f"folio-session|{engine.pipe.index}".encode()).hexdigest()[:24]
    session = gr.BrowserState("", storage_key=f"folio-session-{engine.pipe.name}", secret=secret)
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Folio", height=460, elem_id="folio-chat")
            query_md = gr.Markdown(elem_id="folio-query")
            with gr.Row():
                box = gr.Textbox(placeholder="Ask about the documents...", show_label=False, scale=5,
                                 elem_id="folio-question", max_length=engine.pipe.serve.max_question_chars)
                send = gr.Button("Ask", variant="primary", scale=1, elem_id="folio-ask")
            with gr.Row():
                doc = gr.Dropdown([ALL, *docs], value=ALL, label="Document", scale=3)
                kind = gr.Dropdown([ALL, "text", "table", "image"], value=ALL, label="Kind", scale=1)
                show_prompt = gr.Checkbox(label="Show prompt", value=False, scale=1)
            prompt = gr.Code(label="Prompt sent to the model", visible=False, language=None, lines=6)
            with gr.Row():
                sid_box = gr.Textbox(label="Session id", scale=4, elem_id="folio-session")
                resume_btn = gr.Button("Resume session", scale=1)
                new_btn = gr.Button("New conversation", scale=1)
        with gr.Column(scale=2):
            sources = gr.HTML(elem_id="folio-sources")

    async def _ask(q: str, chat: Any, sid: str, d: str, k: str, sp: bool,
                   request: gr.Request) -> AsyncGenerator[Any, None]:
        async with aclosing(ask_stream(engine, q, chat, sid, d, k, sp, user_of(request))) as outs:
            async for out in outs:
                yield (*out[:3], gr.update(value=out[3], visible=sp), out[4], out[4], "")

    outs = [chatbot, sources, query_md, prompt, session, sid_box, box]
    for trigger in (send.click, box.submit):
        # No more ask events run at once than the model's line admits; Gradio's own queue
        # (bounded too, app.py) holds the rest, and a full line answers "busy" at once.
        trigger(_ask, [box, chatbot, session, doc, kind, show_prompt], outs, api_name=False,
                concurrency_limit=engine.pipe.serve.queue_size, concurrency_id="folio-ask")

    def _resume(sid: str, request: gr.Request) -> tuple[Any, ...]:
        chat, html, note, new_sid = resume(engine, sid, user_of(request))
        return chat, html, note, new_sid

    resume_btn.click(_resume, [sid_box], [chatbot, sources, query_md, session], api_name=False)

    def _restore(sid: str, request: gr.Request) -> tuple[Any, ...]:
        if not sid:
            return [], "", "", "", ""
        chat, html, note, new_sid = resume(engine, sid, user_of(request))
        return chat, html, note, new_sid, new_sid

    blocks.load(_restore, [session], [chatbot, sources, query_md, session, sid_box], api_name=False)
    new_btn.click(lambda: ([], "", "", "", ""), None, [chatbot, sources, query_md, session, sid_box],
                  api_name=False)
