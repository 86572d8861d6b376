# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench soak lint clean chromium node

# jsforce for the Salesforce sandbox's second-client suite (tests/sandbox/test_salesforce_jsforce.py),
# pinned by its package-lock.json; needs Node.js 18+ and npm.
JSFORCE_DIR   := tests/sandbox/jsforce
JSFORCE_STAMP := $(JSFORCE_DIR)/node_modules/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Node.js and npm for the jsforce suite, from the system's packages: Debian's `nodejs` and `npm`
# (apt-get as root, else sudo). Skipped when both are there; where neither works it says how to get
# them, and the jsforce tests fail naming what is missing.
node:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	    echo "note: no Node.js/npm and no apt-get; the jsforce suite needs Node.js 18+ and npm"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	elif command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	else echo "note: no Node.js/npm; install Debian's nodejs and npm packages for the jsforce suite"; fi

# `| node`: Node.js must be there before `npm ci`, without making the stamp out of date each time.
$(JSFORCE_STAMP): $(JSFORCE_DIR)/package.json $(JSFORCE_DIR)/package-lock.json | node
	npm ci --prefix $(JSFORCE_DIR) --no-audit --no-fund --loglevel=error
	touch $@

# Chromium for the admin console's browser tests (tests/console/test_browser.py), from the
# system's packages: Debian's `chromium` (apt-get as root, else sudo). Skipped when a Chromium is
# already there (AFTERCLOSE_CHROMIUM names one elsewhere); where neither works the tests say how
# to get one, and fail under CI=true.
chromium:
	@if [ -n "$$AFTERCLOSE_CHROMIUM" ] || command -v chromium >/dev/null 2>&1 \
	    || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	    echo "note: no Chromium and no apt-get; the browser tests need one (set AFTERCLOSE_CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: no Chromium; install Debian's chromium package for the browser tests"; fi

demo: $(STAMP)
	$(BIN)/afterclose demo

test: $(STAMP) node $(JSFORCE_STAMP) chromium
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

# The benchmark's chart needs matplotlib (the `bench` extra); it takes about half an hour.
$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

$(VENV)/.lint-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $@

lint: $(VENV)/.lint-installed
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.bench-installed
	$(BIN)/python -m tests.bench

soak: $(STAMP) node $(JSFORCE_STAMP) chromium
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info $(JSFORCE_DIR)/node_modules
