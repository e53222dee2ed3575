# Quick start: `make run` (baseline scenario) and `make test` (whole suite). Both set up .venv first.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= hague-2035
SEED ?= 1
OUT ?= results/$(SCENARIO)

.PHONY: setup run test lint validate calibrate app screenshots chromium clean

setup: $(STAMP)

# Find a Python >= 3.12 (pyenv's shim reads .python-version; fall back to versioned names).
$(STAMP): pyproject.toml
	@set -e; \
	if [ ! -x $(BIN)/python ]; then \
	  for py in python3 python3.12 python3.13 python3.14 python; do \
	    if command -v $$py >/dev/null 2>&1 && $$py -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	      echo "creating $(VENV) with $$($$py --version)"; $$py -m venv $(VENV); break; \
	    fi; \
	  done; \
	  [ -x $(BIN)/python ] || { echo "error: alliance-sim needs Python >= 3.12 (none found on PATH)" >&2; exit 1; }; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/alliance run $(SCENARIO) --seed $(SEED) --out $(OUT)

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# The browser app on http://127.0.0.1:8765 (PORT=... to change it); offline, this machine only.
PORT ?= 8765
app: $(STAMP)
	$(BIN)/alliance app --port $(PORT)

# Regenerate the screenshots of the app's views in docs/app/ (the browser test takes them).
screenshots: $(STAMP) chromium
	ALLIANCE_SCREENSHOTS=docs/app $(BIN)/python -m pytest -q tests/test_app_browser.py

# Debian's Chromium for the browser test, installed with apt when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }

# Regenerate docs/validation.md and its plots (about 10 s), and refit the calibrated defaults.
validate: $(STAMP)
	$(BIN)/alliance validate --out docs/validation --report docs/validation.md

calibrate: $(STAMP)
	$(BIN)/alliance calibrate

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
