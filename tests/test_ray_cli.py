"""``ingest.py run --engine ray`` as a user runs it: the CLI in a subprocess whose
environment is built from nothing (no RAY_* variable, a fresh HOME: no Ray token yet),
on a local cluster the run starts and on one started with `ray start --head`; and a
cluster that cannot run the work ends the run with exit code 4 within its deadline,
or at once on one SIGTERM, leaving the index as it was (issue 21)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from folio.exitcodes import EXIT_PARTIAL, EXIT_RAY
from tests.pipeline_fixtures import FakeEmbedder, chunk_rows, make_corpus, make_pdf, sentence
from tests.ray_head import REPO, clean_env, ray_head, run_cli

ONNX_CACHE = Path.home() / ".cache" / "folio" / "onnx"  # the embedder's export, made once per machine


def write_config(folder: Path, src: Path, index: Path, **run: Any) -> Path:
    """A pipeline over ``src``; the ONNX cache is this user's (a fresh HOME would export again)."""
    lines = ["[pipelines.t]", f'sources = [{{ path = "{src}" }}]', f'index = "{index}"',
             "[pipelines.t.embed]", f'cache_dir = "{ONNX_CACHE}"', "[pipelines.t.run]", "workers = 2"]
    lines += [f"{k} = {v!r}" for k, v in run.items()]
    cfg = folder / "pipelines.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def chunk_ids(index: Path) -> list[str]:
    return sorted(r["id"] for r in chunk_rows(index))


