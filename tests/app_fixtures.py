"""A real app over a small real index: the samples (a PDF with a table and charts, a DOCX, a
PPTX) plus, when the shared corpus is beside the checkout, markitdown-test.pptx (its slide
6 holds instructions addressed to an AI). Ingested with the real embedder, no enrichment,
answered by the small SmolLM2 model; the server is ``serve.py`` in a subprocess on loopback.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
PIPELINE = "apptest"
SMALL_LLM = "smollm2-135m-q4_1"


def write_config(root: Path, llm: str = SMALL_LLM, extra: str = "", index: str = "index",
                 only: str | None = None, enrich: bool = True) -> Path:
    """docs/ and pipelines.toml under ``root``; returns the config path. ``only``: that one
    sample document instead of all; ``index``: a folder or an object-store URI."""
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for f in (REPO / "samples" / "docs").iterdir():
        if only is None or f.name == only:
            shutil.copy2(f, docs / f.name)
    if only is None and (CORPUS / "markitdown-test.pptx").exists():
        shutil.copy2(CORPUS / "markitdown-test.pptx", docs / "markitdown-test.pptx")
    cfg = root / "pipelines.toml"
    cfg.write_text(f"""
[pipelines.{PIPELINE}]
sources = [{{ path = "docs" }}]
index = "{index}"

[pipelines.{PIPELINE}.run]
workers = 1

[pipelines.{PIPELINE}.models]
llm = "{llm}"

[pipelines.{PIPELINE}.enrich]
# OCR text of pictures reaches the index through the caption stage (slide 6's
# instruction-bearing picture among them); the tiny model keeps it quick.
enabled = {str(enrich).lower()}
caption_max_tokens = 48
summary_max_tokens = 48

[pipelines.{PIPELINE}.answer]
n_ctx = 2048
max_tokens = 96
{extra}
""")
    return cfg


def ingest(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "ingest.py"), "--config", str(cfg), "run",
                           "--pipeline", PIPELINE], capture_output=True, text=True, timeout=900, cwd=cfg.parent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(cfg: Path, host: str = "127.0.0.1", env: dict[str, str] | None = None,
           headers: dict[str, str] | None = None) -> Iterator[str]:
    """``serve.py`` running on a free port; yields its base URL once /api/health answers."""
    port = free_port()
    log = (cfg.parent / f"serve-{port}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "serve.py"), "--config", str(cfg), "--pipeline", PIPELINE,
         "--host", host, "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, cwd=cfg.parent, env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve.py exited {proc.returncode}: {(cfg.parent / log.name).read_text()[-3000:]}")
            try:
                if httpx.get(base + "/api/health", timeout=2, headers=headers).status_code in (200, 401):
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("serve.py did not start in 240 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def copy_app(app_config: Path, dst: Path, serve: str = "") -> Path:
    """A copy of the shared app's folder (documents, index, sessions) that a test may change,
    with ``serve`` (TOML lines) as its pipeline's [serve] table; returns its config."""
    shutil.copytree(app_config.parent, dst, symlinks=True, ignore=shutil.ignore_patterns("serve-*.log"))
    (dst / "index" / "assets" / "escape.png").unlink(missing_ok=True)
    cfg = dst / "pipelines.toml"
    if serve:
        cfg.write_text(cfg.read_text() + f"\n[pipelines.{PIPELINE}.serve]\n{serve}\n")
    return cfg
