"""Retrieval eval scoring, walk globs, plan decisions, report summary (pure logic, fast)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from commands.eval import Question, first_rank, load_questions, run_eval
from folio.config import Source
from folio.errors import ConfigError
from pipeline.plan import changed_parts, make_plan
from pipeline.report import DocResult, RunReport
from pipeline.snapshot import DocState
from pipeline.walk import walk_sources


@dataclass
class FakeHit:
    source: str
    pages: tuple[int, ...]


def test_first_rank_needs_document_and_page() -> None:
    q = Question("q", "a.pdf", "?", (3,), "table")
    hits = [FakeHit("b.pdf", (3,)), FakeHit("a.pdf", (2,)), FakeHit("sub/a.pdf", (3, 4))]
    assert first_rank(hits, q) == 3  # type: ignore[arg-type]
    docx_q = Question("d", "a.docx", "?", (), "text")
    assert first_rank([FakeHit("x.pdf", (1,)), FakeHit("a.docx", ())], docx_q) == 2  # type: ignore[arg-type]
    assert first_rank([FakeHit("a.pdf", (1,))], q) is None  # type: ignore[arg-type]
    # a page-less chunk (DOCX) of the right document counts even when the question names a page
    paged_docx_q = Question("e", "a.docx", "?", (1,), "table")
    assert first_rank([FakeHit("a.docx", ())], paged_docx_q) == 1  # type: ignore[arg-type]


def test_recall_mrr_and_by_type(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "1", "doc": "a.pdf", "question": "one", "evidence_page": 1, "evidence_type": "table"},
        {"id": "2", "doc": "a.pdf", "question": "two", "evidence_page": 2, "evidence_type": "table"},
        {"id": "3", "doc": "b.docx", "question": "three", "evidence_page": None, "evidence_type": "text"},
        {"id": "4", "doc": "b.docx", "question": "four", "evidence_type": "text"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    questions = load_questions(path)
    assert questions[2].pages == () and questions[3].pages == ()
    # ranks: q1 -> 1, q2 -> 4, q3 -> 2, q4 -> miss
    ranked = {
        "one": [FakeHit("a.pdf", (1,))],
        "two": [FakeHit("a.pdf", (1,))] * 3 + [FakeHit("a.pdf", (2,))],
        "three": [FakeHit("a.pdf", (1,)), FakeHit("b.docx", ())],
        "four": [FakeHit("a.pdf", (2,))],
    }
    result = run_eval(questions, lambda q: ranked[q.question], k=5)  # type: ignore[arg-type,return-value]
    assert [q["rank"] for q in result["questions"]] == [1, 4, 2, None]
    assert result["recall@1"] == 0.25 and result["recall@3"] == 0.5 and result["recall@5"] == 0.75
    assert result["mrr"] == pytest.approx((1 + 0.25 + 0.5) / 4, abs=1e-4)
    assert result["by_type"]["table"] == {"n": 2, "recall@1": 0.5, "recall@3": 0.5, "recall@5": 1.0,
                                          "recall@10": 1.0, "mrr": 0.625}
    assert result["by_type"]["text"]["recall@5"] == 0.5


def test_bad_questions_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "no doc"}\n')
    with pytest.raises(ConfigError, match=r"q.jsonl:1"):
        load_questions(path)


def test_walk_include_exclude(tmp_path: Path) -> None:
    for rel in ("a.pdf", "sub/b.docx", "sub/.hidden.pdf", "notes.md", "sub/deep/c.pdf"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    files = walk_sources([Source(path=tmp_path, exclude=["**/*.md", "**/.*"])])
    assert sorted(files) == ["a.pdf", "sub/b.docx", "sub/deep/c.pdf"]
    only_pdf = walk_sources([Source(path=tmp_path, include=["**/*.pdf"], exclude=["**/.*"])])
    assert sorted(only_pdf) == ["a.pdf", "sub/deep/c.pdf"]


def test_plan_uses_stat_fast_path_and_hash(tmp_path: Path) -> None:
    for name in ("same.pdf", "touched.pdf", "edited.pdf", "new.pdf", "broken.pdf"):
        (tmp_path / name).write_text(name)
    files = walk_sources([Source(path=tmp_path)])
    fp = "p=1;c=2;e=3"

    def state(name: str, **kw: object) -> DocState:
        e = files[name]
        return DocState(name, str(e.path), sha256=f"sha-{name}", size=e.size, mtime=e.mtime, fingerprint=fp,
                        embed_model="m", **kw)  # type: ignore[arg-type]

    docs = {
        "same.pdf": state("same.pdf"),
        "touched.pdf": DocState("touched.pdf", sha256="sha-touched.pdf", size=1, fingerprint=fp, embed_model="m"),
        "edited.pdf": DocState("edited.pdf", sha256="old", size=1, fingerprint=fp, embed_model="m"),
        "broken.pdf": state("broken.pdf", status="error", error="bad"),
        "gone.pdf": DocState("gone.pdf", fingerprint=fp),
    }
    hashed: list[str] = []

    def hasher(p: Path) -> str:
        hashed.append(p.name)
        return f"sha-{p.name}"

    plan = make_plan(files, docs, fp, hasher, stored_model="m")
    assert sorted(hashed) == ["edited.pdf", "touched.pdf"]  # stat-equal files are never read
    assert [(t.entry.source, t.reason) for t in plan.tasks] == [("edited.pdf", "changed"), ("new.pdf", "new")]
    assert plan.unchanged == ["same.pdf", "touched.pdf"] and plan.failed_known == ["broken.pdf"]
    assert plan.deleted == ["gone.pdf"] and [d.source for d in plan.touched] == ["touched.pdf"]

    other = make_plan(files, docs, "p=1;c=9;e=3", hasher)
    reasons = {t.entry.source: (t.reason, t.reuse_elements) for t in other.tasks}
    assert reasons["same.pdf"] == ("fingerprint", True)  # only chunking changed: re-chunk stored elements
    assert reasons["broken.pdf"] == ("fingerprint", False)  # the broken file is retried too
    assert reasons["edited.pdf"] == ("changed", False)
    repartition = make_plan(files, docs, "p=9;c=2;e=3", hasher)
    assert not any(t.reuse_elements for t in repartition.tasks)
    assert changed_parts(fp, "p=1;c=9;e=3") == ["chunk"]

    # A document whose enrichment was cut short waits behind new and changed ones, though
    # its name sorts first: under a budget, everything gets indexed before the backlog.
    files = {"aaa-partial.pdf": dataclasses.replace(files["same.pdf"], source="aaa-partial.pdf"), **files}
    docs["aaa-partial.pdf"] = dataclasses.replace(docs["same.pdf"], source="aaa-partial.pdf", status="partial")
    backlog = make_plan(files, docs, fp, hasher, stored_model="m")
    assert [t.reason for t in backlog.tasks] == ["changed", "new", "enrich"]


def test_summary_line_lists_failures() -> None:
    r = RunReport("r1", "nightly", "/idx")
    r.counts.update(seen=4, new=3, ok=2, failed=1, unchanged=1)
    r.add(DocResult("bad.pdf", "error", error="cannot read PDF"))
    r.finish()
    lines = r.summary_lines(Path("/idx/reports/r1.json"))
    assert r.status == "partial"
    assert lines[0].startswith("folio run nightly: 2 ok, 1 failed, 1 unchanged, 0 deleted in ")
    assert lines[0].endswith("(report: /idx/reports/r1.json)")
    assert lines[1:] == ["  failed: bad.pdf: cannot read PDF"]
