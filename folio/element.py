"""The Element: one small typed record that travels through every stage.

Stages never mutate an Element; they return new ones (``dataclasses.replace``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["text", "table", "image"]
KINDS: tuple[str, ...] = ("text", "table", "image")

# What a text element is, as far as layout tells us. Chunking and the UI use it.
Role = Literal[
    "title",
    "heading",
    "paragraph",
    "list_item",
    "caption",
    "footnote",
    "notes",
    "code",
    "table",
    "figure",
    "chart",
    "picture",
    "ocr",
]

BBox = tuple[float, float, float, float]


def element_id(doc_sha256: str, page: int | None, order: int, kind: str, content: str) -> str:
    """Stable id: the same document bytes and settings give the same ids every night."""
    h = hashlib.sha256()
    for part in (doc_sha256, str(page), str(order), kind, content):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:24]


def id_content(kind: str, text: str, html: str | None, image: str | None) -> str:
    """What of an element its id hashes: a table's HTML, a picture's file with its text."""
    content = text if kind != "table" else (html or text)
    if kind == "image" and image:
        content = image + text
    return content


@dataclass(frozen=True, slots=True)
class Element:
    id: str
    doc_id: str
    source: str
    doc_sha256: str
    kind: Kind
    text: str = ""
    role: str = "paragraph"
    html: str | None = None
    image: str | None = None
    caption: str | None = None
    caption_model: str | None = None
    summary: str | None = None
    summary_model: str | None = None
    page: int | None = None
    page_label: str | None = None
    bbox: BBox | None = None
    section: tuple[str, ...] = ()
    order: int = 0
    embed_text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section"] = list(self.section)
        d["bbox"] = list(self.bbox) if self.bbox is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Element:
        d = dict(d)
        d["section"] = tuple(d.get("section") or ())
        bbox = d.get("bbox")
        d["bbox"] = tuple(bbox) if bbox is not None else None
        d["meta"] = dict(d.get("meta") or {})
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
