# Each target creates the virtual environment it needs, so every README command
# works alone on a fresh machine. Override PYTHON to pick another interpreter.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test lint install-serve install-dev test-tools sdk sdk-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# Serving dependencies only (no torch): what the production image installs.
$(VENV)/.serve-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

# Everything: serving + training + test tools.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[training,dev]"
	touch $@ $(VENV)/.serve-installed

install-serve: $(VENV)/.serve-installed
install-dev: $(VENV)/.dev-installed

## Start the API on the shipped default model (models/ ; see README for settings).
serve: install-serve
	$(BIN)/uvicorn service.app:create_app --factory --host $(HOST) --port $(PORT)

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
test: install-dev test-tools lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(SDK_VENV) .pytest_cache sdk/typescript/node_modules sdk/typescript/build