def versions(index: Path) -> dict[str, int]:
    """Each table's version but the runs table's (a failed run is recorded there)."""
    from index.store import Store

    store = Store(index)
    return {name: store.db.open_table(name).version for name in store._names() if name != "runs"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str], Path]]:
    """Three small PDFs, the chunk ids the local engine makes of them (the real embedder)
    and that index."""
    base = tmp_path_factory.mktemp("corpus")
    src = base / "src"
    make_corpus(src, n_pdf=3, with_docx=False)
    index = base / "local"
    cfg = write_config(base, src, index)
    t0 = time.time()
    res = run_cli(["--config", str(cfg), "run", "--pipeline", "t"], clean_env(base / "home"), timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    print(f"local engine, 3 documents: {time.time() - t0:.1f} s")
    yield src, chunk_ids(index), index


def test_ray_engine_from_a_clean_environment_on_the_local_cluster_it_starts(
    tmp_path: Path, corpus: tuple[Path, list[str], Path],
) -> None:
    """The issue's command: before the fix every worker died before it registered
    (InvalidAuthToken: the workers were told RAY_AUTH_MODE=disabled, the cluster had
    token authentication on) and the run never ended."""
    src, local_ids, _ = corpus
    home = tmp_path / "home"
    cfg = write_config(tmp_path, src, tmp_path / "ray")
    t0 = time.time()
    res = run_cli(["--config", str(cfg), "run", "--pipeline", "t", "--engine", "ray"], clean_env(home), timeout=300)
    print(f"ray engine, local cluster, 3 documents: {time.time() - t0:.1f} s")
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert "3 ok, 0 failed" in res.stdout
    assert chunk_ids(tmp_path / "ray") == local_ids
    # Ray's token authentication was on, end to end: ray.init wrote this HOME's token
    assert (home / ".ray" / "auth_token").is_file()


def test_ray_engine_from_a_clean_environment_on_a_cluster_from_ray_start(
    tmp_path: Path, corpus: tuple[Path, list[str], Path],
) -> None:
    src, local_ids, _ = corpus
    env = clean_env(tmp_path / "home")
    cfg = write_config(tmp_path, src, tmp_path / "ray")
    with ray_head(env, num_cpus=2) as head:
        t0 = time.time()
        res = run_cli(["--config", str(cfg), "run", "--pipeline", "t", "--ray-address", head.address],
                      env, timeout=300)
        print(f"ray engine, `ray start` cluster, 3 documents: {time.time() - t0:.1f} s")
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert "3 ok, 0 failed" in res.stdout
    assert chunk_ids(tmp_path / "ray") == local_ids


@pytest.mark.slow  # a second head and two more runs (~1.5 min)
def test_a_cluster_with_token_authentication_needs_the_drivers_token(
    tmp_path: Path, corpus: tuple[Path, list[str], Path],
) -> None:
    """`ray start --head` turns token authentication on when a token exists (here: the one
    a local Ray run wrote to ~/.ray/auth_token). Ray never sends it to an address it was
    given unless RAY_AUTH_MODE=token says so: without it the run ends with exit code 4
    and says what to set; with it (Ray's own variable, README) the run works."""
    import subprocess

    src, local_ids, _ = corpus
    env = clean_env(tmp_path / "home")
    subprocess.run([str(Path(env["PATH"].split(":")[0]) / "ray"), "get-auth-token", "--generate"], env=env,
                   check=True, capture_output=True, timeout=120)
    cfg = write_config(tmp_path, src, tmp_path / "ray")
    args = ["--config", str(cfg), "run", "--pipeline", "t"]
    with ray_head(env, num_cpus=2) as head:
        assert "Token authentication is enabled" in head.log.read_text()
        refused = run_cli([*args, "--ray-address", head.address], env, timeout=300)
        assert refused.returncode == EXIT_RAY, refused.stdout + refused.stderr[-3000:]
        assert "RAY_AUTH_MODE=token" in refused.stderr and head.address in refused.stderr
        res = run_cli([*args, "--ray-address", head.address], {**env, "RAY_AUTH_MODE": "token"}, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert chunk_ids(tmp_path / "ray") == local_ids


def test_a_cluster_that_runs_no_worker_ends_the_run_within_the_deadline(
    tmp_path: Path, corpus: tuple[Path, list[str], Path],
) -> None:
    """A head started with --num-cpus 0 and no worker node joined (a common layout, half
    set up): no task can ever run. The run stops at --ray-deadline with exit code 4, says
    what the cluster has and where Ray's logs are, and has written nothing to the index."""
    import shutil

    src, index = tmp_path / "src", tmp_path / "idx"
    shutil.copytree(corpus[0], src)  # copy2: the same mtimes, so the copy's plan is what it was
    shutil.copytree(corpus[2], index)  # the local engine's index: one to leave alone
    cfg = write_config(tmp_path, src, index)
    env = clean_env(tmp_path / "home")
    args = ["--config", str(cfg), "run", "--pipeline", "t"]
    make_pdf(src / "new.pdf", [sentence("omega")])
    (src / "doc0.pdf").unlink()
    before = (chunk_ids(index), versions(index))
    with ray_head(env, num_cpus=0) as head:
        t0 = time.time()
        res = run_cli([*args, "--ray-address", head.address, "--ray-deadline", "10"], env, timeout=300)
        took = time.time() - t0
    print(f"run against a 0-CPU cluster, --ray-deadline 10: exit {res.returncode} after {took:.1f} s")
    assert res.returncode == EXIT_RAY, res.stdout + res.stderr[-3000:]
    assert "no Ray worker ran a task within 10 s" in res.stderr
    assert "0 CPUs" in res.stderr and f"Ray's logs: {head.temp_dir}/session_" in res.stderr
    assert "cannot be scheduled right now" in res.stderr  # the raylet's own words
    assert took < 90
    assert (chunk_ids(index), versions(index)) == before  # not even the deletion of doc0.pdf
    assert not (index / "run.dirty").exists()


def stuck_embedder(pipe: Any) -> FakeEmbedder:
    """The driver's embedder; in a Ray actor (an index worker) it never finishes loading,
    as a model on a hung network share would not. Module level: Ray imports it by name."""
    import os

    import ray

    if ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None:
        marker = os.environ.get("FOLIO_TEST_STUCK")
        if marker:
            Path(marker).touch()
        while True:
            time.sleep(60)
    return FakeEmbedder()


STUCK_CLI = r"""
import functools, sys
sys.path.insert(0, {repo!r})
import ingest
import pipeline.runner
from tests.test_ray_cli import stuck_embedder
# The CLI as it is, with index workers that never start (pipeline/cli.py builds RunOptions)
pipeline.runner.RunOptions = functools.partial(pipeline.runner.RunOptions, embedder_factory=stuck_embedder)
sys.exit(ingest.main(sys.argv[1:]))
"""


def stuck_run(tmp_path: Path, src: Path, *args: str) -> Any:
    """The CLI with stuck index workers on a local cluster, in a clean environment."""
    import subprocess

    from tests.ray_head import BIN

    cfg = write_config(tmp_path, src, tmp_path / "idx", timeout_s=5.0)
    env = clean_env(tmp_path / "home", FOLIO_TEST_STUCK=str(tmp_path / "stuck"))
    cmd = [str(BIN / "python3"), "-c", STUCK_CLI.format(repo=str(REPO)), "--config", str(cfg), "run",
           "--pipeline", "t", "--engine", "ray", *args]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_no_document_back_within_the_deadline_ends_the_run(
    tmp_path: Path, corpus: tuple[Path, list[str], Path],
) -> None:
    """Workers start, the index actors never do: the run stops once no document came back
    for run.timeout_s + --ray-deadline (5 + 25 s: the actors take seconds to start on a
    busy machine, and must get to their stuck point first), with exit code 4, the index empty."""
    from tests.ray_head import kill_session

    proc = stuck_run(tmp_path, corpus[0], "--ray-deadline", "25")
    t0 = time.time()
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        kill_session(proc)
    print(f"stuck index actors, --ray-deadline 25: exit {proc.returncode} after {time.time() - t0:.1f} s")
    assert proc.returncode == EXIT_RAY, out + err[-3000:]
    assert (tmp_path / "stuck").exists()  # the actors really were stuck, not absent
    assert "no document came back from the Ray workers for 30 s" in err
    assert "MapBatches(IndexActor): Tasks: 0; Actors: 2 (running=0, restarting=0, pending=2" in err
    assert "Ray's logs: " in err
    assert chunk_ids(tmp_path / "idx") == []


def test_one_sigterm_stops_a_run_waiting_on_ray(
    tmp_path: Path, corpus: tuple[Path, list[str], Path],
) -> None:
    """The issue: the first SIGTERM was only seen when a document came back, which never
    happened. Now the run stops within seconds of one SIGTERM, as a partial run."""
    import signal

    from tests.ray_head import kill_session

    proc = stuck_run(tmp_path, corpus[0])
    try:
        end = time.time() + 240
        while not (tmp_path / "stuck").exists():  # waiting on Ray: the index actors hang
            assert proc.poll() is None and time.time() < end, proc.communicate()[1][-3000:]
            time.sleep(0.5)
        time.sleep(2.0)
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        took = time.time() - t0
    finally:
        kill_session(proc)
    print(f"one SIGTERM while waiting on Ray: exit {proc.returncode} after {took:.1f} s")
    assert proc.returncode == EXIT_PARTIAL, out + err[-3000:]
    assert "stopped by SIGTERM" in err and "3 documents left for the next run" in out
    assert took < 30
    assert chunk_ids(tmp_path / "idx") == []


def test_what_ray_said_comes_from_its_logs(tmp_path: Path) -> None:
    """The error quotes the lines that name the cause (here, issue 21's: the workers'
    InvalidAuthToken and the raylet giving up on them), each once, without Ray's routine
    noise, and Ray Data's last state of each operator. Lines are as Ray 2.60 writes them."""
    from pipeline.engines.ray.watch import ray_data_state, ray_log_lines

    logs = tmp_path / "logs"
    (logs / "ray-data").mkdir(parents=True)
    since = time.mktime((2026, 12, 3, 9, 46, 0, 0, 0, -1))
    old = "[2026-12-03 09:40:00,000 E 1 1] (raylet) node_manager.cc:1: an error of an earlier job"
    auth = ("[2026-12-03 09:46:57,{ms} W {pid} {pid}] gcs_client.cc:210: Failed to get cluster ID from GCS "
            "server: Unauthenticated: RPC error: InvalidAuthToken: Authentication token is missing or incorrect")
    (logs / "python-core-worker-a_11970.log").write_text(auth.format(ms="057", pid=11970) + "\n")
    (logs / "python-core-worker-b_11968.log").write_text(auth.format(ms="803", pid=11968) + "\n")
    (logs / "raylet.out").write_text("\n".join([
        old,
        "[2026-12-03 09:47:00,000 I 11803 11803] (raylet) main.cc:1: an info line",
        "[2026-12-03 09:47:01,000 W 11803 11803] actor_manager.cc:110: Failed to look up actor with name "
        "'datasets_stats_actor'. This could because ... 2. The named actor died.",
        "[2026-12-03 09:47:52,620 E 11803 11803] (raylet) worker_pool.cc:660: Some workers of the worker "
        "process(11968) have not registered within the timeout. The process is dead, probably it crashed "
        "during start.",
    ]) + "\n")
    (logs / "ray-data" / "ray-data.log").write_text("\n".join([
        "2026-12-03 09:47:10,000\tDEBUG streaming_executor.py:755 -- 0: Input - Tasks: 0; Actors: 0; Queued",
        "2026-12-03 09:47:10,001\tDEBUG streaming_executor.py:755 -- 2: MapBatches(IndexActor) - Tasks: 0; "
        "Actors: 2 (running=0, restarting=0, pending=2, active=0, idle=0); Queued blocks: 1",
        "2026-12-03 09:47:20,000\tDEBUG streaming_executor.py:755 -- 1: Map(_partition_row) - Tasks: 1; "
        "Actors: 0; Queued blocks: 0",
    ]) + "\n")
    assert ray_log_lines(logs, since) == [
        "gcs_client.cc:210: Failed to get cluster ID from GCS server: Unauthenticated: RPC error: "
        "InvalidAuthToken: Authentication token is missing or incorrect",
        "(raylet) worker_pool.cc:660: Some workers of the worker process(11968) have not registered within "
        "the timeout. The process is dead, probably it crashed during start.",
    ]
    assert ray_data_state(logs, since) == [
        "Map(_partition_row): Tasks: 1; Actors: 0",
        "MapBatches(IndexActor): Tasks: 0; Actors: 2 (running=0, restarting=0, pending=2, active=0, idle=0)",
    ]
