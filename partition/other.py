"""HTML, Markdown, plain text, e-mail and XLSX through unstructured's partitioners.

Each format calls its specific partitioner (importing ``partition.auto`` costs seconds
and sniffs the type again, which ``folio.filetype`` already did).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from folio.element import Element
from folio.filetype import sniff
from partition.context import PartitionContext
from partition.unstructured_compat import prepare_unstructured
from partition.unstructured_map import ElementMapper


def _partitioner(kind: str) -> Callable[..., list[Any]]:
    if kind == "html":
        from unstructured.partition.html import partition_html

        return partition_html
    if kind == "md":
        from unstructured.partition.md import partition_md

        return partition_md
    if kind == "txt":
        from unstructured.partition.text import partition_text

        return partition_text
    if kind == "eml":
        from unstructured.partition.email import partition_email

        return partition_email
    if kind == "xlsx":
        from unstructured.partition.xlsx import partition_xlsx

        return partition_xlsx
    raise ValueError(f"partition.other does not handle {kind!r}")


def partition(ctx: PartitionContext) -> Iterator[Element]:
    prepare_unstructured()
    kind = sniff(ctx.path) or ""
    fn = _partitioner(kind)
    kwargs: dict[str, Any] = {}
    if kind == "xlsx":
        # One table per sheet; subtables split a sheet at blank rows and lose headers.
        kwargs["find_subtable"] = False
    if kind == "eml":
        kwargs["process_attachments"] = False
    elements = fn(filename=str(ctx.path), **kwargs)
    if kind == "eml":
        yield from _email(ctx, elements)
        return
    if kind == "xlsx":
        yield from _sheets(ctx, elements)
        return
    yield from ElementMapper(ctx).map(elements)


def _email(ctx: PartitionContext, elements: list[Any]) -> Iterator[Element]:
    """The subject is the section of the message body."""
    md = elements[0].metadata if elements else None
    subject = (getattr(md, "subject", None) or "").strip()
    base: tuple[str, ...] = ()
    if subject:
        base = (subject,)
        meta = {"sent_from": getattr(md, "sent_from", None), "sent_to": getattr(md, "sent_to", None)}
        yield ctx.make("text", subject, role="title", section=base, meta=meta)
    yield from ElementMapper(ctx, base).map(elements)


def _sheets(ctx: PartitionContext, elements: list[Any]) -> Iterator[Element]:
    """A sheet name is the section of its tables."""
    for el in elements:
        sheet = getattr(el.metadata, "page_name", None)
        yield from ElementMapper(ctx, (sheet,) if sheet else ()).map([el])
