"""The server log stays free of library deprecation warnings while the app is used: the
page's events are Gradio queue joins, which read a status name Starlette deprecated
(ui/starlette_names.py). A real ``serve.py`` over HTTP, its own log file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx


def test_queue_joins_leave_no_deprecation_warning_in_the_log(app_config: Path, app_url: str) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    for question in ("How many staff work the late shift?", "What was North region revenue in Q4?"):
        assert client.predict(question, "", 3, "", "", api_name="/ask")["answer"]
    assert httpx.get(f"{app_url}/api/health", timeout=10).status_code == 200
    log = app_config.parent / f"serve-{urlsplit(app_url).port}.log"
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Folio serving pipeline" in text  # the right log, written by this server
    assert "DeprecationWarning" not in text, text[-3000:]


def test_the_old_status_names_answer_without_warning() -> None:
    import warnings

    from starlette import status

    from ui.starlette_names import RENAMED, restore_old_names

    restore_old_names()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(getattr(status, old) == getattr(status, new) for old, new in RENAMED.items())
