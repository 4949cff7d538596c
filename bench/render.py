"""Office rendering (LibreOffice headless) on the shared corpus, in one run:

1. conversion cost per document and per page (a fresh conversion each, no cache);
2. the box check: for 50 cited elements drawn with a fixed seed from the DOCX and PPTX
   documents (half from each format), does the element's box on its rendered page hold the element's text
   (computed from the words of the rendered PDF under the box)?
3. a first plain run (partition, chunk, embed with the real embedder, commit; no
   enrichment) over the office documents with rendering off, then on, into fresh indexes.

    nice python3 bench/render.py [--sample 50] [--seed 7] [--skip-run]

Only DOCX and PPTX cost anything extra with rendering on, so part 3 runs over them alone
(the worst case); ``--full-off SECONDS`` (a first plain run over the whole corpus with
rendering off, e.g. a runs-table figure) turns the difference into the whole corpus's ratio.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
COVERED = 1.0  # share of the element's words that must lie under its box


def office_files() -> list[tuple[Path, str]]:
    from folio.filetype import sniff

    out = []
    for path in sorted(CORPUS.iterdir()):
        kind = sniff(path) if path.is_file() else None
        if kind in ("docx", "pptx"):
            out.append((path, kind))
    return out


def conversion_costs(files: list[tuple[Path, str]], work: Path) -> list[dict[str, Any]]:
    import pymupdf

    from partition.office.render import RenderError, convert, soffice

    program = soffice()
    if program is None:
        sys.exit("LibreOffice (soffice) is not installed: nothing to measure")
    rows = []
    for path, kind in files:
        out = work / "convert" / path.name / "rendered.pdf"
        t = time.perf_counter()
        try:
            convert(path, out, kind, 300, program)
        except RenderError as e:
            rows.append({"file": path.name, "error": str(e), "seconds": time.perf_counter() - t})
            continue
        seconds = time.perf_counter() - t
        with pymupdf.open(str(out)) as doc:
            pages = doc.page_count
        rows.append({"file": path.name, "pages": pages, "seconds": seconds, "per_page": seconds / max(1, pages)})
    return rows


def words_under(pdf: Path, page: int, box: tuple[float, ...], cache: dict[Any, Any]) -> list[str]:
    """Words of the rendered page whose centre lies in ``box`` (a 2 pt tolerance)."""
    import pymupdf

    from partition.office.place import tokens

    key = (pdf, page)
    if key not in cache:
        with pymupdf.open(str(pdf)) as doc:
            cache[key] = doc[page - 1].get_text("words") if 1 <= page <= doc.page_count else []
    out: list[str] = []
    for x0, y0, x1, y1, text, *_ in cache[key]:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if box[0] - 2 <= cx <= box[2] + 2 and box[1] - 2 <= cy <= box[3] + 2:
            out.extend(tokens(text))
    return out


def box_check(files: list[tuple[Path, str]], work: Path, sample: int, seed: int) -> dict[str, Any]:
    from folio.config import PartitionSettings
    from folio.errors import DocumentError
    from partition import partition_file
    from partition.office.place import tokens

    assets = work / "assets"
    pool = []
    for path, _ in files:
        try:
            els = partition_file(path, PartitionSettings(), assets)
        except DocumentError:
            continue
        # What an answer cites and a reader checks on the page by its words: text and
        # tables. Speaker notes are not on the slide, a picture's words are its alt text
        # and a chart's are its data (drawn as bars, not words).
        pool.extend(e for e in els if e.kind != "image" and e.role not in ("notes", "chart") and tokens(e.text))
    # Half from each format: the 872-page handbook alone holds most DOCX elements, and
    # a draw from the whole pool would be nearly all DOCX.
    rng = random.Random(seed)
    picked = []
    for i, fmt in enumerate((".docx", ".pptx")):
        of_fmt = [e for e in pool if e.source.endswith(fmt)]
        want = sample // 2 + (sample % 2 if i == 0 else 0)
        picked += rng.sample(of_fmt, min(want, len(of_fmt)))
    cache: dict[Any, Any] = {}
    passed, failures = 0, []
    for e in picked:
        want = tokens(e.text)
        if e.page is None or e.bbox is None:
            failures.append((e.source, e.page, e.text[:60], "no page: " + str(e.meta.get("page_note"))))
            continue
        pdf = assets / e.doc_id / "rendered.pdf"
        # An element over a page break has a box on each page (meta spans), all drawn.
        spans = e.meta.get("spans") or [[e.page, *e.bbox]]
        have: set[str] = set()
        for s in spans:
            under = words_under(pdf, int(s[0]), tuple(s[1:5]), cache)
            # a word LibreOffice broke over two lines of a narrow box is there in pieces
            have.update(under)
            have.update("".join(under[i:i + n]) for i in range(len(under)) for n in (2, 3))
        share = sum(1 for t in want if t in have) / len(want)
        if share >= COVERED:
            passed += 1
        else:
            failures.append((e.source, e.page, e.text[:60], f"{share:.0%} of its words under the box"))
    by_kind: dict[str, int] = {}
    for e in picked:
        key = e.source.rsplit(".", 1)[-1]
        by_kind[key] = by_kind.get(key, 0) + 1
    return {"pool": len(pool), "sampled": len(picked), "passed": passed, "by_format": by_kind, "failures": failures}


def plain_runs(files: list[tuple[Path, str]], work: Path) -> dict[str, float]:
    from folio.config import load_config
    from pipeline.runner import Runner, RunOptions
    from pipeline.stages import default_embedder

    src = work / "docs"
    src.mkdir(parents=True, exist_ok=True)
    for path, _ in files:
        (src / path.name).symlink_to(path)
    base = load_config(Path(__file__).resolve().parents[1] / "pipelines.toml").pipeline("corpus")
    emb = default_embedder(base)  # loaded once: both runs embed with the same model
    out = {}
    for mode in ("off", "auto"):
        source = base.sources[0].model_copy(update={"path": src, "include": ["**/*"]})
        pipe = base.model_copy(update={
            "name": f"render-{mode}", "sources": [source],
            "index": work / f"index-{mode}",
            "partition": base.partition.model_copy(update={"office_render": mode}),
        })
        runner = Runner(pipe, RunOptions(progress=False, embedder_factory=lambda _p: emb))
        t = time.perf_counter()
        report = runner.run()
        out[mode] = time.perf_counter() - t
        print(f"  run with rendering {mode:4}: {out[mode]:7.1f} s  ({report.counts['ok']} ok, "
              f"{report.counts['failed']} failed)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-run", action="store_true", help="no part 3 (the two plain runs)")
    ap.add_argument("--full-off", type=float, help="seconds of a first plain run of the whole corpus, rendering off")
    args = ap.parse_args()
    files = office_files()
    work = Path(tempfile.mkdtemp(prefix="folio-bench-render-"))
    try:
        print(f"1. conversion cost ({len(files)} DOCX/PPTX files of {CORPUS}, fresh profile each)")
        rows = conversion_costs(files, work)
        print(f"  {'file':38} {'pages':>5} {'seconds':>8} {'s/page':>7}")
        for r in rows:
            if "error" in r:
                print(f"  {r['file']:38} {'-':>5} {r['seconds']:8.2f}  {r['error'][:60]}")
            else:
                print(f"  {r['file']:38} {r['pages']:5d} {r['seconds']:8.2f} {r['per_page']:7.3f}")
        ok = [r for r in rows if "error" not in r]
        total_s, total_p = sum(r["seconds"] for r in ok), sum(r["pages"] for r in ok)
        print(f"  total: {len(ok)} documents, {total_p} pages, {total_s:.1f} s; "
              f"{total_s / max(1, len(ok)):.2f} s per document, {total_s / max(1, total_p):.3f} s per page")

        print(f"2. box check: {args.sample} cited elements, seed {args.seed}")
        check = box_check(files, work, args.sample, args.seed)
        share = check["passed"] / max(1, check["sampled"])
        print(f"  pool {check['pool']} text/table elements; sampled {check['sampled']} {check['by_format']}; "
              f"box holds the text: {check['passed']}/{check['sampled']} = {share:.0%}")
        for f in check["failures"]:
            print(f"  miss: {f[0]} p{f[1]} {f[2]!r}: {f[3]}")

        if not args.skip_run:
            print("3. first plain run over the office documents, rendering off then on (real embedder)")
            times = plain_runs(files, work)
            print(f"  ratio on/off (office documents only): {times['auto'] / times['off']:.2f}x")
            if args.full_off:
                full = (args.full_off + times["auto"] - times["off"]) / args.full_off
                print(f"  whole corpus: {args.full_off:.0f} s off + {times['auto'] - times['off']:.1f} s "
                      f"= {full:.3f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
