# Each target creates the virtual environment it needs, so every README command
# works alone on a fresh machine. Override PYTHON to pick another interpreter.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test lint install-serve install-dev test-tools browser-tools screenshot clean

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

# docker-compose (Debian's package) validates docker-compose.yml in the tests; no engine needed.
test-tools:
	@command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq docker-compose >/dev/null; }

## Lint gate: ruff's rules (pyproject.toml [tool.ruff]) and its formatter, checked, not applied.
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Set up and run the whole test suite (what CI runs): the lint gate, then pytest.
test: install-dev test-tools browser-tools lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache

# Debian's chromium runs the browser tests of the web page and /docs headless (Playwright drives
# it with executable_path; never `playwright install`, which downloads its own build).
browser-tools:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## Re-take docs/images/web-page.png (the README's picture of the page) on the shipped model.
screenshot: install-dev browser-tools
	$(BIN)/python docs/images/take_web_page_screenshot.py
