"""The README's shell examples, run as written, so they cannot rot.

A fenced ``sh`` block right after a ``<!-- checked by tests/test_readme.py ... -->`` line is
checked: every command line of every such block parses with the real CLI parser (fast),
and the blocks run one after the other, as a newcomer types them, in a clean environment:
a temporary checkout (ingest.py and serve.py linked to this one), a temporary HOME whose
~/Documents/warehouse holds the three samples (its ~/.cache is the real one, where the
prepared models are), nothing else (slow: ``ask`` runs the default model).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ingest

REPO = Path(__file__).resolve().parents[1]
MARK = "<!-- checked by tests/test_readme.py"


def checked_blocks(text: str) -> list[list[str]]:
    """The command lines of each checked block, in README order."""
    blocks: list[list[str]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(MARK):
            continue
        assert lines[i + 1].startswith("```sh"), f"README line {i + 2}: a checked block must follow its mark"
        block = []
        for body in lines[i + 2:]:
            if body.startswith("```"):
                break
            if body.strip() and not body.lstrip().startswith("#"):
                block.append(body)
        blocks.append(block)
    return blocks


def _commands() -> list[str]:
    return [c for b in checked_blocks((REPO / "README.md").read_text(encoding="utf-8")) for c in b]


def test_readme_checks_the_newcomers_path() -> None:
    commands = _commands()
    verbs = [shlex.split(c, comments=True)[2] for c in commands]
    assert verbs[:3] == ["init", "run", "ask"], verbs  # "your own folder" in three lines


@pytest.mark.parametrize("command", _commands())
def test_readme_command_parses(command: str) -> None:
    argv = shlex.split(command, comments=True)
    assert argv[:2] == ["python3", "ingest.py"], command
    ingest.build_parser().parse_args(argv[2:])  # argparse exits (fails the test) on a stale flag


@pytest.mark.slow
def test_readme_examples_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    docs = home / "Documents" / "warehouse"
    docs.mkdir(parents=True)
    for f in (REPO / "samples" / "docs").iterdir():
        shutil.copy2(f, docs / f.name)
    (home / ".cache").symlink_to(Path.home() / ".cache")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for script in ("ingest.py", "serve.py"):
        (checkout / script).symlink_to(REPO / script)  # Python puts the link's target folder on sys.path
    python_dir = str(Path(sys.executable).parent)  # holds a python3: the one running the tests
    env = {"PATH": f"{python_dir}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    outputs = []
    for command in _commands():
        done = subprocess.run(["bash", "-c", command], cwd=checkout, env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    init, run, ask, search, status = outputs
    assert "wrote pipeline 'warehouse'" in init and (checkout / "pipelines.toml").exists()
    assert "folio run warehouse: 3 ok, 0 failed" in run
    assert "Sources:" in ask and "warehouse-memo.docx" in ask  # the staffing table is in the memo
    assert "warehouse-memo.docx" in search and "3 documents indexed" in status and "0 failed" in status
