"""pipelines.toml -> typed config: defaults work, mistakes are named precisely."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from folio.config import load_config
from folio.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipelines.toml"
    p.write_text(text)
    return p


def test_bundled_default_pipeline_points_at_the_samples() -> None:
    cfg = load_config(ROOT / "pipelines.toml")
    pipe = cfg.pipeline("default")
    src = pipe.sources[0].path
    assert src.is_dir()
    assert {p.suffix for p in src.iterdir()} >= {".pdf", ".docx", ".pptx"}
    assert pipe.index.is_absolute()


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, '[pipelines.a]\nsources = [{ path = "docs" }]\nindex = "idx"\n')
    pipe = load_config(p).pipeline("a")
    assert pipe.sources[0].path == (tmp_path / "docs").resolve()
    assert pipe.index == (tmp_path / "idx").resolve()
    assert pipe.sources[0].include == ["**/*"]


def test_unknown_key_names_full_path_and_allowed_keys(tmp_path: Path) -> None:
    p = write(tmp_path, '[pipelines.a]\nsources = []\nindex = "i"\n[pipelines.a.partition]\ntabels = "fast"\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert "pipelines.a.partition.tabels" in msg
    assert "allowed here:" in msg and "tables" in msg


def test_bad_value_lists_allowed_values(tmp_path: Path) -> None:
    p = write(tmp_path, '[pipelines.a]\nsources = []\nindex = "i"\n[pipelines.a.partition]\ntables = "magic"\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "pipelines.a.partition.tables" in str(e.value)
    assert "'off', 'fast' or 'layout'" in str(e.value)


def test_unknown_key_inside_a_source_list_item(tmp_path: Path) -> None:
    p = write(tmp_path, '[pipelines.a]\nsources = [{ path = "d", includes = ["*.pdf"] }]\nindex = "i"\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "pipelines.a.sources.0.includes" in str(e.value)
    assert "include" in str(e.value)


def test_missing_key_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pipelines\.a\.index: required"):
        load_config(write(tmp_path, '[pipelines.a]\nsources = []\n'))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[pipelines.a\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_unknown_pipeline_lists_known_ones(tmp_path: Path) -> None:
    p = write(tmp_path, '[pipelines.a]\nsources = []\nindex = "i"\n')
    with pytest.raises(ConfigError, match="known: a"):
        load_config(p).pipeline("b")


def test_fingerprint_follows_output_shaping_settings(tmp_path: Path) -> None:
    base = '[pipelines.a]\nsources = []\nindex = "i"\n'
    a = load_config(write(tmp_path, base)).pipeline("a")
    b = load_config(write(tmp_path, base + "[pipelines.a.partition]\nimage_dpi = 200\n")).pipeline("a")
    c = load_config(write(tmp_path, base + "[pipelines.a.run]\nworkers = 1\n")).pipeline("a")
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == c.fingerprint()  # run settings do not change the output


def test_cli_exits_2_on_config_error(tmp_path: Path) -> None:
    p = write(tmp_path, '[pipelines.default]\nsources = []\nindex = "i"\nbogus = 1\n')
    doc = tmp_path / "x.txt"
    doc.write_text("hello")
    r = subprocess.run(
        [sys.executable, str(ROOT / "ingest.py"), "--config", str(p), "partition", str(doc)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert r.returncode == 2
    assert "pipelines.default.bogus" in r.stderr
