"""Document routing: profiles read from real cover pages, the question naming one of two
near-identical filings retrieves from the named one, and ``search --explain`` says why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from index.profile import DocProfile, build_profile
from index.routing import Router, router_for
from index.search import search
from index.store import Store
from tests.pipeline_fixtures import REPO, Counters, FakeEmbedder, make_pdf, pipeline_for, run

STATEMENT = (
    "Results of operations. Net sales increased 5 percent to 1,200 million dollars in fiscal 2022, "
    "driven by higher volumes in every region. Gross profit was 480 million dollars and the "
    "effective tax rate was 21 percent."
)


def _cover(name: str, form: str = "10-K", year: int = 2022) -> str:
    return (
        "UNITED STATES SECURITIES AND EXCHANGE COMMISSION\n"
        f"FORM {form}\nANNUAL REPORT for the fiscal year ended December 31, {year}\n"
        f"{name}\n(Exact name of registrant as specified in its charter)\n"
    )


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two filings that differ only in their cover page, under names that say nothing."""
    root = tmp_path_factory.mktemp("twins")
    src = root / "src"
    make_pdf(src / "filing-a.pdf", [_cover("ACME CORPORATION"), STATEMENT])
    make_pdf(src / "filing-b.pdf", [_cover("Globex Inc."), STATEMENT])
    index = root / "index"
    run(pipeline_for(src, index), Counters())
    return index


def test_profiles_are_read_from_the_cover_page(twins: Path) -> None:
    profiles = {p["source"]: DocProfile.from_dict(p) for p in Store(twins).profiles()}
    assert set(profiles) == {"filing-a.pdf", "filing-b.pdf"}
    acme = profiles["filing-a.pdf"]
    assert acme.names[0] == "ACME CORPORATION"
    assert (acme.form, acme.years) == ("10-K", (2022,))
    assert "fiscal year ended December 31, 2022" in acme.period
    assert profiles["filing-b.pdf"].names[0] == "Globex Inc"


@pytest.mark.parametrize(("question", "named"), [
    ("What were Globex's net sales in fiscal 2022?", "filing-b.pdf"),
    ("What were ACME's net sales in fiscal 2022?", "filing-a.pdf"),
])
def test_the_named_filing_is_retrieved_first(twins: Path, question: str, named: str) -> None:
    store, emb = Store(twins), FakeEmbedder()
    routes = router_for(store).route(question)
    assert [r.source for r in routes] == [named]
    hits = search(store, emb, question, k=4)
    statements = [h for h in hits if "Net sales increased" in h.text]
    # Both filings hold the same statement; only the name in the question tells them apart.
    assert statements and statements[0].source == named


def test_a_question_naming_no_document_is_not_routed(twins: Path) -> None:
    store = Store(twins)
    assert router_for(store).route("What were net sales in fiscal 2022?") == []
    hits = search(store, FakeEmbedder(), "What were net sales in fiscal 2022?", k=4)
    assert {h.source for h in hits} == {"filing-a.pdf", "filing-b.pdf"}  # routing filters nothing


def test_routing_is_a_prior_not_a_filter(twins: Path) -> None:
    store = Store(twins)
    hits = search(store, FakeEmbedder(), "Globex net sales gross profit effective tax rate", k=6)
    assert hits[0].source == "filing-b.pdf"
    assert "filing-a.pdf" in {h.source for h in hits}


def test_form_and_year_rank_filings_of_one_issuer() -> None:
    router = Router([
        DocProfile(source="amcor-10k.pdf", names=("Amcor plc",), form="10-K", years=(2023,)),
        DocProfile(source="amcor-q4.pdf", names=("Amcor",), form="earnings release", years=(2023,)),
        DocProfile(source="us-012.pdf", file_names=("us",)),
    ])
    routes = router.route("In Amcor's fiscal 2023 earnings release, what was adjusted EBIT?")
    assert [r.source for r in routes] == ["amcor-q4.pdf", "amcor-10k.pdf"]
    assert routes[0].weight == 1.0 and routes[1].weight < 1.0
    assert "form earnings release" in routes[0].reasons
    # a two-letter file name ("us") would match half the questions: it names nothing
    assert router.route("Did the US segment grow?") == []


def test_search_explain_shows_the_routing(twins: Path, tmp_path: Path) -> None:
    """The real command on an index built by the real run (ONNX MiniLM), as a user runs it."""
    config = tmp_path / "pipelines.toml"
    config.write_text(
        f'[pipelines.t]\nsources = [{{ path = "{twins.parent / "src"}" }}]\nindex = "{tmp_path / "index"}"\n'
    )

    def cli(*args: str) -> str:
        proc = subprocess.run([sys.executable, str(REPO / "ingest.py"), "--config", str(config), *args],
                              capture_output=True, text=True, cwd=REPO, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    cli("run", "--pipeline", "t")
    out = cli("search", "--pipeline", "t", "--explain", "What was Globex's effective tax rate in FY2022?")
    assert "1.00  filing-b.pdf  [Globex Inc · 10-K · 2022]  names 'globex'; form" not in out  # no form named
    assert "1.00  filing-b.pdf  [Globex Inc · 10-K · 2022]  names 'globex'; year 2022" in out
    assert "statements: income statement" in out
    first_hit = out.split("hits (rank", 1)[1].splitlines()[1]
    assert "filing-b.pdf" in first_hit
    data = json.loads(cli("search", "--pipeline", "t", "--explain", "--json", "Globex effective tax rate"))
    assert [r["source"] for r in data["routing"]] == ["filing-b.pdf"]
    assert data["hits"][0]["source"] == "filing-b.pdf"
    out = cli("search", "--pipeline", "t", "--explain", "What was the effective tax rate?")
    assert "none (the question names no document)" in out


def _els(*items: tuple[str, str], source: str = "x.pdf") -> list:  # type: ignore[type-arg]
    from folio.element import Element

    return [Element(id=str(i), doc_id="d", source=source, doc_sha256="0" * 64, kind="text", text=t, role=r,
                    page=1, order=i) for i, (r, t) in enumerate(items)]


def test_cover_pages_without_the_registrant_line_still_name_the_issuer() -> None:
    # a 10-K cover that puts the name under the file number (3M's does)
    p = build_profile(_els(("title", "UNITED STATES SECURITIES AND EXCHANGE COMMISSION"), ("heading", "FORM 10-K"),
                           ("paragraph", "For the fiscal year ended December 31, 2022"),
                           ("paragraph", "Commission file number 1-3285"), ("heading", "3M COMPANY"),
                           ("paragraph", "State of Incorporation: Delaware")))
    assert p is not None and p.names == ("3M COMPANY",) and p.form == "10-K" and p.years == (2022,)
    assert Router([p]).route("What was 3M's gross margin in FY2022?")[0].weight == 1.0
