"""``ingest.py init DIR`` and a run without ``--pipeline``: real CLI subprocesses in a clean
environment, the real embedder, a folder of the three samples."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import ingest
from folio.config import load_config

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    # A newcomer's shell: no FOLIO_* or test variables, the real HOME (the prepared models).
    return {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "LANG": "C.UTF-8"}


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "ingest.py"), *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=600)


def _folder(root: Path, name: str = "Team Docs") -> Path:
    docs = root / name
    docs.mkdir(parents=True)
    for f in (REPO / "samples" / "docs").iterdir():
        shutil.copy2(f, docs / f.name)
    (docs / ".hidden.pdf").write_bytes(b"%PDF-1.4")  # hidden files are not counted (nor indexed)
    return docs


def test_init_writes_a_pipeline_and_its_next_commands_run(tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    out = _cli(tmp_path, "init", str(docs))
    assert out.returncode == 0, out.stderr
    assert "wrote pipeline 'team-docs'" in out.stdout and "(1 docx, 1 pdf, 1 pptx)" in out.stdout
    pipe = load_config(tmp_path / "pipelines.toml").pipeline("team-docs")
    assert [s.path for s in pipe.sources] == [docs.resolve()]
    assert pipe.index == (tmp_path / ".folio" / "team-docs").resolve() and not pipe.enrich.enabled
    # the path is written relative to the config file, so the two move together
    assert tomllib.loads((tmp_path / "pipelines.toml").read_text())["pipelines"]["team-docs"]["sources"][0]["path"] \
        == "Team Docs"

    steps = [line.split("#")[0].strip() for line in out.stdout.splitlines() if line.startswith("  python3")]
    assert len(steps) == 3 and "serve.py" in steps[2]
    for step in steps[:2]:
        argv = shlex.split(step)
        assert Path(argv[1]).resolve() == REPO / "ingest.py"
        ingest.build_parser().parse_args(argv[2:])  # every printed command parses
    ran = subprocess.run([sys.executable, *shlex.split(steps[0])[1:]], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    assert "folio run team-docs: 3 ok, 0 failed" in ran.stdout
    assert "no --pipeline given" not in ran.stderr  # named: nothing to explain
    found = _cli(tmp_path, "search", "--pipeline", "team-docs", "late shift", "--json")
    assert found.returncode == 0 and "warehouse-memo.docx" in found.stdout

    # the same name again is refused and the file is left as it was
    before = (tmp_path / "pipelines.toml").read_text()
    again = _cli(tmp_path, "init", str(docs))
    assert again.returncode == 2 and "exists already" in again.stderr
    assert (tmp_path / "pipelines.toml").read_text() == before


def test_init_into_a_config_of_ones_own_with_config_after_the_command(tmp_path: Path) -> None:
    docs = _folder(tmp_path / "data", "reports")
    (tmp_path / "pipelines.toml").write_text("# someone else's file\n")
    own = tmp_path / "mine.toml"
    out = _cli(tmp_path, "init", str(docs), "--name", "q4", "--enrich", "--config", str(own))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "pipelines.toml").read_text() == "# someone else's file\n"
    pipe = load_config(own).pipeline("q4")
    assert pipe.enrich.enabled and pipe.sources[0].path == docs.resolve()
    assert f"models prepare --pipeline q4 --config {own}" in out.stdout
    # a second pipeline is appended; the first and the comments stay
    other = _folder(tmp_path / "data", "memos")
    assert _cli(tmp_path, "init", str(other), "--config", str(own)).returncode == 0
    text = own.read_text()
    assert sorted(load_config(own).pipelines) == ["memos", "q4"] and text.count("# Written by `ingest.py init`") == 2
    bad = _cli(tmp_path, "init", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "nowhere: not a folder" in bad.stderr


def test_run_without_pipeline_says_which_settings_it_took(tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    # no config file: built-in settings, said before the run
    out = _cli(tmp_path, "run", "--source", str(docs), "--db", str(tmp_path / "db"))
    assert out.returncode == 0, out.stderr
    first = out.stderr.splitlines()[0]
    assert first.startswith("folio run adhoc: no pipelines.toml: built-in settings")
    assert f"sources {docs}" in first and f"index {tmp_path / 'db'}" in first and "enrichment off" in first


def test_settings_line_names_the_default_pipeline_and_its_enrichment(tmp_path: Path) -> None:
    import argparse

    from folio.targets import resolve_pipeline, settings_line

    cfg = tmp_path / "pipelines.toml"
    cfg.write_text('[pipelines.default]\nsources = [{path = "."}]\nindex = "idx"\n'
                   '[pipelines.default.enrich]\nenabled = true\ncaptions = false\n'
                   '[pipelines.default.models]\nllm = "qwen2.5-coder-0.5b-q4_k_m"\n')
    args = argparse.Namespace(config=str(cfg), pipeline=None, source=[tmp_path], db=str(tmp_path / "db"))
    line = settings_line(resolve_pipeline(args), args)
    assert line.startswith(f"no --pipeline given: the settings of [pipelines.default] in {cfg}")
    assert "enrichment on (table summaries with qwen2.5-coder-0.5b-q4_k_m)" in line


@pytest.mark.parametrize("argv", [["run", "--config", "x.toml"], ["models", "prepare", "--config", "x.toml"]])
def test_config_is_accepted_after_the_command(argv: list[str]) -> None:
    assert ingest.build_parser().parse_args(argv).config == "x.toml"
    assert ingest.build_parser().parse_args(["--config", "y.toml", *argv[:-2]]).config == "y.toml"
