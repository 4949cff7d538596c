"""DOCX/PPTX partitioning: Folio's python-docx/python-pptx readers vs unstructured's
partition_docx/partition_pptx, side by side in one run (time, peak RSS, element counts).

    nice python3 bench/office_partition.py [FILE ...]   (default: handbook-872p.docx,
                                                         markitdown-test.pptx)

Each engine runs in a fresh forked child, so peak RSS is that engine's alone.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
DEFAULT = [CORPUS / "handbook-872p.docx", CORPUS / "markitdown-test.pptx"]


def _folio(path: Path) -> tuple[int, int]:
    from folio.config import PartitionSettings
    from partition import partition_file

    # the readers alone: LibreOffice's page rendering is measured by bench/render.py
    els = partition_file(path, PartitionSettings(office_render="off"), Path(tempfile.mkdtemp()))
    return len(els), sum(e.kind == "table" for e in els)


def _unstructured(path: Path) -> tuple[int, int]:
    from partition.unstructured_compat import prepare_unstructured

    prepare_unstructured()
    if path.suffix == ".docx":
        from unstructured.partition.docx import partition_docx as fn
    else:
        from unstructured.partition.pptx import partition_pptx as fn
    els = fn(filename=str(path))
    return len(els), sum(e.category == "Table" for e in els)


def _child(engine: str, path: Path, q: mp.Queue) -> None:  # type: ignore[type-arg]
    fn = _folio if engine == "folio" else _unstructured
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    n, tables = fn(path)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    q.put((n, tables, seconds, peak / 1024, base / 1024))


def main() -> None:
    files = [Path(a) for a in sys.argv[1:]] or DEFAULT
    ctx = mp.get_context("fork")
    print(f"{'file':28} {'engine':13} {'elements':>8} {'tables':>6} {'seconds':>8} {'peak MB':>8}")
    for path in files:
        times = {}
        for engine in ("folio", "unstructured"):
            q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            p = ctx.Process(target=_child, args=(engine, path, q))
            p.start()
            n, tables, seconds, peak, _ = q.get()
            p.join()
            times[engine] = seconds
            print(f"{path.name[:28]:28} {engine:13} {n:8d} {tables:6d} {seconds:8.2f} {peak:8.0f}")
        print(f"{'':28} unstructured / folio time: {times['unstructured'] / times['folio']:.1f}x")


if __name__ == "__main__":
    main()
