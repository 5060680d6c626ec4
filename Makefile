# The two commands of the README: `make serve` and `make test`. Both install what they need
# into .venv first (once; again when pyproject.toml changes).
PYTHON ?= python3.11
VENV ?= .venv
# The CPU build; on a GPU machine use e.g. TORCH_SPEC="torch==2.13.0" with the CUDA index.
TORCH_SPEC ?= torch==2.13.0
PIP = $(VENV)/bin/python -m pip

.PHONY: serve test install lint bench clean test-tools

serve: $(VENV)/.installed-serve
	$(VENV)/bin/docchat serve

test: $(VENV)/.installed-test test-tools
	$(VENV)/bin/python -m pytest

# Test tools from Debian: chromium for the browser tests (Playwright drives it and downloads
# nothing), docker-compose to validate deploy/docker-compose.yml (no container engine needed).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-tools:
	@command -v chromium >/dev/null && command -v docker-compose >/dev/null || { \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium docker-compose; }

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check ingest retrieval web workers tests
	$(VENV)/bin/mypy

install: $(VENV)/.installed-serve

# Benchmarks against the plain LangChain recipe (not part of `make test`); see the README.
bench: $(VENV)/.installed-bench
	$(VENV)/bin/python -m tests.benchmarks.retrieval_quality
	$(VENV)/bin/python -m tests.benchmarks.ingest_throughput
	$(VENV)/bin/python -m tests.benchmarks.query_latency

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

$(VENV)/.installed-serve: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.installed-serve

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-serve

clean:
	rm -rf $(VENV) data
