"""run.worker_credentials = "environment" (issue 21, item 5): with the index on S3, the Ray
workers write the tables' data files with their own environment's credentials, and no
secret of the driver's travels in the job.

A cluster from `ray start --head` whose environment holds the workers' credentials
(as a node with an instance role or its own AWS_* variables would), a driver in a
subprocess with other credentials, and an S3 server (moto) recording every request with
its signature. The driver records what it hands to Ray (ray.init's runtime env, the
dataset's items, the stages' functions and actor arguments) and the test looks for the
driver's key and secret in those bytes. The same run with the default ("driver") is the
control: there the secret is in the payload and the workers sign with the driver's key.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.pipeline_fixtures import make_corpus
from tests.ray_head import BIN, REPO, clean_env, ray_head
from tests.s3_fixtures import moto_server

DRIVER = {"AWS_ACCESS_KEY_ID": "DRIVERKEY0000000", "AWS_SECRET_ACCESS_KEY": "driver-secret-0f9a8b7c6d"}
WORKER = {"AWS_ACCESS_KEY_ID": "WORKERKEY0000000", "AWS_SECRET_ACCESS_KEY": "worker-secret-1e2d3c4b5a"}
COMMON = {"AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}

# The driver: records what it gives Ray, then runs the pipeline (the fake embedder: fast).
SCRIPT = r"""
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
import ray, ray.data
from ray import cloudpickle
from folio.config import RunSettings
from pipeline.runner import Runner, RunOptions
from tests.pipeline_fixtures import pipeline_for
from tests.test_ray_engine import fake_embedder

sent = []
def recording(fn):
    def call(*a, **kw):
        sent.append((fn.__name__, a[1:] if fn.__name__.startswith("map") else a, kw))  # not the Dataset itself
        return fn(*a, **kw)
    return call
ray.init = recording(ray.init)
ray.data.from_items = recording(ray.data.from_items)
ray.data.Dataset.map = recording(ray.data.Dataset.map)
ray.data.Dataset.map_batches = recording(ray.data.Dataset.map_batches)
ray.remote = recording(ray.remote)
import json
import index.fragments
appended = []
real_append = index.fragments.append
def append(store, fragments):  # the data files the driver commits, as table/data/file
    appended.extend(f"/{{name}}.lance/data/{{df.path}}" for name, fs in fragments.items() for f in fs for df in f.files)
    return real_append(store, fragments)
index.fragments.append = append

run = RunSettings(engine="ray", ray_address={address!r}, worker_credentials={mode!r})
pipe = pipeline_for(Path({src!r}), {uri!r}, run=run)
runner = Runner(pipe, RunOptions(progress=False, embedder_factory=fake_embedder))
runner.run()
Path({sent!r}).write_bytes(cloudpickle.dumps(sent))
Path({sent!r} + ".json").write_text(json.dumps(appended))
print(runner.report.counts["ok"], runner.report.status)
"""


def signed_puts(endpoint: str) -> list[tuple[str, str]]:
    """(access key, URL) of every write the S3 server recorded."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording") as r:
        text = r.read().decode()
    out = []
    decoder = json.JSONDecoder()
    for piece in text.split('{"headers"')[1:]:  # one request each (the server writes them from threads)
        entry, _ = decoder.raw_decode('{"headers"' + piece.strip())
        auth = entry["headers"].get("Authorization", "")
        if entry["method"] in ("PUT", "POST") and "Credential=" in auth:
            out.append((auth.split("Credential=", 1)[1].split("/", 1)[0], entry["url"]))
    return out


def signers(puts: list[tuple[str, str]], paths: list[str]) -> dict[str, set[str]]:
    """Access key -> which of ``paths`` (the data files the driver committed) it wrote."""
    out: dict[str, set[str]] = {}
    for key, url in puts:
        out.setdefault(key, set()).update(p for p in paths if p in url)
    return out


def recorder(endpoint: str, action: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/recorder/{action}", method="POST")).close()


@pytest.mark.slow  # a `ray start` head and two Ray runs (~1.5 min on 2 cores)
def test_workers_write_with_their_own_credentials_and_none_travel_in_the_job(tmp_path: Path) -> None:
    import boto3

    src = tmp_path / "src"
    make_corpus(src, n_pdf=2, with_docx=False)
    with moto_server(cwd=tmp_path, MOTO_RECORDER_FILEPATH=str(tmp_path / "requests.jsonl")) as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
                     aws_secret_access_key="setup").create_bucket(Bucket="team")
        home = tmp_path / "home"
        s3 = {**COMMON, "AWS_ENDPOINT_URL": endpoint}
        # the node's environment: its own credentials (as an instance role would give it)
        with ray_head(clean_env(home, **s3, **WORKER), num_cpus=2) as head:
            seen = {}
            for mode in ("environment", "driver"):
                sent = tmp_path / f"sent-{mode}.pkl"
                script = SCRIPT.format(repo=str(REPO), src=str(src), uri=f"s3://team/{mode}", address=head.address,
                                       mode=mode, sent=str(sent))
                env = clean_env(home, **s3, **DRIVER, FOLIO_CACHE_DIR=str(tmp_path / "cache" / mode))
                recorder(endpoint, "reset-recording")
                recorder(endpoint, "start-recording")
                proc = subprocess.run([str(BIN / "python3"), "-c", script], cwd=REPO, env=env, capture_output=True,
                                      text=True, timeout=300)
                recorder(endpoint, "stop-recording")
                assert proc.returncode == 0 and proc.stdout.split()[-2:] == ["2", "ok"], proc.stderr[-3000:]
                paths = json.loads(Path(f"{sent}.json").read_text())
                assert len(paths) >= 6  # 2 documents x chunks, elements, profiles
                seen[mode] = (sent.read_bytes(), paths, signers(signed_puts(endpoint), paths))

    payload, paths, signed = seen["environment"]
    assert b"IndexActor" in payload and b"storage_options" in payload  # the recording holds the job
    for secret in DRIVER.values():
        assert secret.encode() not in payload
    # the workers wrote every data file the driver committed, with the node's key; the
    # driver (which committed with its own key) wrote none of them
    assert signed[WORKER["AWS_ACCESS_KEY_ID"]] == set(paths)
    assert signed[DRIVER["AWS_ACCESS_KEY_ID"]] == set()

    payload, paths, signed = seen["driver"]  # the default: the driver's credentials go with the job
    assert all(secret.encode() in payload for secret in DRIVER.values())
    assert WORKER["AWS_ACCESS_KEY_ID"] not in signed and signed[DRIVER["AWS_ACCESS_KEY_ID"]] == set(paths)
