"""Documents from the browser (reviewers only): upload, remove, re-index.

An upload lands in ``serve.upload_dir``, a source folder of the pipeline or a folder
inside one, so the nightly run sees the same files and nothing diverges. The document is
indexed at once by ``ingest.py run --only SOURCE --skip-enrich`` in a child process: the
pipeline's own entry under its run lock (a nightly run holding it makes the child exit 3
at once, which the user is told), phase 1 only; captions and summaries follow with the
next run. The app never imports the batch stages (scripts/layers.py), hence the child.
Removal deletes the file and runs the same command, whose plan then drops the document.
The answer engine reads committed writes (index/store.py READ_CONSISTENCY), so no restart.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from folio.errors import ConfigError

if TYPE_CHECKING:
    from folio.config import Pipeline
    from index.store import DocRecord, Store

T = TypeVar("T")
UPLOAD_PATH = "/api/upload"
# What the first bytes of an allowed file must be: a renamed .exe is refused before indexing.
MAGIC = {".pdf": b"%PDF-", ".docx": b"PK\x03\x04", ".pptx": b"PK\x03\x04"}
EXIT_LOCKED = 3  # folio/exitcodes.py
VISIBLE_S = 15.0  # how long a change may take to reach this process's reader (READ_CONSISTENCY is 5 s)


class UploadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Uploads:
    """``command``: ``ingest.py --config X run --pipeline N [--db D]`` for this pipeline."""

    def __init__(self, pipe: Pipeline, store: Store, command: list[str]) -> None:
        self.pipe, self.store, self.command = pipe, store, command
        s = pipe.serve
        self.folder = Path(s.upload_dir).resolve() if s.upload_dir else None
        self.max_bytes = int(s.upload_max_mb * 1024 * 1024)
        self.suffixes = tuple(x.lower() if x.startswith(".") else "." + x.lower() for x in s.upload_suffixes)
        self._busy = asyncio.Lock()
        if self.folder is not None:
            roots = [Path(src.path).resolve() for src in pipe.sources if src.remote is None]
            if not any(self.folder.is_relative_to(r) for r in roots):
                # A folder outside the sources would be deleted from the index by the next run.
                raise ConfigError(f"pipelines.{pipe.name}.serve.upload_dir: {self.folder} is not one of the "
                                  "pipeline's source folders or inside one (the nightly run must see uploads)")
            self.folder.mkdir(parents=True, exist_ok=True)

    # -- names ------------------------------------------------------------------------
    def safe_name(self, name: str) -> str:
        """A client's file name as a plain name in the upload folder, or UploadError."""
        base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
        base = re.sub(r"[^\w.\- ()]", "_", base).strip(" .")[:120]
        suffix = Path(base).suffix.lower()
        if not base or base.startswith(".") or not Path(base).stem:
            raise UploadError(400, f"{name!r}: not a usable file name")
        if suffix not in self.suffixes:
            raise UploadError(415, f"{base}: type {suffix or '(none)'} is not accepted; allowed: "
                              + ", ".join(self.suffixes))
        return base

    def _place(self, tmp: Path, base: str) -> Path:
        """Move ``tmp`` to a new name in the folder, never over another file: "a.pdf",
        then "a (2).pdf", ... (a hard link fails if the name exists: no race)."""
        assert self.folder is not None
        stem, suffix = Path(base).stem, Path(base).suffix
        for n in range(1, 100):
            dest = self.folder / (base if n == 1 else f"{stem} ({n}){suffix}")
            try:
                os.link(tmp, dest)
                return dest
            except FileExistsError:
                continue
            except OSError:  # another file system: copy into a file only we created
                try:
                    with tmp.open("rb") as src, dest.open("xb") as out:
                        shutil.copyfileobj(src, out)
                    return dest
                except FileExistsError:
                    continue
        raise UploadError(409, f"{base}: too many files of that name in the upload folder")

    # -- the three changes --------------------------------------------------------------
    async def upload(self, name: str, chunks: AsyncIterator[bytes]) -> dict[str, object]:
        """``chunks``: the request body as an async iterator of bytes, counted while it streams."""
        if self.folder is None:
            raise UploadError(404, "uploads are off: set serve.upload_dir in the pipeline")
        base = self.safe_name(name)
        tmp_dir = Path(self.pipe.index) / "upload-tmp"  # outside the sources: a run never sees half a file
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / uuid.uuid4().hex
        try:
            size = 0
            with tmp.open("wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UploadError(413, f"{base}: larger than the limit of {self.pipe.serve.upload_max_mb:g} MB")
                    f.write(chunk)
            if size == 0:
                raise UploadError(400, f"{base}: the file is empty")
            with tmp.open("rb") as f:
                if not f.read(8).startswith(MAGIC.get(Path(base).suffix.lower(), b"")):
                    raise UploadError(415, f"{base}: the content is not a {Path(base).suffix.lower()} file")
            async with self._one_at_a_time():
                dest = self._place(tmp, base)
                try:
                    await self._index(str(dest), ["--skip-enrich"])
                except UploadError as e:
                    if e.status != 409:  # not indexed and never will be: do not leave it for the nightly run
                        dest.unlink(missing_ok=True)
                    raise
                rec = await self._until(lambda docs: next((d for d in docs.values() if d.path == str(dest)), None))
        finally:
            tmp.unlink(missing_ok=True)
        if rec is None:
            dest.unlink(missing_ok=True)
            raise UploadError(422, f"{base}: the source's include/exclude patterns leave this file out; removed")
        if rec.status == "error":
            return {"source": rec.source, "status": "error", "message": f"{rec.source}: saved, but indexing "
                    f"failed: {rec.error}"}
        return {"source": rec.source, "status": rec.status, "message": f"{rec.source}: indexed ({rec.pages} pages, "
                f"{rec.chunks} chunks); captions and summaries follow with the next run"}

    async def remove(self, source: str) -> dict[str, object]:
        rec = self._document(source)
        path = Path(rec.path).resolve()
        if self.folder is None or not path.is_relative_to(self.folder):
            raise UploadError(403, f"{source}: only documents in the upload folder can be removed from the browser; "
                              "remove this one from its source folder (the next run drops it)")
        async with self._one_at_a_time():
            path.unlink(missing_ok=True)
            await self._index(source, [])
            gone = await self._until(lambda docs: True if source not in docs else None)
        if not gone:
            raise UploadError(500, f"{source}: the file is deleted but the index still lists it; the next run drops it")
        return {"source": source, "status": "removed", "message": f"{source}: removed from the index and the folder"}

    async def reindex(self, source: str) -> dict[str, object]:
        before = self._document(source)
        async with self._one_at_a_time():
            await self._index(source, ["--reindex", "--skip-enrich"])
            rec = await self._until(lambda docs: docs.get(source) if docs.get(source) != before else None)
        rec = rec or self._document(source)
        return {"source": source, "status": rec.status,
                "message": f"{source}: re-indexed ({rec.chunks} chunks)" + (f": {rec.error}" if rec.error else "")}

    # -- helpers --------------------------------------------------------------------
    def _document(self, source: str) -> DocRecord:
        rec = self.store.documents().get(source)
        if rec is None:
            raise UploadError(404, f"{source}: no such document in the index")
        return rec

    def _one_at_a_time(self) -> asyncio.Lock:
        if self._busy.locked():
            raise UploadError(409, "another upload or removal is being indexed; try again in a moment")
        return self._busy

    async def _index(self, only: str, flags: list[str]) -> str:
        """The pipeline's run for one document; its output (for the log), or UploadError."""
        proc = await asyncio.create_subprocess_exec(
            *self.command, f"--only={only}", *flags, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            raw, _ = await asyncio.wait_for(proc.communicate(), timeout=self.pipe.run.timeout_s + 120)
        except TimeoutError:
            proc.kill()
            raise UploadError(504, f"{only}: indexing took too long; the next run retries it") from None
        out = raw.decode(errors="replace")[-2000:]
        if proc.returncode == EXIT_LOCKED:
            raise UploadError(409, f"{Path(only).name}: another run holds this pipeline's index now (the nightly "
                              "run?), so the index is not changed yet; the next run finishes the change")
        if proc.returncode not in (0, 1):  # 1: the document failed, recorded in its row
            raise UploadError(500, f"{Path(only).name}: indexing failed: {out.strip().splitlines()[-1:] or ''}")
        return out

    async def _until(self, found: Callable[[dict[str, DocRecord]], T | None]) -> T | None:
        """Wait until this process's reader sees the change (``found(docs)`` not None)."""
        deadline = time.time() + VISIBLE_S
        while True:
            self.store.refresh()
            hit = found(self.store.documents())
            if hit is not None or time.time() > deadline:
                return hit
            await asyncio.sleep(0.5)
