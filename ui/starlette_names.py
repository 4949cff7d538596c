"""Starlette's renamed status codes, for the Gradio version Folio pins.

gradio 6.17.3 (pinned in pyproject.toml: the last line that accepts huggingface-hub<1)
reads ``starlette.status.HTTP_422_UNPROCESSABLE_ENTITY`` on every queue join, that is on
every event the app's page sends (gradio/routes.py, ``queue_join_helper``). Starlette 1.x
answers the old names through a module ``__getattr__`` that raises a
StarletteDeprecationWarning each time; Python shows a warning once per place, but gradio
wraps image handling in ``warnings.catch_warnings()``, which resets that memory, so the
server log repeated it while anyone used the app. Setting the old names as plain
attributes, with the values of the new ones, leaves the deprecation path unused: the same
numbers, no warning to filter. Remove this module with a Gradio that uses the new names.
"""

from __future__ import annotations

RENAMED = {
    "HTTP_413_REQUEST_ENTITY_TOO_LARGE": "HTTP_413_CONTENT_TOO_LARGE",
    "HTTP_414_REQUEST_URI_TOO_LONG": "HTTP_414_URI_TOO_LONG",
    "HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE": "HTTP_416_RANGE_NOT_SATISFIABLE",
    "HTTP_422_UNPROCESSABLE_ENTITY": "HTTP_422_UNPROCESSABLE_CONTENT",
}


def restore_old_names() -> None:
    from starlette import status

    for old, new in RENAMED.items():
        if old not in vars(status) and hasattr(status, new):  # a Starlette that still has them: nothing to do
            setattr(status, old, getattr(status, new))
