"""index/embed.py: ONNX export cache, inference fidelity, batching, token counts, errors.

The default model (all-MiniLM-L6-v2) is exported into the default cache on first use
(about 15 s, once per machine); later runs load it from the cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from folio.config import EmbedSettings
from folio.errors import ConfigError
from index import onnx_cache
from index.embed import Embedder, default_model_dir, export_model, load_embedder
from index.model_folder import inspect_model_dir

REPO = Path(__file__).resolve().parents[1]
SENTENCES = [
    "The cat sits on the mat.",
    "A cat is sitting on a rug.",
    "Quarterly revenue rose five percent on strong cloud demand.",
    "Net sales increased 5% year over year, driven by cloud services.",
    "The patient was prescribed 20 mg of atorvastatin daily.",
]


@pytest.fixture(scope="session")
def fp32() -> Embedder:
    return load_embedder(EmbedSettings(precision="fp32"))


@pytest.fixture(scope="session")
def int8() -> Embedder:
    return load_embedder(EmbedSettings(precision="int8"))


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_default_model_shape_and_norm(fp32: Embedder, int8: Embedder) -> None:
    for emb in (fp32, int8):
        vecs = emb.embed(SENTENCES)
        assert vecs.dtype == np.float32
        assert vecs.shape == (len(SENTENCES), 384) and emb.dim == 384
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        q = emb.embed_query(SENTENCES[0])
        assert q.shape == (384,)
    assert fp32.max_tokens == 256
    assert emb.embed([]).shape == (0, 384)


def test_model_id_names_model_and_precision(fp32: Embedder, int8: Embedder) -> None:
    assert fp32.model_id.startswith("all-MiniLM-L6-v2:") and fp32.model_id.endswith(":fp32")
    assert int8.model_id.endswith(":int8")
    assert fp32.model_id.rsplit(":", 1)[0] == int8.model_id.rsplit(":", 1)[0]


def test_similar_sentences_are_closer(int8: Embedder) -> None:
    v = int8.embed(SENTENCES)
    sims = v @ v.T
    assert sims[0, 1] > max(sims[0, 2], sims[0, 3], sims[0, 4]) + 0.3
    assert sims[2, 3] > max(sims[2, 0], sims[2, 1], sims[2, 4]) + 0.2


def test_int8_close_to_fp32(fp32: Embedder, int8: Embedder) -> None:
    cos = _cos(fp32.embed(SENTENCES), int8.embed(SENTENCES))
    assert cos.min() >= 0.98, cos


def test_batching_keeps_order() -> None:
    # Tiny batches force several length-sorted batches; rows must come back in input order.
    emb = load_embedder(EmbedSettings(precision="fp32", batch_size=2))
    texts = [*SENTENCES, "short", "a much longer sentence " * 12, ""]
    batched = emb.embed(texts)
    single = np.stack([emb.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batched, single, atol=2e-5)


def test_batches_stay_within_the_token_budget() -> None:
    emb = load_embedder(EmbedSettings(precision="fp32", batch_size=8, batch_tokens=48))
    texts = ["a b c " * n for n in (1, 2, 3, 5, 8, 13, 21, 34)] + ["tiny"] * 20
    encodings = emb._tokenizer.encode_batch(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
    batches = list(emb._batches(order, encodings))
    assert [i for b in batches for i in b] == order  # every text once, longest first
    for b in batches:
        width = max(len(encodings[i].ids) for i in b)
        assert len(b) <= 8 and (len(b) == 1 or len(b) * width <= 48), (b, width)
    assert len(batches[0]) == 1  # 104 tokens: over the budget, alone
    assert len(batches[-1]) == 8  # the short ones fill batch_size
    np.testing.assert_allclose(emb.embed(texts), np.stack([emb.embed([t])[0] for t in texts]), atol=2e-5)


def test_truncates_at_max_tokens(fp32: Embedder) -> None:
    long = " ".join(f"word{i}" for i in range(400))
    assert fp32.count_tokens([long])[0] > fp32.max_tokens
    # Anything past the token limit cannot change the vector.
    a, b = fp32.embed([long, long + " completely different tail about volcanoes"])
    assert _cos(a, b) > 0.99999


def test_count_tokens_counts_special_tokens_without_truncation(fp32: Embedder) -> None:
    import tokenizers

    # [CLS] the cat sits on the mat . [SEP]
    assert fp32.count_tokens(["The cat sits on the mat."]) == [9]
    # The model folder's own tokenizer.json (not the export's copy) agrees on every text.
    tok = tokenizers.Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()  # the file itself pads to 128 and truncates at 128
    texts = [*SENTENCES, "", "naïve café — 1,234.5 m²", " ".join(["the"] * 600)]
    assert fp32.count_tokens(texts) == [len(e.ids) for e in tok.encode_batch(texts)]
    assert fp32.count_tokens(texts)[-1] == 602
    assert fp32.count_tokens([]) == []


@pytest.mark.slow
def test_count_tokens_matches_transformers_tokenizer(fp32: Embedder) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(default_model_dir()), local_files_only=True)
    texts = [*SENTENCES, "", "naïve café — 1,234.5 m²", " ".join(["tokens"] * 600)]
    expected = [len(ids) for ids in tok(texts, truncation=False)["input_ids"]]
    assert fp32.count_tokens(texts) == expected
    assert fp32.count_tokens([]) == []


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: d, "config.json"),
        (lambda d: (d / "config.json").write_text("{}") and d, "tokenizer"),
    ],
)
def test_bad_model_dir_is_config_error(tmp_path: Path, make, needle: str) -> None:  # type: ignore[no-untyped-def]
    folder = make(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_embedder(EmbedSettings(model_dir=folder, cache_dir=tmp_path / "cache"))
    assert str(folder) in str(err.value) and needle in str(err.value)
    assert not (tmp_path / "cache").exists()  # nothing exported for a bad folder


def test_unsupported_module_is_config_error(tmp_path: Path) -> None:
    src = default_model_dir()
    for f in src.iterdir():
        if f.is_file():
            (tmp_path / f.name).symlink_to(f)
    (tmp_path / "modules.json").unlink()
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ConfigError, match="Dense"):
        inspect_model_dir(tmp_path)


def test_folder_hash_follows_content(tmp_path: Path) -> None:
    src = default_model_dir()
    for f in src.rglob("*"):
        if f.is_file():
            (tmp_path / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f.relative_to(src)).symlink_to(f)
    same = inspect_model_dir(tmp_path)
    assert same.content_hash == inspect_model_dir(src).content_hash
    (tmp_path / "README.md").unlink()  # docs do not change the vectors
    assert inspect_model_dir(tmp_path).content_hash == same.content_hash
    cfg = tmp_path / "sentence_bert_config.json"
    cfg.unlink()
    cfg.write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    changed = inspect_model_dir(tmp_path)
    assert changed.content_hash != same.content_hash and changed.max_tokens == 128
    assert onnx_cache.entry_dir(changed, "int8", None) != onnx_cache.entry_dir(same, "int8", None)
    assert onnx_cache.entry_dir(same, "fp32", None) != onnx_cache.entry_dir(same, "int8", None)


def test_cache_hit_does_not_export(int8: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    model_file = int8.export_dir / onnx_cache.MODEL_FILE
    before = model_file.stat().st_mtime_ns

    def no_export(args: list[str], what: str) -> None:
        raise AssertionError(f"export ran on a warm cache: {what}")

    monkeypatch.setattr(onnx_cache, "_run_worker", no_export)
    again = load_embedder(EmbedSettings(precision="int8"))
    assert export_model(EmbedSettings(precision="int8")) == int8.export_dir
    assert again.export_dir == int8.export_dir and again.model_id == int8.model_id
    assert model_file.stat().st_mtime_ns == before


def test_no_torch_at_inference(int8: Embedder) -> None:
    # The fixture warmed the cache; a fresh process must embed without torch/transformers.
    code = textwrap.dedent(
        """
        import sys
        from folio.config import EmbedSettings
        from index.embed import load_embedder
        e = load_embedder(EmbedSettings(precision="int8"))
        e.embed(["hello world"]); e.count_tokens(["hello"])
        heavy = sorted(m for m in ("torch", "transformers", "optimum", "sentence_transformers")
                       if m in sys.modules)
        print("HEAVY", heavy)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


