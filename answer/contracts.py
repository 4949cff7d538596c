"""The shapes every front end receives: one set of Pydantic models, checked where made.

The engine's ``done`` event, ``POST /api/ask``, the OpenAI endpoint's ``citations``, the
Gradio result, the MCP ``ask`` tool and ``ingest.py ask --json`` all carry one ``AskResult``;
the JSON API declares these models as its routes' response models, so the OpenAPI document
(``/api/openapi.json``) is generated from the same code that builds the answers.

Answers are validated strictly (``extra="forbid"``): a key added in one place and not here
fails the tests instead of reaching clients undocumented. Elements and session turns carry
the stored records of earlier versions too, so they allow extra keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(Strict):
    error: str = Field(description="what was wrong, naming the field or the file")
    status: int | None = Field(None, description="the HTTP status, when the error came in-band (a stream)")


class SourceCard(Strict):
    """A retrieved block, before the answer is written (the streamed ``sources`` event)."""

    n: int = Field(description="the block's number, as the answer cites it: [n]")
    label: str
    source: str
    kind: str
    page: int | None
    page_label: str | None
    element_ids: list[str]
    text: str
    image: str | None = Field(description="asset path of the element's crop (tables, figures)")


class Citation(Strict):
    """A checked citation, narrowed to the elements that say what the sentence says."""

    n: int
    element_ids: list[str]
    source: str
    doc_id: str
    doc_sha256: str
    label: str
    page: int | None
    page_label: str | None
    bbox: list[float] | None
    boxes: list[list[float]]
    kind: str
    section: list[str]
    text: str
    html: str | None = Field(description="the table as sanitized HTML")
    caption: str | None
    summary: str | None
    image: str | None
    page_image: str | None
    image_url: str | None = Field(None, description="the crop (JSON API)")
    page_url: str | None = Field(None, description="the page with the boxes drawn (JSON API)")
    stale: str | None = Field(None, description="in a stored session: 'changed' or 'deleted' since the answer")


class Unsupported(Strict):
    sentence: str
    figures: list[str]
    cited: list[int]
    reason: str | None = None


class Timings(Strict):
    retrieve_ms: float
    ttft_ms: float
    total_ms: float


class Operand(Strict):
    name: str
    value: float
    raw: str = Field(description="as the document prints it")
    n: int = Field(description="the block it is read from (0: the question states it)")
    element_id: str | None


class Computation(Strict):
    expression: str
    result: float
    operands: list[Operand]


class Cell(Strict):
    row: str
    column: str
    value: str
    units: str
    n: int
    element_id: str
    page: int | None
    bbox: list[float] | None


class AskResult(Strict):
    """One answered question (the ``done`` event and the plain JSON answer)."""

    question: str
    standalone_query: str
    answer: str
    citations: list[Citation]
    unsupported: list[Unsupported]
    abstained: bool
    session_id: str
    timings: Timings
    prompt_tokens: int
    model: str
    path: Literal["computed", "lookup", "extract", "plain", "none"] = Field(
        description="how it was answered: computed (Python arithmetic over cited figures), lookup (a table "
                    "cell), extract (picked sentences, then phrased), plain (one generation), none")
    model_calls: int
    computed: Computation | None = None
    lookup: Cell | None = None
    prompt: str | None = Field(None, description="the whole prompt, only when show_prompt was asked")
    draft: str | None = Field(None, description="the model's text when the checks withheld it")


class AskBody(Strict):
    """``POST /api/ask``."""

    question: str
    session_id: str | None = None
    k: int | None = None
    filters: dict[str, Any] | None = Field(None, description="source, kind or page")
    stream: bool = Field(False, description="server-sent events: sources, token..., done")
    show_prompt: bool = False


class SearchHit(Open):
    chunk_id: str
    score: float
    source: str
    doc_id: str
    kind: str
    text: str
    section: list[str]
    pages: list[int]
    element_ids: list[str]


class SearchResult(Strict):
    hits: list[SearchHit]


class ElementOut(Open):
    id: str
    source: str
    kind: str
    text: str
    page: int | None
    crop_url: str | None = None
    page_url: str | None = None


class DocumentOut(Strict):
    source: str
    doc_id: str
    sha256: str
    status: str
    error: str | None
    pages: int | None
    elements: int | None
    chunks: int | None
    indexed_at: str | float | None


class Documents(Strict):
    documents: list[DocumentOut]


class Turn(Open):
    n: int
    question: str
    answer: str
    citations: list[Citation]


class Session(Strict):
    session_id: str
    created_at: str | float
    updated_at: str | float
    turns: list[Turn]


class Health(Open):
    status: str
    pipeline: str
    documents: int
    failed: int
    chunks: int
    queue: int | dict[str, Any]
    version: str | None = None


def checked_result(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` validated as an AskResult, with only the keys it had (no None filled in)."""
    return AskResult.model_validate(result).model_dump(exclude_unset=True)


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": why} for code, why in (
        (400, "bad input, naming the field"), (403, "not allowed for this role"), (404, "unknown id"),
        (409, "the element changed under the edit"), (413, "too large"), (422, "an edit that cannot be applied"),
        (429, "the line is full (Retry-After)"), (503, "no turn in time"))
}


# ---- review (ui/review_api.py): stored records, so open ----------------------------------

class ReviewQueue(Strict):
    queue: list[dict[str, Any]]


class ReviewElements(Strict):
    elements: list[dict[str, Any]]


class ReviewElement(Open):
    id: str
    content_hash: str
    hidden: bool
    approved: bool


class ReviewEdit(Open):
    element: dict[str, Any] | None = None
    overlay: dict[str, Any] | None = None


class Flagged(Strict):
    flagged: int


class Orphans(Strict):
    orphans: list[dict[str, Any]]


class Reattached(Strict):
    overlay: dict[str, Any] | None


class Dismissed(Strict):
    dismissed: str


class Audit(Strict):
    audit: list[dict[str, Any]]


# ---- the OpenAI-compatible endpoint (ui/openai_api.py) ------------------------------------

class ModelList(Open):
    object: str
    data: list[dict[str, Any]]


class ChatMessage(Open):
    role: str
    content: str


class ChatChoice(Open):
    index: int
    message: ChatMessage
    finish_reason: str


class ChatCompletion(Open):
    id: str
    object: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: dict[str, int]
    citations: list[Citation] = Field(description="Folio's checked citations of the answer")
    folio: dict[str, Any]
