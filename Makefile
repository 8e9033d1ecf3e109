# Each target creates the virtual environment it needs, so every README command
# works alone on a fresh machine. Override PYTHON to pick another interpreter.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Longer than common load-balancer idle timeouts (AWS ALB: 60 s), so the balancer, not
# uvicorn, closes idle connections and never reuses one uvicorn is closing.
TIMEOUT_KEEP_ALIVE ?= 75

.PHONY: serve test lint lock install-serve install-dev test-tools sdk sdk-check browser-tools screenshot clean bentoml-peer

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# Serving dependencies only (no torch): what the production image installs.
$(VENV)/.serve-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

# On the images' platform (Linux x86_64, Python 3.11: CI's), the exact versions of
# requirements/dev.txt, compiled under the images' locks: the tests prove what the images
# ship. Elsewhere pip resolves pyproject.toml's bounds.
LOCKED := $(shell $(PYTHON) -c 'import platform, sys; print(int(sys.version_info[:2] == (3, 11) and sys.platform == "linux" and platform.machine() == "x86_64"))' 2>/dev/null)

# Everything: serving + training + test tools.
$(VENV)/.dev-installed: pyproject.toml requirements/dev.txt | $(BIN)/python
ifeq ($(LOCKED),1)
	$(BIN)/pip install --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/pip install --no-deps --no-build-isolation -e .
else
	$(BIN)/pip install -e ".[training,dev]"
endif
	touch $@ $(VENV)/.serve-installed

install-serve: $(VENV)/.serve-installed
install-dev: $(VENV)/.dev-installed

## Start the API on the shipped default model (models/ ; see README for settings).
serve: install-serve
	$(BIN)/uvicorn service.app:create_app --factory --host $(HOST) --port $(PORT) --timeout-keep-alive $(TIMEOUT_KEEP_ALIVE)

# The lock files (Linux x86_64, Python 3.11, with hashes), compiled from pyproject.toml.
# Training first; serving and the dev environment (what CI tests) are constrained by it, so
# a package has one version in both images and in CI.
# Run after changing a dependency; tests/docker/test_lock_files.py fails until you do.
# A machine that caps packages through pip's global constraints (CI's caps torch to the
# releases on its disk) gets locks within the caps, so its `make install-dev` installs them.
PIP_CONSTRAINTS := $(wildcard /etc/xdg/pip/constraints.txt)
LOCK := $(BIN)/uv pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--generate-hashes --custom-compile-command "make lock" pyproject.toml requirements/build.in \
	$(addprefix -c ,$(PIP_CONSTRAINTS))
lock: install-dev
	$(LOCK) --extra training -o requirements/train.txt
	$(LOCK) --extra cuda -c requirements/train.txt -o requirements/serve.txt
	$(LOCK) --extra training --extra dev -c requirements/train.txt -o requirements/dev.txt

# SDKs: sdk/generate.py needs the app's serving dependencies (minus ONNX Runtime: no model is
# loaded) and the pinned openapi-python-client, nothing of torch; and node >= 20.19 with npm for
# the TypeScript client. SDK_PYTHON=/path/to/python reuses an environment that has them.
SDK_VENV ?= .venv-sdk
ifdef SDK_PYTHON
SDK_DEPS :=
else
SDK_PYTHON := $(SDK_VENV)/bin/python
SDK_DEPS := $(SDK_VENV)/.installed
endif

$(SDK_VENV)/.installed: pyproject.toml sdk/generate.py
	$(PYTHON) -m venv $(SDK_VENV)
	$(PYTHON) sdk/generate.py --requirements > $(SDK_VENV)/requirements.txt
	$(SDK_VENV)/bin/pip install -q -r $(SDK_VENV)/requirements.txt
	$(SDK_VENV)/bin/pip install -q --no-deps -e .
	touch $@

## Regenerate sdk/openapi.json, sdk/python/ and sdk/typescript/src/client/ from the app (see docs/SDK.md).
sdk: $(SDK_DEPS)
	$(SDK_PYTHON) sdk/generate.py

## Fail when the committed SDKs differ from what the app's document generates (what tests/sdk checks).
sdk-check: $(SDK_DEPS)
	$(SDK_PYTHON) sdk/generate.py --check

# The BentoML peer of benchmarks/bench_peers.py, in an environment of its own: BentoML pins
# its own web stack, which would move the service's locked versions. The same ONNX Runtime,
# Pillow and numpy as requirements/dev.txt, so the peer runs the same engine.
# Then: .venv/bin/python benchmarks/bench_peers.py --bentoml-python .venv-bentoml/bin/python
BENTOML_VENV ?= .venv-bentoml
bentoml-peer:
	$(PYTHON) -m venv $(BENTOML_VENV)
	$(BENTOML_VENV)/bin/pip install -q bentoml==1.4.40 onnxruntime-gpu==1.31.1 pillow==13.0.0 numpy==2.4.6

# docker-compose (Debian's package) validates docker-compose.yml in the tests; no engine needed.
test-tools:
	@command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq docker-compose >/dev/null; }
	@# node + npm for the TypeScript SDK tests (tests/sdk; @hey-api/openapi-ts needs node >= 20.19).
	@command -v npm >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }

## Lint gate: ruff's rules (pyproject.toml [tool.ruff]) and its formatter, checked, not applied.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Set up and run the whole test suite (what CI runs): the lint gate, then pytest.
test: install-dev test-tools browser-tools lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(SDK_VENV) .pytest_cache sdk/typescript/node_modules sdk/typescript/build

# Debian's chromium runs the browser tests of the web page and /docs headless (Playwright drives
# it with executable_path; never `playwright install`, which downloads its own build).
browser-tools:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## Re-take docs/images/web-page.png (the README's picture of the page) on the shipped model.
screenshot: install-dev browser-tools
	$(BIN)/python docs/images/take_web_page_screenshot.py
