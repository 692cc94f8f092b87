# The two commands a newcomer types: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint bench sandbox lab clean notebook-filter

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	mkdir -p $(VENV)/etc/ipython
	echo 'c.IPKernelApp.log_level = "ERROR"' > $(VENV)/etc/ipython/ipython_kernel_config.py
	$(MAKE) --no-print-directory notebook-filter
	touch $@

# Notebooks are committed without outputs: nbstripout as this clone's git filter strips them at `git add`
# (tests/unit/test_notebooks_clean.py fails `make test` on any committed output either way).
notebook-filter:
	if git rev-parse --git-dir >/dev/null 2>&1; then $(BIN)/nbstripout --install; fi

demo: $(STAMP)
	$(BIN)/rcaudit demo

# Everything: tests/unit, tests/integration, tests/notebooks and the workbooks under nbval (pyproject testpaths).
# pytest exits 5 when it collects nothing (a moved folder, a wrong path): make fails on it like on any non-zero
# exit, and nothing here may turn it into a success.
test: $(STAMP)
	$(BIN)/ruff check --output-format concise rcaudit tests benchmarks conftest.py
	$(BIN)/mypy
	$(BIN)/python -m pytest

# the unit tests only (tests/unit: no sockets, no servers, no notebooks), in seconds
test-fast: $(STAMP)
	$(BIN)/ruff check --output-format concise rcaudit tests benchmarks conftest.py
	$(BIN)/mypy
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check --output-format concise rcaudit tests benchmarks conftest.py
	$(BIN)/mypy

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

lab: $(STAMP)
	$(BIN)/python -m rcaudit.lab

sandbox: $(STAMP)
	$(BIN)/rcaudit sandbox

clean:
	rm -rf $(VENV) build *.egg-info
