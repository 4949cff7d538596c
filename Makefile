# Folio: the two commands of the quick start are `make demo` and `make test`.
# Everything installs into the current Python 3.11 (a venv if you activate one first).
PY ?= python3
PIP := $(PY) -m pip
# torch stays at the CPU wheel 2.13.0; any other spec pulls several GB of CUDA wheels.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

STAMP := .folio/.installed

.PHONY: install demo test lint unit samples clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/install.sh
	PY=$(PY) bash scripts/install.sh
	@mkdir -p $(dir $@) && touch $@

# Main job on the bundled sample set: install, prepare models, ingest, print the summary.
demo: install
	$(PY) ingest.py models prepare --pipeline default --install
	$(PY) ingest.py run --pipeline default

# The test command (CI runs exactly this): lint, types, tests.
test: install lint unit

lint:
	$(PY) -m ruff check .
	$(PY) -m mypy

unit:
	$(PY) -m pytest -q

samples:
	$(PY) samples/make_samples.py

clean:
	rm -rf .folio
