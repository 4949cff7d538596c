"""ONNX export worker, run as ``python -m index.onnx_export`` by index/onnx_cache.py.

It lives in its own process because optimum imports torch and transformers, which the
embedding process must never load (memory, start-up time, and the no-torch promise).
It writes only into the folder it is given; the caller renames that folder into the cache.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

log = logging.getLogger(__name__)
# Worker log lines carry this prefix; the caller re-logs them (the rest of stderr is noise).
LOG_PREFIX = "folio-export:"
# Files inference needs besides the graph (tokenizer.json is written by the export even
# when the source folder only had vocab.txt).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")


def export_fp32(model_dir: Path, out: Path) -> None:
    from optimum.exporters.onnx import main_export

    # library_name="transformers": export the bare encoder (last_hidden_state); pooling and
    # normalization are done in numpy from the folder's own sentence-transformers config.
    main_export(
        str(model_dir),
        output=out,
        task="feature-extraction",
        library_name="transformers",
        local_files_only=True,
        device="cpu",
    )


def _fuse(fp32_dir: Path, work: Path) -> Path:
    """fp32 graph with attention / LayerNorm / GELU fused, or the plain graph if unsupported."""
    from optimum.onnxruntime import ORTOptimizer
    from optimum.onnxruntime.configuration import OptimizationConfig

    try:
        optimizer = ORTOptimizer.from_pretrained(fp32_dir, file_names=["model.onnx"])
        # SkipLayerNormalization stays unfused: onnxruntime's CPU kernel for it runs at a
        # fifth of the speed of Add + LayerNormalization (bench: 0.2 vs 1.0 ms on 1024x384)
        # and took a quarter of the int8 graph's time. The session keeps it unfused too
        # (index/embed.py disables SkipLayerNormFusion).
        config = OptimizationConfig(
            optimization_level=2,
            optimize_for_gpu=False,
            disable_skip_layer_norm_fusion=True,
            disable_bias_skip_layer_norm_fusion=True,
        )
        optimizer.optimize(config, save_dir=work, file_suffix=None)
    except Exception as e:  # model types ORT has no fusion rules for still quantize, just slower
        log.warning("graph fusion skipped (%s); quantizing the plain graph, slower", e)
        return fp32_dir / "model.onnx"
    return work / "model.onnx"


def quantize_int8(fp32_dir: Path, out: Path, variant: str) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Fusing first makes the quantized graph use QAttention (measured on MiniLM, 2 cores:
    # 2.96x fp32 vs 2.40x unfused). Only weight MatMuls are quantized, per channel:
    # optimum's AutoQuantizationConfig also quantizes the activation x activation MatMuls
    # inside attention and drops the worst-case cosine to fp32 to 0.90 (0.986 this way).
    fused_dir = out / "_fused"
    source = _fuse(fp32_dir, fused_dir)
    out.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(
        source,
        out / "model.onnx",
        per_channel=True,
        weight_type=QuantType.QInt8,
        # Weight MatMuls and attention's projections; the embedding lookup stays float
        # (quantizing it gains nothing measurable and costs fidelity).
        op_types_to_quantize=["MatMul", "Attention"],
        # Without VNNI the u8*s8 multiply-add can saturate; a reduced range avoids that.
        reduce_range=variant == "avx2",
        # Fused ops (com.microsoft domain) defeat shape inference; their outputs are float.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    shutil.rmtree(fused_dir, ignore_errors=True)
    for name in TOKENIZER_FILES:
        if (fp32_dir / name).is_file():
            shutil.copy2(fp32_dir / name, out / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.onnx_export")
    sub = parser.add_subparsers(dest="step", required=True)
    exp = sub.add_parser("export", help="Hugging Face folder -> fp32 ONNX folder")
    exp.add_argument("model_dir", type=Path)
    exp.add_argument("out", type=Path)
    qua = sub.add_parser("quantize", help="fp32 ONNX folder -> dynamic int8 ONNX folder")
    qua.add_argument("fp32_dir", type=Path)
    qua.add_argument("out", type=Path)
    qua.add_argument("--variant", choices=["vnni", "avx2", "arm64"], required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"{LOG_PREFIX} %(message)s", stream=sys.stderr)

    from folio.offline import enforce_offline

    enforce_offline()  # before optimum pulls in transformers / huggingface_hub
    if args.step == "export":
        export_fp32(args.model_dir, args.out)
    else:
        quantize_int8(args.fp32_dir, args.out, args.variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
