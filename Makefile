# The two entry points: `make test` (lint, types, every test level) and `make demo`.
# Both install what they need into .venv; only Python and the package index are required.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: test lint typecheck pytest demo bench bench-startup bench-checkout bench-import clean

test: lint typecheck pytest

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(INSTALLED)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy's files (pyproject): shopctl and tests. The benchmarks are scripts without a .py
# suffix, each its own __main__: one run each.
typecheck: $(INSTALLED)
	$(BIN)/mypy
	for script in bench/startup bench/import bench/checkout; do $(BIN)/mypy $$script || exit 1; done

# Uses SHOPCTL_TEST_DATABASE_URL when set, else starts the embedded PostgreSQL.
# pytest exits 5 when it collected no test: make treats that as a failure.
pytest: $(INSTALLED)
	$(BIN)/pytest tests/unit tests/integration tests/e2e

demo: $(INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

# Every benchmark of SPEC §10; each prints its own ratio against its reference.
bench: bench-startup bench-import bench-checkout

bench-startup: $(INSTALLED)
	$(BIN)/python bench/startup

# simulate vs pgbench on the same checkout SQL (SPEC §10); see README "Checkout benchmark"
bench-checkout: $(INSTALLED)
	$(BIN)/python bench/checkout

# products import vs psql \copy + INSERT … ON CONFLICT, and peak memory (SPEC §10); README "Catalog"
bench-import: $(INSTALLED)
	$(BIN)/python bench/import

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
