"""DOCX and PPTX to PDF with LibreOffice headless, once per content hash.

The PDF is what a reader would see: page images, crops and boxes of office documents
come from it exactly as for a PDF (index/pages.py), and DOCX elements get the page they
land on (partition/office/place.py). LibreOffice is optional: without it (not installed,
or ``partition.office_render = "off"``) office documents are indexed as before, slides
drawn as a schematic and DOCX elements without pages.

Each conversion runs in its own process group with a fresh profile folder: two
conversions never share LibreOffice's user profile (it locks it and a second instance
would hand its work to the first), and a conversion that hangs is killed, with every
child, at its time limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from folio.filetype import RENDERED_PDF

OFFICE_KINDS = ("docx", "pptx")
# Hidden slides are exported too, so PDF page n is slide n (as the partitioner numbers them).
_PPTX_FILTER = 'pdf:impress_pdf_Export:{"ExportHiddenSlides":{"type":"boolean","value":"true"}}'


class RenderError(Exception):
    """A conversion that failed or timed out; the document is indexed without page images."""


def soffice(mode: str = "auto") -> str | None:
    """The LibreOffice program to convert with, or None (not installed, or turned off)."""
    if mode == "off":
        return None
    return shutil.which("soffice") or shutil.which("libreoffice")


def render_state(mode: str = "auto") -> str:
    """The fingerprint's word for where office pages come from: "lo" or "off"."""
    return "lo" if soffice(mode) else "off"


def rendered_path(assets_root: Path, doc_id: str) -> Path:
    """Under the index's assets folder: keyed by content hash like the crops beside it,
    uploaded with them for an index on an object store, and never served (only images are)."""
    return Path(assets_root) / doc_id / RENDERED_PDF


def convert(src: Path, out_pdf: Path, kind: str, timeout_s: float, program: str,
            scratch: Path | None = None) -> Path:
    """``src`` converted to ``out_pdf`` (kept if already there: same content hash, same
    pages). ``scratch``: where the profile and the copy live meanwhile (not the document's
    asset folder, which is uploaded as it is). Raises RenderError with the reason."""
    if out_pdf.is_file() and out_pdf.stat().st_size > 0:
        return out_pdf
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    scratch = scratch or out_pdf.parent.parent
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="folio-lo-", dir=scratch) as tmp:
        work = Path(tmp)
        # LibreOffice names its output after the input: a neutral copy name avoids
        # surprises with odd source names (spaces, leading dashes, wrong extensions).
        doc = work / f"document.{kind}"
        shutil.copyfile(src, doc)
        target = _PPTX_FILTER if kind == "pptx" else "pdf"
        cmd = [program, "--headless", "--norestore", "--nolockcheck",
               f"-env:UserInstallation={(work / 'profile').as_uri()}",
               "--convert-to", target, "--outdir", str(work / "out"), str(doc)]
        env = {**os.environ, "HOME": str(work), "SAL_USE_VCLPLUGIN": "svp"}
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise RenderError(f"LibreOffice conversion timed out after {timeout_s:g} s") from None
        finally:
            _kill_group(proc)  # soffice.bin can outlive the launcher script
        made = work / "out" / "document.pdf"
        if not made.is_file() or made.stat().st_size == 0:
            tail = output.decode("utf-8", "replace").strip().splitlines()[-1:] if output else []
            raise RenderError(f"LibreOffice made no PDF (exit code {proc.returncode}"
                              + (f": {tail[0][:200]}" if tail else "") + ")")
        part = out_pdf.with_suffix(".part")
        shutil.move(str(made), part)
        part.replace(out_pdf)
    return out_pdf


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
