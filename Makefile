# The README's commands. `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3.11
VENV   ?= .venv
PIP    := $(VENV)/bin/python -m pip --disable-pip-version-check
STAMP  := $(VENV)/.installed-$(shell sha256sum requirements-bootstrap.txt requirements-dev.lock pyproject.toml devkit/pyproject.toml | sha256sum | cut -c1-12)

.PHONY: venv demo test airflow lint format lock bench clean

venv: $(STAMP)

# The interpreter's own pip installs only the pinned, hashed installer; that installer installs the locks.
$(STAMP): requirements-bootstrap.txt requirements-dev.lock pyproject.toml devkit/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps --only-binary :all: -r requirements-bootstrap.txt
	$(PIP) install --quiet --require-hashes -r requirements-dev.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e . -e devkit
	rm -f $(VENV)/.installed-* && touch $@

demo: venv          ## one night (2026-11-24) of the demo tenant through Airflow into the emulator
	bash scripts/demo.sh

test: venv          ## the whole suite, SQLite and PostgreSQL staging
	bash scripts/test.sh

airflow: venv       ## Airflow standalone on 127.0.0.1:8080 with the demo setup, for the UI
	bash scripts/airflow.sh

lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

lock: venv          ## re-resolve requirements.in (runtime) and requirements-dev.in into hashed locks, extras pinned
	$(PIP) install --quiet uv==0.13.9
	$(VENV)/bin/uv pip compile requirements.in -p 3.11 --generate-hashes -o requirements.txt
	$(VENV)/bin/uv pip compile requirements-dev.in -p 3.11 --generate-hashes -o requirements-dev.lock
	$(VENV)/bin/python -m bookspot_devkit locks pin requirements.txt=requirements.in requirements-dev.lock=requirements-dev.in

bench: venv
	bash -c 'source scripts/env.sh && $$PY bench/nightly_scale.py --tenants 10 && $$PY bench/validation_batch.py && $$PY bench/emulator_writes.py && $$PY bench/fault_campaign.py --runs 100 && $$PY bench/operator_campaign.py --runs 50 && $$PY bench/hostile_feed.py && $$PY bench/prepayments.py && $$PY bench/staging_throughput.py'

clean:
	rm -rf .data .pytest_cache
