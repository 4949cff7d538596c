"""OCR with RapidOCR (PP-OCR det/cls/rec ONNX models that ship inside the ``rapidocr`` wheel).

The engine loads lazily, once per process (page workers each load their own: an ONNX
session does not survive ``fork`` reliably). Model paths point at the wheel's own files so
RapidOCR never tries its download path. onnxruntime uses every core unless
``set_threads`` says otherwise (PDF page workers run one thread each).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from folio.element import BBox

log = logging.getLogger(__name__)

_engine: Any = None
_engine_pid: int | None = None
_threads = 0  # 0: onnxruntime's default (all cores); page workers set 1
_lock = threading.Lock()

# Boxes the recognizer is less sure of than this are noise (speckles, stamps, rules).
MIN_SCORE = 0.5


@dataclass
class OcrBox:
    text: str
    bbox: BBox  # in the coordinates of the image passed in, scaled by ``scale``
    score: float


def model_files() -> dict[str, str]:
    import rapidocr

    models = Path(rapidocr.__file__).parent / "models"
    files = {
        "Det.model_path": models / "PP-OCRv6_det_small.onnx",
        "Rec.model_path": models / "PP-OCRv6_rec_small.onnx",
        "Cls.model_path": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        # Never fall through to RapidOCR's downloader: we are offline by design.
        raise RuntimeError(f"RapidOCR models missing from the rapidocr wheel: {', '.join(missing)}")
    return {k: str(v) for k, v in files.items()}


def set_threads(n: int) -> None:
    """onnxruntime threads for engines created after this call (0 = all cores).
    PDF page workers use 1: there is already one worker per core."""
    global _threads
    _threads = max(0, int(n))


def get_engine() -> Any:
    """The process's RapidOCR engine (created on first use)."""
    global _engine, _engine_pid
    with _lock:
        if _engine is None or _engine_pid != os.getpid():
            from rapidocr import RapidOCR

            params: dict[str, Any] = {
                "Global.log_level": "error",
                "EngineConfig.onnxruntime.intra_op_num_threads": _threads or -1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                **model_files(),
            }
            _engine = RapidOCR(params=params)
            _engine_pid = os.getpid()
            log.debug("RapidOCR engine loaded in pid %d", _engine_pid)
        return _engine


def ocr_image(png: bytes, scale: float = 1.0) -> list[OcrBox]:
    """Text boxes in reading order; bbox coordinates are divided by ``scale``
    (so passing the render zoom gives page coordinates)."""
    result = get_engine()(png)
    boxes = getattr(result, "boxes", None)
    txts = getattr(result, "txts", None)
    scores = getattr(result, "scores", None)
    if boxes is None or txts is None:
        return []
    out: list[OcrBox] = []
    for quad, text, score in zip(boxes, txts, scores or [1.0] * len(txts)):
        text = str(text).strip()
        if not text or float(score) < MIN_SCORE:
            continue
        xs = [float(p[0]) / scale for p in quad]
        ys = [float(p[1]) / scale for p in quad]
        out.append(OcrBox(text=text, bbox=(min(xs), min(ys), max(xs), max(ys)), score=float(score)))
    return sort_reading_order(out)


def sort_reading_order(boxes: list[OcrBox]) -> list[OcrBox]:
    """Rows top to bottom (a box joins a row when its vertical centre falls inside it),
    left to right within a row."""
    rows: list[list[OcrBox]] = []
    for b in sorted(boxes, key=lambda b: (b.bbox[1] + b.bbox[3]) / 2):
        centre = (b.bbox[1] + b.bbox[3]) / 2
        if rows:
            top = min(r.bbox[1] for r in rows[-1])
            bottom = max(r.bbox[3] for r in rows[-1])
            if top <= centre <= bottom:
                rows[-1].append(b)
                continue
        rows.append([b])
    return [b for row in rows for b in sorted(row, key=lambda b: b.bbox[0])]
