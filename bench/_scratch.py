"""Where benchmarks keep their scratch indexes (shared by the bench scripts)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench_dir() -> Path:
    """Scratch indexes live under the repo's .folio/ (git-ignored): a first run takes
    minutes, and shared /tmp gets swept by other jobs' cleanups meanwhile."""
    d = REPO / ".folio" / "bench"
    d.mkdir(parents=True, exist_ok=True)
    return d
