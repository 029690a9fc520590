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
# checkov and terraform-compliance pin libraries (old boto3, radish) the app's venv must not
# get: each has its own virtualenv. Terraform itself must be on PATH; providers come from the
# offline mirror TF_PLUGIN_DIR when this machine has one. See docs/deploy.md.
CHECKOV_VENV := .venv-checkov
TFC_VENV := .venv-tfc
CHECKOV_VERSION ?= 3.3.30
TERRAFORM_COMPLIANCE_VERSION ?= 1.16.0
INFRA_ENVS := local dev prod
TF_INIT_FLAGS := -input=false $(if $(TF_PLUGIN_DIR),-plugin-dir=$(TF_PLUGIN_DIR))
TEST_DEPS += infra-tools
.PHONY: infra-tools terraform-check infra-init infra-fmt infra-check infra-checkov test-infra

infra-tools: terraform-check $(CHECKOV_VENV)/.installed $(TFC_VENV)/.installed

terraform-check:
	@command -v terraform >/dev/null || { echo "terraform is not on PATH: install Terraform >= 1.5"; exit 1; }

$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q 'checkov==$(CHECKOV_VERSION)'
	touch $@

$(TFC_VENV)/.installed:
	test -x $(TFC_VENV)/bin/python || $(PYTHON) -m venv $(TFC_VENV)
	$(TFC_VENV)/bin/python -m pip install -q --upgrade pip
	$(TFC_VENV)/bin/python -m pip install -q 'terraform-compliance==$(TERRAFORM_COMPLIANCE_VERSION)'
	touch $@

# Providers for every environment (once; the tests re-init only when a root module changes).
infra-init: terraform-check
	for env in $(INFRA_ENVS); do (cd infra/environments/$$env && terraform init $(TF_INIT_FLAGS)) || exit 1; done

infra-fmt: terraform-check
	terraform fmt -recursive infra

infra-checkov: infra-tools
	$(CHECKOV_VENV)/bin/checkov --config-file infra/.checkov.yaml

# The static proofs: fmt, validate, offline plans of dev/prod through terraform-compliance,
# cross-resource rules, checkov (no moto, no apply).
infra-check: install infra-tools
	$(BIN)/python -m pytest tests/infra --ignore=tests/infra/test_local_apply.py --ignore=tests/infra/test_iam_roles.py \
		--ignore=tests/infra/test_images.py

# Everything infra: the static proofs, the local apply against moto with a job end to end,
# and the container image checks.
test-infra: install infra-tools
	$(BIN)/python -m pytest tests/infra

# --- browser (Chromium for the console tests) -------------------------------------
# Debian's chromium, driven by the playwright package (never playwright's own download).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: browser test-browser console console-screenshot console-vendor

# The local stack serves the console at http://127.0.0.1:8080/ (paste the API key it prints).
console: local-up

browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

test-browser: install browser
	$(BIN)/python -m pytest tests/browser

# Re-vendor the console's SHA-256 (@noble/hashes; see its README.md there) from npm. Pinned:
# 2.x ships no esm/ folder, and the vendored README and docs/console.md name this version.
NOBLE_HASHES_VERSION := 1.8.0
VENDOR_NOBLE := services/anemonefish_services/console/static/vendor/noble-hashes
console-vendor:
	rm -rf .vendor-tmp && mkdir .vendor-tmp
	cd .vendor-tmp && npm pack --silent @noble/hashes@$(NOBLE_HASHES_VERSION) && tar xzf noble-hashes-*.tgz
	for f in sha2.js _md.js _u64.js utils.js crypto.js; do cp .vendor-tmp/package/esm/$$f $(VENDOR_NOBLE)/; done
	cp .vendor-tmp/package/LICENSE $(VENDOR_NOBLE)/LICENSE
	sed -i "s#from '@noble/hashes/crypto'#from './crypto.js'#" $(VENDOR_NOBLE)/utils.js
	sed -i '/^\/\/# sourceMappingURL=/d' $(VENDOR_NOBLE)/*.js
	rm -rf .vendor-tmp

# Refresh docs/console.png (the README's picture) from a real browser run.
console-screenshot: install browser
	ANEMONEFISH_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest tests/browser -k multipart_upload

# The Lambda images' full pin set with hashes, resolved by pip for their platform (after a
# change to docker/requirements.txt; tests/infra/test_images.py checks the two agree).
.PHONY: image-lock
image-lock: install
	$(BIN)/python docker/lock_requirements.py

# --- tests --------------------------------------------------------------------------
test: install browser $(TEST_DEPS)
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest tests/unit

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .venv-* .pytest_cache test-output
