# Two commands for a newcomer: `make demo` (the main job on the embedded local stack)
# and `make test` (everything CI checks). Each installs what it needs by itself.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Offline mirror of the hashicorp/aws provider shipped in the machine image (if present).
TF_PLUGIN_DIR ?= $(shell find / -maxdepth 2 -name tf-plugins -type d 2>/dev/null | head -n 1)
export CHECKPOINT_DISABLE := 1
export TF_PLUGIN_DIR
# numpy's BLAS threads would otherwise steal the two cores from the inference runtime.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo test test-unit test-integration bench clean

help:
	@echo "make demo   - run the whole async pipeline on the embedded local stack"
	@echo "make test   - run every test (unit, integration, infra, browser)"
	@echo "make bench  - speed, memory and quality benchmarks -> benchmarks/results.json"

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# --- pipeline (local stack demo) -------------------------------------------------
.PHONY: local-up test-pipeline bench-pipeline
demo: install
	$(BIN)/anemonefish demo

# The local stack in the foreground (API on :8080, Ctrl-C stops it); see docs/local-stack.md.
local-up: install
	$(BIN)/anemonefish local up

test-integration: install
	$(BIN)/python -m pytest tests/integration

# The services' tests only: unit tests of API/worker/settings, then the local-stack ones.
test-pipeline: install
	$(BIN)/python -m pytest tests/unit/test_api_auth.py tests/unit/test_api_handler.py \
		tests/unit/test_settings.py tests/unit/test_worker_events.py \
		tests/unit/test_worker_handler.py tests/unit/test_worker_jobs_repository.py tests/integration

bench-pipeline: install
	$(BIN)/python -m benchmarks.run pipeline

# --- infra (terraform, terraform-compliance, checkov) -----------------------------
# (owned by the infra work: targets that install tools and run the proofs)

# --- browser (Chromium for the console tests) -------------------------------------
# Debian's chromium, driven by the playwright package (never playwright's own download).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: browser test-browser console console-screenshot

# The local stack with the console at http://127.0.0.1:8080/ (paste the API key it prints).
console: install
	$(BIN)/anemonefish local up

browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

test-browser: install browser
	$(BIN)/python -m pytest tests/browser

# Refresh docs/console.png (the README's picture) from a real browser run.
console-screenshot: install browser
	ANEMONEFISH_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest tests/browser -k multipart_upload

# --- tests --------------------------------------------------------------------------
test: install browser
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .venv-* .pytest_cache test-output
