# The two commands of the README: `make serve` and `make test`. Both install what they need
# into .venv first (once; again when pyproject.toml changes).
PYTHON ?= python3.11
VENV ?= .venv
# The CPU build; on a GPU machine use e.g. TORCH_SPEC="torch==2.13.0" with the CUDA index.
TORCH_SPEC ?= torch==2.13.0
PIP = $(VENV)/bin/python -m pip
# llama-cpp-python compiles llama.cpp here, by default with -march=native. Not so: a virtual
# machine may report AMX in cpuid without enabling it, and llama.cpp's AMX kernels then die
# with SIGILL ("invalid opcode" in libggml-cpu.so) on the first prompt. AVX2 and FMA, plus
# AVX-512 where the CPU has it; built once per venv, without pip's wheel cache, which may hold
# a native build.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
  -DGGML_F16C=ON -DGGML_BMI2=ON \
  $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo -DGGML_AVX512=ON)
LLAMA_SPEC = $(shell sed -n 's/^ *"\(llama-cpp-python[^"]*\)".*/\1/p' pyproject.toml)

# Front-end files from the npm registry (package.json): pdf.js, which docchat serves itself for
# the passage view, and axe-core, which the browser tests inject. Without npm the passage view
# falls back to the browser's PDF viewer, and the accessibility tests fail saying to run npm ci.
NODE_DEPS = node_modules/.installed

.PHONY: serve test test-fast install install-gpu lint bench clean test-tools ocr-tools

# `make serve MODEL=quality` serves Qwen2.5-Coder-1.5B-Instruct instead of the bundled SmolLM2
# (fetched into data/models on first use, 1.1 GB; `docchat models list` shows what is here).
serve: $(VENV)/.installed-serve $(NODE_DEPS) ocr-tools
ifeq ($(MODEL),)
	$(VENV)/bin/docchat serve
else ifeq ($(MODEL),quality)
	gguf="$$($(VENV)/bin/docchat models pull quality)" && \
	DOCCHAT_LLM_MODEL_PATH="$$gguf" DOCCHAT_LLM_MODEL=qwen2.5-coder-1.5b-instruct \
	DOCCHAT_LLM_CONTEXT=8192 $(VENV)/bin/docchat serve
else
	@echo "make serve: MODEL=$(MODEL) is not a model docchat serves: use MODEL=quality, or" \
	  "leave MODEL out for the bundled SmolLM2" >&2; exit 2
endif

test: $(VENV)/.installed-test $(NODE_DEPS) test-tools ocr-tools
	$(VENV)/bin/python -m pytest --durations=30

# The quick tier while working: the tests that need no Celery worker, no LLM server and no
# browser (tests/conftest.py marks each by the fixtures it uses), spread over the cores by
# pytest-xdist, a test file per process: about 1,070 tests in 75 s on 2 cores. Redis must
# answer, as for `make test`, which runs every test, the real processes included, in one process.
test-fast: $(VENV)/.installed-test ocr-tools
	$(VENV)/bin/python -m pytest -n auto --dist loadfile --ignore=tests/e2e \
	  -m "not e2e and not needs_worker and not needs_llm"

# Test tools from Debian: chromium for the browser tests (Playwright drives it and downloads
# nothing), docker-compose to validate deploy/docker-compose.yml (no container engine needed),
# poppler-utils (pdftoppm draws pages for the OCR benchmark) and DejaVu fonts (Cyrillic test
# pages).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-tools:
	@command -v chromium >/dev/null && command -v docker-compose >/dev/null && \
	  command -v pdftoppm >/dev/null && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium docker-compose \
	    poppler-utils fonts-dejavu-core; }

