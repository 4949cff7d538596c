"""Generator of a tiny *random* LLaVA-1.5-style pair: a llama GGUF + a CLIP mmproj GGUF.

No vision model ships anywhere reachable, so tests build one: the files go through the
real loading code (llama-cpp-python's Llava15ChatHandler -> libmtmd -> clip.cpp), but
the weights are random, so what the model "says" is meaningless words. Tests may only
assert that it loads, runs and returns a string, never what the string means.

Sizes are tiny (a few hundred KB) so building and loading take well under a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Text model dimensions. ``n_embd`` is what the projector must output.
N_EMBD = 64
N_HEAD = 4
N_LAYER = 2
N_FF = 128
N_CTX = 4096

# Vision tower dimensions (CLIP ViT, LLaVA 1.5 MLP projector "mlp": mm.0 -> GELU -> mm.2).
IMAGE_SIZE = 32
PATCH = 8
V_EMBD = 32
V_HEAD = 2
V_FF = 64
V_LAYER = 2
PROJ_HIDDEN = 64

_WORDS = ["the", "a", "chart", "table", "figure", "of", "and", "sales", "image", "shows", "blue", "red"]


def _tokens() -> tuple[list[str], list[float], list[int]]:
    """SentencePiece-style vocab: specials, all 256 byte tokens (so any text encodes
    through byte fallback), then a few whole words so decoding yields word-like text."""
    from gguf import TokenType

    toks = ["<unk>", "<s>", "</s>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    for b in range(256):
        toks.append(f"<0x{b:02X}>")
        types.append(TokenType.BYTE)
    for w in _WORDS:
        toks.append("\u2581" + w)
        types.append(TokenType.NORMAL)
    scores = [0.0] * 3 + [-1000.0] * 256 + [-float(i) for i in range(len(_WORDS))]
    return toks, scores, [int(t) for t in types]


def _rand(rng: np.random.Generator, *shape: int, scale: float = 0.02) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def write_tiny_llama(path: Path, seed: int = 0, n_embd: int = N_EMBD) -> Path:
    """A 2-layer llama with a byte-fallback SPM tokenizer in its metadata."""
    import gguf

    rng = np.random.default_rng(seed)
    toks, scores, types = _tokens()
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("folio-tiny-random-llama")
    w.add_context_length(N_CTX)
    w.add_embedding_length(n_embd)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // N_HEAD)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    n_vocab = len(toks)
    w.add_tensor("token_embd.weight", _rand(rng, n_vocab, n_embd))
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(n_embd, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(p + name + ".weight", _rand(rng, n_embd, n_embd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(n_embd, np.float32))
        w.add_tensor(p + "ffn_gate.weight", _rand(rng, N_FF, n_embd))
        w.add_tensor(p + "ffn_up.weight", _rand(rng, N_FF, n_embd))
        w.add_tensor(p + "ffn_down.weight", _rand(rng, n_embd, N_FF))
    w.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    w.add_tensor("output.weight", _rand(rng, n_vocab, n_embd, scale=1.0))
    _finish(w)
    return path


def write_tiny_mmproj(path: Path, seed: int = 1, out_embd: int = N_EMBD) -> Path:
    """A CLIP vision tower + LLaVA MLP projector whose output width is ``out_embd``
    (pass something other than the text model's n_embd to build a mismatched pair)."""
    import gguf

    rng = np.random.default_rng(seed)
    n_patches = (IMAGE_SIZE // PATCH) ** 2
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_name("folio-tiny-random-mmproj")
    w.add_bool("clip.has_text_encoder", False)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", "mlp")
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    w.add_uint32("clip.vision.patch_size", PATCH)
    w.add_uint32("clip.vision.embedding_length", V_EMBD)
    w.add_uint32("clip.vision.feed_forward_length", V_FF)
    w.add_uint32("clip.vision.projection_dim", out_embd)
    w.add_uint32("clip.vision.block_count", V_LAYER)
    w.add_uint32("clip.vision.attention.head_count", V_HEAD)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_array("clip.vision.image_mean", [0.48145466, 0.4578275, 0.40821073])
    w.add_array("clip.vision.image_std", [0.26862954, 0.26130258, 0.27577711])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tensor("v.patch_embd.weight", _rand(rng, V_EMBD, 3, PATCH, PATCH))
    w.add_tensor("v.class_embd", _rand(rng, V_EMBD))
    w.add_tensor("v.position_embd.weight", _rand(rng, n_patches + 1, V_EMBD))
    w.add_tensor("v.pre_ln.weight", np.ones(V_EMBD, np.float32))
    w.add_tensor("v.pre_ln.bias", np.zeros(V_EMBD, np.float32))
    for i in range(V_LAYER):
        p = f"v.blk.{i}."
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.add_tensor(p + name + ".weight", _rand(rng, V_EMBD, V_EMBD))
            w.add_tensor(p + name + ".bias", np.zeros(V_EMBD, np.float32))
        for name in ("ln1", "ln2"):
            w.add_tensor(p + name + ".weight", np.ones(V_EMBD, np.float32))
            w.add_tensor(p + name + ".bias", np.zeros(V_EMBD, np.float32))
        w.add_tensor(p + "ffn_up.weight", _rand(rng, V_FF, V_EMBD))
        w.add_tensor(p + "ffn_up.bias", np.zeros(V_FF, np.float32))
        w.add_tensor(p + "ffn_down.weight", _rand(rng, V_EMBD, V_FF))
        w.add_tensor(p + "ffn_down.bias", np.zeros(V_EMBD, np.float32))
    w.add_tensor("mm.0.weight", _rand(rng, PROJ_HIDDEN, V_EMBD))
    w.add_tensor("mm.0.bias", np.zeros(PROJ_HIDDEN, np.float32))
    w.add_tensor("mm.2.weight", _rand(rng, out_embd, PROJ_HIDDEN))
    w.add_tensor("mm.2.bias", np.zeros(out_embd, np.float32))
    _finish(w)
    return path


def _finish(w: object) -> None:
    w.write_header_to_file()  # type: ignore[attr-defined]
    w.write_kv_data_to_file()  # type: ignore[attr-defined]
    w.write_tensors_to_file()  # type: ignore[attr-defined]
    w.close()  # type: ignore[attr-defined]


def write_tiny_llava(folder: Path, mismatched: bool = False) -> tuple[Path, Path]:
    """(model.gguf, mmproj.gguf) in ``folder``; ``mismatched`` makes the projector
    output 48 wide for a 64-wide model."""
    folder.mkdir(parents=True, exist_ok=True)
    model = write_tiny_llama(folder / "tiny-llava-model.gguf")
    mmproj = write_tiny_mmproj(
        folder / ("tiny-llava-mmproj-bad.gguf" if mismatched else "tiny-llava-mmproj.gguf"),
        out_embd=48 if mismatched else N_EMBD,
    )
    return model, mmproj
