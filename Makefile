# The two entry points: `make test` (lint, types, every test level) and `make demo`.
# Both install what they need into .venv; only Python and the package index are required.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: test tools lint typecheck pytest demo bench bench-startup bench-checkout bench-import bench-reports clean

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

# The suites run in an environment as odd as a user's may be: every XDG_*, HOME, SHOPCTL_*,
# libpq (PG*), Locust (LOCUST_*) and matplotlib (MPL*) setting points somewhere unusual, and
# no test may notice (tests/conftest.py gives each test an environment of its own). The unit
# tests run first, on their own, and reach no database; the others use
# SHOPCTL_TEST_DATABASE_URL when set, else the embedded PostgreSQL, on four workers (each with
# its own template database). pytest exits 5 when it collected no test: make treats that as a
# failure.
ODD_ENV := XDG_CONFIG_HOME=/nonexistent/xdg-config XDG_DATA_HOME=/nonexistent/xdg-data \
	XDG_STATE_HOME=/nonexistent/xdg-state XDG_RUNTIME_DIR=/nonexistent/xdg-runtime \
	HOME=/nonexistent/home SHOPCTL_PROFILE=odd-profile SHOPCTL_CONFIG_DIR=/nonexistent/config \
	SHOPCTL_DATABASE_URL=postgresql://nobody@127.0.0.1:9/nowhere SHOPCTL_CURRENCY=XTS \
	SHOPCTL_ACCESS_TOKEN_TTL=1s SHOPCTL_JWT_SECRET=short \
	PGHOST=/nonexistent/pg PGDATABASE=nowhere PGUSER=nobody PGOPTIONS='-c statement_timeout=1' \
	LOCUST_HOST=http://127.0.0.9 LOCUST_USERS=1000 LOCUST_RUN_TIME=1h LOCUST_HEADLESS=false \
	LOCUST_LOCUSTFILE=/nonexistent/locustfile.py MPLBACKEND=TkAgg MPLCONFIGDIR=/nonexistent/mpl
WORKERS ?= 4

# PgBouncer, for the tests that run through a transaction pooler, and Chromium, which renders
# the HTML report: Debian's packages, installed with apt-get where this runs as root;
# elsewhere those tests are skipped and say why (under CI they fail instead).
TOOLS_MISSING = $$( (command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer) || echo pgbouncer; \
	command -v chromium >/dev/null || echo chromium)
tools:
	@missing="$(TOOLS_MISSING)"; [ -z "$$missing" ] || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "not installed: $$missing (the tests that need it will be skipped)"; fi

pytest: $(INSTALLED) tools
	env $(ODD_ENV) $(BIN)/pytest -p no:cacheprovider tests/unit
	env $(ODD_ENV) $(BIN)/pytest -p no:cacheprovider -n $(WORKERS) tests/integration tests/e2e

demo: $(INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

# Every benchmark (bench/README.md); each prints its own ratio against its reference.
bench: bench-startup bench-import bench-checkout bench-reports

bench-startup: $(INSTALLED)
	$(BIN)/python bench/startup

# simulate vs pgbench on the same checkout SQL
bench-checkout: $(INSTALLED)
	$(BIN)/python bench/checkout

# products import vs psql doing the same writes, and peak memory
bench-import: $(INSTALLED)
	$(BIN)/python bench/import

# each report over a million bulk-loaded orders, its plan, and an export's peak memory
bench-reports: $(INSTALLED)
	$(BIN)/python bench/reports

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
