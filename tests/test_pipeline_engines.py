"""The runner drives its two phases through an Engine (pipeline/engines/), whichever
``run.engine`` names; the Ray modules are imported only for the Ray engine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

from pipeline.context import RunContext
from pipeline.engines.local import LocalEngine
from pipeline.plan import Task
from pipeline.report import DocResult
from pipeline.runner import Runner
from tests.pipeline_fixtures import REPO, Counters, make_corpus, pipeline_for


class Recording:
    """The local engine, with each call the runner makes of it written down."""

    def __init__(self) -> None:
        self.inner = LocalEngine()
        self.calls: list[str] = []

    def ready(self, tasks: list[Task], ctx: RunContext) -> bool:
        self.calls.append("ready " + ",".join(t.entry.source for t in tasks))
        return self.inner.ready(tasks, ctx)

    def index(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, DocResult], None, None]:
        self.calls.append("index " + ",".join(t.entry.source for t in tasks))
        for task, result in self.inner.index(tasks, ctx):
            self.calls.append(f"indexed {task.entry.source} {result.status}")
            yield task, result

    def enrich(self, tasks: list[Task], ctx: RunContext) -> Generator[tuple[Task, Any], None, None]:
        self.calls.append("enrich " + ",".join(t.entry.source for t in tasks))
        yield from self.inner.enrich(tasks, ctx)

    def close(self) -> None:
        self.calls.append("close")


def recorded_run(pipe: Any) -> tuple[Runner, list[str]]:
    runner = Runner(pipe, Counters().options())
    engine = Recording()
    runner.engine = engine
    runner.run()
    return runner, engine.calls


def test_the_runner_drives_both_phases_through_its_engine(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_corpus(src, n_pdf=2, with_docx=False)
    pipe = pipeline_for(src, tmp_path / "idx")
    runner, calls = recorded_run(pipe)
    both = "doc0.pdf,doc1.pdf"
    # enrichment is off: every document is complete after phase 1, phase 2 gets none
    assert calls == [f"ready {both}", f"index {both}", "indexed doc0.pdf ok", "indexed doc1.pdf ok",
                     "enrich ", "close"], calls
    # what the engine yielded is what the report holds
    assert [(d.source, d.status) for d in runner.report.documents] == [("doc0.pdf", "ok"), ("doc1.pdf", "ok")]
    assert runner.report.counts["ok"] == 2 and runner.report.status == "ok"

    # nothing changed: decided from the snapshot, the engine only closes
    runner, calls = recorded_run(pipe)
    assert calls == ["close"] and runner._fast, calls


ENGINE_PROBE = """
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from folio.config import Pipeline, Source
from pipeline.engines import engine_for
from pipeline.runner import Runner

pipe = Pipeline(name="t", sources=[Source(path=Path({src!r}))], index=Path({idx!r}))
local = Runner(pipe).engine
ray_pipe = pipe.model_copy(update={{"run": pipe.run.model_copy(update={{"engine": "ray"}})}})
ray_engine = engine_for(ray_pipe)
loaded = sorted(m for m in sys.modules if m == "ray" or m.startswith(("ray.", "pipeline.engines.ray.")))
print(type(local).__name__, type(ray_engine).__name__, loaded)
"""


def test_the_engine_is_the_one_run_engine_names_and_ray_loads_only_for_a_run(tmp_path: Path) -> None:
    probe = ENGINE_PROBE.format(repo=str(REPO), src=str(tmp_path), idx=str(tmp_path / "idx"))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    # the Ray engine's driver module, but not Ray itself nor its workers' modules: Ray is
    # imported when the run first needs the cluster
    assert out.stdout.splitlines()[-1] == "LocalEngine RayEngine ['pipeline.engines.ray.engine']", out.stdout
