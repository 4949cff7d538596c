"""The routes of ui/uploads.py, reviewers only (checked here, on the server, from the role
the login guard set; the Corpus tab's buttons call them):

    POST /api/upload?name=FILE   body: the file's bytes (application/octet-stream)
    POST /api/remove             {"source": "..."}  (documents in the upload folder only)
    POST /api/reindex            {"source": "..."}

The upload body is the raw file, not a multipart form: a form is what another site can
make a browser send, and the guard (ui/guard.py) lets this one path take a body this
large only as ``application/octet-stream`` from this site's own pages. Gradio's own
upload route stays closed (ui/app.py).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ui.roles import can_edit, user_of
from ui.uploads import UPLOAD_PATH, UploadError, Uploads


class SourceBody(BaseModel):
    source: str = Field(min_length=1, max_length=1000)


async def _guarded(request: Request, change: Coroutine[Any, Any, dict[str, object]]) -> Any:
    """Run ``change`` for a reviewer; a reader gets 403 and the change never starts."""
    if not can_edit(request):
        change.close()  # a coroutine never awaited: no warning
        return JSONResponse({"error": f"user {user_of(request)!r} has the reader role: adding, removing and "
                                      "re-indexing documents needs the reviewer role"}, status_code=403)
    try:
        return await change
    except UploadError as e:
        return JSONResponse({"error": str(e)}, status_code=e.status)


def router(uploads: Uploads) -> APIRouter:
    r = APIRouter()

    @r.post(UPLOAD_PATH, tags=["documents"])
    async def upload(request: Request, name: str) -> Any:
        """Add a document (PDF, DOCX, PPTX) to the upload folder and index it now."""
        return await _guarded(request, uploads.upload(name, request.stream()))

    @r.post("/api/remove", tags=["documents"])
    async def remove(request: Request, body: SourceBody) -> Any:
        """Remove an uploaded document from the index and the upload folder."""
        return await _guarded(request, uploads.remove(body.source))

    @r.post("/api/reindex", tags=["documents"])
    async def reindex(request: Request, body: SourceBody) -> Any:
        """Partition, embed and commit one document again."""
        return await _guarded(request, uploads.reindex(body.source))

    return r
