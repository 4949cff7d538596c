"""``ingest.py export`` on real small indexes (real partitioners, real LanceDB, the fake
embedder): every record validates against docs/export-schema.json, counts and ids match the
index, ``--since`` exports exactly a change plus tombstones, tables become CSV files,
an output that cannot be written fails with exit code 2 before anything is written."""

from __future__ import annotations

import base64
import csv
import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest

import ingest
from export.run import ExportOptions, write_export
from folio.config import Pipeline
from tests.pipeline_fixtures import REPO, Counters, make_corpus, make_pdf, pipeline_for, run, sentence

SCHEMA = json.loads((REPO / "docs" / "export-schema.json").read_text())
FILE_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
LINE_VALIDATOR = jsonschema.Draft202012Validator({"$ref": "#/$defs/jsonl_record", "$defs": SCHEMA["$defs"]})
NO_CONFIG = "/nonexistent/pipelines.toml"  # --db alone names the index


def export(index: Path, out: Path, *args: str) -> int:
    return ingest.main(["--config", NO_CONFIG, "export", "--db", str(index), "--out", str(out), *args])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "ingest.py"), *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for r in records:
        LINE_VALIDATOR.validate(r)
    assert records[0]["type"] == "header" and records[-1]["type"] == "end"
    return records


def index_state(index: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(documents by source, committed elements by id), read straight from LanceDB."""
    from index.store import Store

    store = Store(index)
    docs = store.documents()
    committed = set(store.committed_writes().values())
    rows = store.elements_table.to_arrow().to_pylist()
    return docs, {r["id"]: r for r in rows if r["write_id"] in committed}


@pytest.fixture(scope="module")
def samples_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples (a PDF with a table and figures, a PPTX with a chart and a table, a DOCX
    with a table and a picture) indexed without enrichment."""
    root = tmp_path_factory.mktemp("samples")
    shutil.copytree(REPO / "samples" / "docs", root / "docs")
    runner = run(pipeline_for(root / "docs", root / "index"), Counters())
    assert runner.report.counts["ok"] == 3
    return root / "index"


def test_json_and_jsonl_validate_and_match_the_index(
    samples_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs, elements = index_state(samples_index)
    monkeypatch.setattr("export.versions.BATCH_ROWS", 7)  # many pages: none lost, none repeated
    assert export(samples_index, tmp_path / "out.json", "--images", "paths") == 0
    data = json.loads((tmp_path / "out.json").read_text())
    FILE_VALIDATOR.validate(data)
    assert {d["source"] for d in data["documents"]} == set(docs)
    assert {d["sha256"] for d in data["documents"]} == {d.sha256 for d in docs.values()}
    assert sorted(e["id"] for e in data["elements"]) == sorted(elements)
    assert data["counts"]["documents"] == 3 and data["counts"]["elements"] == len(elements)
    for e in data["elements"]:
        row = elements[e["id"]]
        assert (e["text"], e["html"], e["page"], e["kind"]) == (row["text"], row["html"], row["page"], row["kind"])
        assert e["provenance"]["write_id"] == row["write_id"] and e["review"] is None
        assert e["provenance"]["partitioner"], e["source"]
    # crops of tables and pictures: real PNG files under the index's assets
    crops = [e["crop"] for e in data["elements"] if e["crop"]]
    assert crops and all(Path(c["path"]).read_bytes()[:4] == b"\x89PNG" for c in crops)
    assert all(Path(c["path"]).is_relative_to(samples_index / "assets") for c in crops)
    assert {e["kind"] for e in data["elements"] if e["crop"]} == {"table", "image"}

    assert export(samples_index, tmp_path / "out.jsonl", "--format", "jsonl", "--images", "embed",
                  "--with-vectors") == 0
    records = read_jsonl(tmp_path / "out.jsonl")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_type.setdefault(r["type"], []).append(r)
    assert sorted(e["id"] for e in by_type["element"]) == sorted(elements)
    assert len(by_type["document"]) == 3
    from index.store import Store

    chunks = Store(samples_index).count_chunks()
    assert len(by_type["chunk"]) == chunks == records[-1]["counts"]["chunks"]
    assert all(len(c["vector"]) == 16 for c in by_type["chunk"])  # the fake embedder's width
    pngs = [base64.b64decode(e["crop"]["png_base64"]) for e in by_type["element"] if e["crop"]]
    assert pngs and all(p[:4] == b"\x89PNG" for p in pngs)


def test_parquet_layout_and_counts(samples_index: Path, tmp_path: Path) -> None:
    docs, elements = index_state(samples_index)
    out = tmp_path / "export"
    assert export(samples_index, out, "--format", "parquet") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    FILE_VALIDATOR.evolve(schema={"$ref": "#/$defs/header", "$defs": SCHEMA["$defs"]}).validate(
        {"type": "header", **{k: v for k, v in manifest.items() if k not in ("files", "counts")}})
    assert sorted(pq.read_table(out / "documents.parquet").column("source").to_pylist()) == sorted(docs)
    table = pq.read_table(out / "elements.parquet")
    assert sorted(table.column("id").to_pylist()) == sorted(elements)
    assert manifest["counts"]["elements"] == table.num_rows
    assert not (out / "chunks.parquet").exists()  # vectors only on request
    # a second export replaces the first folder
    assert export(samples_index, out, "--format", "parquet", "--with-vectors") == 0
    assert pq.read_table(out / "chunks.parquet").num_rows > 0


def test_tables_csv_hold_the_table_cells(samples_index: Path, tmp_path: Path) -> None:
    from folio.sanitize import table_rows

    _, elements = index_state(samples_index)
    tables = [r for r in elements.values() if r["kind"] == "table"]
    assert len(tables) >= 3
    assert export(samples_index, tmp_path / "out.json", "--tables-csv", str(tmp_path / "csv")) == 0
    files = sorted((tmp_path / "csv").iterdir())
    assert len(files) == len(tables)
    for t in tables:
        stem = Path(t["source"]).stem
        f = tmp_path / "csv" / f"{stem}_p{t['page'] or 0}_{t['id']}.csv"
        with f.open(newline="") as fh:
            grid = list(csv.reader(fh))
        cells, _, _ = table_rows(t["html"])
        assert len(grid) == len(cells), f.name
        # every cell of the table is in the CSV, as a number when it is one
        for want_row, got_row in zip(cells, grid):
            assert len(got_row) == len(want_row), f.name
            for want, got in zip(want_row, got_row):
                assert got == want or float(got) == float(want.replace(",", "")), (f.name, want, got)


def test_since_exports_exactly_the_change_plus_tombstones(tmp_path: Path) -> None:
    src, index = tmp_path / "src", tmp_path / "index"
    make_corpus(src, n_pdf=2)
    counters = Counters()
    run(pipeline_for(src, index), counters)
    assert export(index, tmp_path / "full.json") == 0
    full = json.loads((tmp_path / "full.json").read_text())
    old_ids: dict[str, set[str]] = {}
    for e in full["elements"]:
        old_ids.setdefault(e["source"], set()).add(e["id"])
    time.sleep(1.1)
    between = datetime.now(UTC).isoformat()
    time.sleep(1.1)
    make_pdf(src / "doc0.pdf", [sentence("omega"), sentence("beta0")])  # changed
    (src / "doc1.pdf").unlink()  # deleted
    run(pipeline_for(src, index), counters)
    _, elements = index_state(index)
    new_doc0 = {i for i, r in elements.items() if r["source"] == "doc0.pdf"}

    for since in (str(full["documents_version"]), between):
        out = tmp_path / "since.jsonl"
        assert export(index, out, "--format", "jsonl", "--since", since) == 0
        records = read_jsonl(out)
        docs = [r for r in records if r["type"] == "document"]
        assert [(d["source"], d["change"]) for d in docs] == [("doc0.pdf", "changed")]
        els = [r for r in records if r["type"] == "element"]
        assert {e["id"] for e in els} == new_doc0 and {e["source"] for e in els} == {"doc0.pdf"}
        assert {e["change"] for e in els} == {"added"}  # a new file's elements have new ids
        tombs = {(t["of"], t["source"], t["id"]) for t in records if t["type"] == "tombstone"}
        old_doc1 = next(d for d in full["documents"] if d["source"] == "doc1.pdf")
        want = {("document", "doc1.pdf", old_doc1["doc_id"])}
        want |= {("element", s, i) for s in ("doc0.pdf", "doc1.pdf") for i in old_ids[s]}
        assert tombs == want
        assert records[0]["since"]["documents_version"] <= records[0]["documents_version"]

    # nothing changed since the latest version: an empty export
    latest = json.loads((tmp_path / "since.jsonl").read_text().splitlines()[0])["documents_version"]
    assert export(index, tmp_path / "none.json", "--since", str(latest)) == 0
    data = json.loads((tmp_path / "none.json").read_text())
    assert data["documents"] == data["elements"] == data["tombstones"] == []
    # a date before the index existed: everything is new
    assert export(index, tmp_path / "all.json", "--since", "2000-01-01") == 0
    data = json.loads((tmp_path / "all.json").read_text())
    FILE_VALIDATOR.validate(data)
    assert {d["change"] for d in data["documents"]} == {"added"} and len(data["elements"]) == len(elements)
    # a version the index does not have
    r = cli("--config", NO_CONFIG, "export", "--db", str(index), "--out", str(tmp_path / "x.json"), "--since", "999")
    assert r.returncode == 2 and "no such version" in r.stderr and not (tmp_path / "x.json").exists()


def test_filter_exports_only_the_named_documents(samples_index: Path, tmp_path: Path) -> None:
    """The app's export button: the same JSON for the documents of the current filter."""
    pipe = Pipeline(name="t", sources=[], index=samples_index)
    summary = write_export(pipe, tmp_path / "one.json", ExportOptions(sources=["warehouse-memo.docx"]))
    data = json.loads((tmp_path / "one.json").read_text())
    FILE_VALIDATOR.validate(data)
    assert [d["source"] for d in data["documents"]] == ["warehouse-memo.docx"]
    assert data["elements"] and {e["source"] for e in data["elements"]} == {"warehouse-memo.docx"}
    assert summary.counts["elements"] == len(data["elements"])
    assert data["filter"] == {"sources": ["warehouse-memo.docx"]}
    r = cli("--config", NO_CONFIG, "export", "--db", str(samples_index), "--out", str(tmp_path / "x.json"),
            "--doc", "nope.pdf")
    assert r.returncode == 2 and "--doc nope.pdf: not in the index" in r.stderr and not (tmp_path / "x.json").exists()


def test_review_state_from_the_overlay_store(samples_index: Path, tmp_path: Path) -> None:
    """A caption edited and approved through the Review tab's engine (review/reviewer.py) is
    in the export: the corrected caption, who, when, approved; a --since export after the
    edit carries exactly that element, as "reviewed"."""
    from index.store import Store
    from review.reviewer import Reviewer
    from tests.pipeline_fixtures import FakeEmbedder

    index = tmp_path / "index"
    shutil.copytree(samples_index, index)
    _, elements = index_state(index)
    eid = next(i for i, r in elements.items() if r["kind"] == "image")
    assert export(index, tmp_path / "before.json") == 0
    version = json.loads((tmp_path / "before.json").read_text())["documents_version"]
    time.sleep(1.1)  # the edit is made after that version
    reviewer = Reviewer(pipeline_for(tmp_path / "unused", index), Store(index), FakeEmbedder())
    reviewer.edit(eid, "caption", "Revenue by region, reviewed", "rita")
    reviewer.edit(eid, "approved", True, "rita")
    assert export(index, tmp_path / "after.json") == 0
    data = json.loads((tmp_path / "after.json").read_text())
    FILE_VALIDATOR.validate(data)
    reviewed = {e["id"]: e for e in data["elements"] if e["review"]}
    assert list(reviewed) == [eid]
    review = reviewed[eid]["review"]
    assert reviewed[eid]["caption"] == "Revenue by region, reviewed"
    assert review["overlay"] == {"caption": "Revenue by region, reviewed", "caption_model": "review:rita"}
    assert (review["who"], review["approved"], review["hidden"]) == ("rita", True, False)
    assert review["when"] >= datetime.now(UTC).strftime("%Y-%m-%d")
    assert export(index, tmp_path / "since.json", "--since", str(version)) == 0
    data = json.loads((tmp_path / "since.json").read_text())
    FILE_VALIDATOR.validate(data)
    assert data["documents"] == [] and [(e["id"], e["change"]) for e in data["elements"]] == [(eid, "reviewed")]


def test_unwritable_out_exits_2_before_any_work(samples_index: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assets = sorted(p for p in (samples_index / "assets").rglob("*"))
    cases = {
        "/proc/folio-export.json": "cannot write in /proc",  # read-only even for root
        str(a_file / "sub" / "out.json"): "is not a folder",  # a parent that cannot be created
        str(tmp_path): "is a folder",  # a folder where a file is expected
    }
    for out, message in cases.items():
        before = sorted(tmp_path.rglob("*"))
        r = cli("--config", NO_CONFIG, "export", "--db", str(samples_index), "--out", out, "--images", "paths",
                "--tables-csv", str(tmp_path / "csv"))
        assert r.returncode == 2, r.stderr
        assert message in r.stderr and out in r.stderr, r.stderr
        assert sorted(tmp_path.rglob("*")) == before  # no CSV folder, no partial file
    r = cli("--config", NO_CONFIG, "export", "--db", str(samples_index), "--format", "parquet", "--out", str(a_file))
    assert r.returncode == 2 and "is a file" in r.stderr
    assert sorted(p for p in (samples_index / "assets").rglob("*")) == assets  # no crop was rendered


def test_unknown_pipeline_or_index_is_a_config_error(tmp_path: Path) -> None:
    r = cli("export", "--pipeline", "no-such-pipeline", "--out", str(tmp_path / "o.json"))
    assert r.returncode == 2 and "no pipeline named 'no-such-pipeline'" in r.stderr
    r = cli("--config", NO_CONFIG, "export", "--db", str(tmp_path / "nothing"), "--out", str(tmp_path / "o.json"))
    assert r.returncode == 2 and "no index at" in r.stderr
    r = cli("--config", NO_CONFIG, "export", "--db", str(tmp_path), "--out", str(tmp_path / "o.json"),
            "--since", "last tuesday")
    assert r.returncode == 2 and "--since 'last tuesday'" in r.stderr
    assert not (tmp_path / "o.json").exists()
