"""``ingest.py partition FILE`` leaves nothing behind in the temp folder unless asked to keep
the crops (a real subprocess, TMPDIR pointed at a folder of the test's own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PDF = REPO / "samples" / "docs" / "northwind-report.pdf"  # has a raster and a vector chart: crops


def _partition(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "LANG": "C.UTF-8", "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, str(REPO / "ingest.py"), "--config", "/nonexistent.toml", "partition",
                           str(PDF), *args], env=env, capture_output=True, text=True, timeout=300)


def test_partition_removes_its_temp_folder_and_keeps_crops_only_when_asked(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = _partition(tmp, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert any(e["image"] for e in result["elements"]) and result["assets"] is None
    assert [p.name for p in tmp.iterdir() if p.name.startswith("folio-assets-")] == []
    human = _partition(tmp)
    assert human.returncode == 0 and "crops not kept (--assets DIR keeps them)" in human.stdout
    assert [p.name for p in tmp.iterdir() if p.name.startswith("folio-assets-")] == []

    keep = tmp_path / "crops"
    kept = json.loads(_partition(tmp, "--json", "--assets", str(keep)).stdout)
    assert kept["assets"] == str(keep)
    assert all((keep / e["image"]).is_file() for e in kept["elements"] if e["image"])