@pytest.mark.slow
def test_matches_sentence_transformers(fp32: Embedder, int8: Embedder) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(default_model_dir()), device="cpu")
    texts = [*SENTENCES, " ".join(["revenue grew"] * 300)]
    ref = st.encode(texts, convert_to_numpy=True)
    assert _cos(fp32.embed(texts), ref).min() > 0.9999
    assert _cos(int8.embed(texts), ref).min() > 0.98


# A tiny random BERT (hidden 32) shows the width follows the model and exercises a cold
# export into a private cache, including one killed halfway. Slow: each export imports torch.
_TINY = """
import sys
from pathlib import Path
from transformers import BertConfig, BertModel, BertTokenizerFast
out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + "the cat sat on a mat dog ran far away".split()
(out / "vocab.txt").write_text("\\n".join(words) + "\\n")
cfg = BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64)
BertModel(cfg).save_pretrained(out)
BertTokenizerFast(vocab_file=str(out / "vocab.txt")).save_pretrained(out)
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    subprocess.run([sys.executable, "-c", _TINY, str(folder)], check=True, capture_output=True, timeout=300)
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_cls_token": True})
    )
    return folder


@pytest.mark.slow
def test_tiny_model_dim_and_cache(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = onnx_cache._run_worker

    def counting_worker(args: list[str], what: str) -> None:
        calls.append(args[0])
        real(args, what)

    monkeypatch.setattr(onnx_cache, "_run_worker", counting_worker)
    settings = EmbedSettings(model_dir=tiny_model, precision="int8", cache_dir=tmp_path)
    emb = load_embedder(settings)
    assert calls == ["export", "quantize"]  # int8 is built from the cached fp32 export
    assert emb.dim == 32 and emb.max_tokens == 64 and emb.spec.pooling == "cls"
    assert emb.model_id.startswith("tiny-bert:") and emb.model_id.endswith(":int8")
    v = emb.embed(["the cat sat", "a dog ran far away", "the cat sat"])
    assert v.shape == (3, 32)
    np.testing.assert_allclose(v[0], v[2], atol=1e-6)
    load_embedder(settings)
    load_embedder(settings.model_copy(update={"precision": "fp32"}))
    assert calls == ["export", "quantize"]  # both precisions now come from the cache
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.slow
def test_killed_export_leaves_no_cache_entry(tiny_model: Path, tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from folio.config import EmbedSettings; from index.embed import export_model;"
        f"export_model(EmbedSettings(model_dir=Path({str(tiny_model)!r}), precision='fp32',"
        f" cache_dir=Path({str(tmp_path)!r})))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".tmp-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "export finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the caller and its export worker
    proc.wait()
    assert not [p for p in tmp_path.iterdir() if not p.name.startswith(".tmp-")]
    entry = export_model(EmbedSettings(model_dir=tiny_model, precision="fp32", cache_dir=tmp_path))
    assert onnx_cache.is_complete(entry)
    assert [p.name for p in tmp_path.iterdir()] == [entry.name]  # the dead export was cleaned up