# OCR of scanned PDFs (ingest/ocr.py): Tesseract with the language data of
# DOCCHAT_OCR_LANGUAGES (default eng+rus; chi_sim is the package tesseract-ocr-chi-sim), and
# Ghostscript, from Debian. Nothing to do when all are there; where they cannot be installed
# (no apt, no network) it says so and docchat runs on, failing scans with no_text_layer.
OCR_LANGUAGES = $(subst +, ,$(or $(DOCCHAT_OCR_LANGUAGES),eng+rus))
ocr-tools:
	@if ! ( command -v tesseract && command -v gs && for code in $(OCR_LANGUAGES); do \
	    tesseract --list-langs 2>/dev/null | grep -qx "$$code" || exit 1; done ) >/dev/null 2>&1; then \
	  packages="tesseract-ocr ghostscript"; \
	  for code in $(OCR_LANGUAGES); do \
	    packages="$$packages tesseract-ocr-$$(echo "$$code" | tr 'A-Z_' 'a-z-')"; done; \
	  { command -v apt-get >/dev/null && $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$packages; } || \
	  echo "make ocr-tools: could not install $$packages; scanned PDFs will not be read" \
	    "(install them, then re-index those documents)" >&2; \
	fi

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check ingest retrieval web workers tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

install: $(VENV)/.installed-serve ocr-tools

# A CUDA machine, in place of `make install` (then `make serve` as usual): torch built for CUDA
# 12.6 from PyTorch's index and faiss's GPU wheel (the gpu extra, CUDA 12 too: one CUDA runtime
# in the process, where PyPI's default torch would bring CUDA 13), without faiss-cpu: both faiss
# wheels write the same faiss/ folder, and the mix searches on the CPU. Prints at the end where
# this machine embeds and searches. Again after pyproject.toml changes: `make install` or `make
# serve` would put faiss-cpu back (the log and GET /api/index then say so).
TORCH_GPU_INDEX ?= https://download.pytorch.org/whl/cu126
FAISS_GPU_SPEC = $(shell sed -n 's/^ *"\(faiss-gpu[^"]*\)".*/\1/p' pyproject.toml)
install-gpu: $(VENV)/.installed-gpu

$(VENV)/.installed-gpu: pyproject.toml $(VENV)/.installed-llama | $(VENV)/bin/python
	$(PIP) install --index-url "$(TORCH_GPU_INDEX)" "$(TORCH_SPEC)"
	$(PIP) freeze | grep -i '^torch==' > $(VENV)/torch-constraint.txt
	$(PIP) install -c $(VENV)/torch-constraint.txt -e '.[gpu]'
	spec='$(FAISS_GPU_SPEC)' && $(PIP) uninstall -y faiss-cpu "$${spec%%[<>=!~]*}" && \
	  $(PIP) install --no-deps "$$spec"
	$(VENV)/bin/python -m retrieval.search.devices
	touch $@ $(VENV)/.installed-serve

# Benchmarks against the plain LangChain recipe (not part of `make test`); see the README.
bench: $(VENV)/.installed-bench
	$(VENV)/bin/python -m tests.benchmarks.retrieval_quality
	$(VENV)/bin/python -m tests.benchmarks.ingest_throughput
	$(VENV)/bin/python -m tests.benchmarks.query_latency

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel setuptools

$(VENV)/.installed-llama: | $(VENV)/bin/python
	CMAKE_ARGS="$(strip $(LLAMA_CMAKE_ARGS))" $(PIP) install --no-cache-dir --force-reinstall \
	  --no-deps "$(LLAMA_SPEC)"
	$(PIP) install "$(LLAMA_SPEC)"  # its dependencies; the build above stays
	touch $@

$(VENV)/.installed-serve: pyproject.toml $(VENV)/.installed-llama | $(VENV)/bin/python
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-llama | $(VENV)/bin/python
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.installed-serve

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-llama | $(VENV)/bin/python
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-serve

clean:
	rm -rf $(VENV) data

$(NODE_DEPS): package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --omit=optional --no-audit --no-fund && touch $@; \
	else echo "npm not found: pdf.js and axe-core not installed (install Node.js and npm)" >&2; fi
