# Everything a newcomer needs, from a bare clone with Python 3.11 and the package index.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The Lambda runtime the zips are built for. python3.12 runs on Amazon Linux 2023; python3.11
# runs on Amazon Linux 2, whose glibc 2.26 is too old for the locked pyarrow and numpy wheels.
LAMBDA_PYTHON ?= 3.12
LAMBDA_ARCH   ?= x86_64

.PHONY: install demo test test-fast lint format local clean build tf-check browser bench bench-quick

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)  ## create .venv with the pinned dependencies and the project

demo: $(STAMP)  ## the whole pipeline on the embedded stack, with a printed summary
	$(BIN)/elt demo

test: $(STAMP) tf-check browser  ## every test, end to end and browser ones included, and the Terraform checks (what CI runs)
	$(BIN)/python -m pytest -q

# The UI tests drive Debian's Chromium with Playwright (never a browser download).
browser:  ## install Debian's chromium for the browser tests, if missing (as root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "browser: installing Debian's chromium for the UI tests"; \
	    (apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }) >/dev/null; \
	  else \
	    echo "browser: no chromium and no root to install it: the UI tests skip (CI=true fails them)"; \
	  fi; }

test-fast: $(STAMP)  ## the tests without the end-to-end ones
	$(BIN)/python -m pytest -q -m "not e2e"

build: $(STAMP)  ## dist/ingest.zip + dist/transform.zip (LAMBDA_PYTHON=3.11|3.12 LAMBDA_ARCH=x86_64|arm64)
	$(BIN)/python deploy/build.py --python $(LAMBDA_PYTHON) --arch $(LAMBDA_ARCH)

tf-check: $(STAMP)  ## checkov over deploy/terraform (own venv), then the tests that parse the HCL
	PYTHON=$(PYTHON) bash deploy/tf_check.sh

# The zips the package section measures, rebuilt when the code or the pins change.
ZIPS := dist/ingest.zip dist/transform.zip
$(ZIPS) &: $(STAMP) $(shell find lambda_bridge -name "*.py") requirements.lock deploy/build.py deploy/verify_package.py
	$(BIN)/python deploy/build.py --python $(LAMBDA_PYTHON) --arch $(LAMBDA_ARCH)

bench: $(STAMP) $(ZIPS)  ## benchmarks against their baselines (~15 min with the build): BENCHMARKS.md, bench/results.json
	$(BIN)/python -m bench.run

bench-quick: $(STAMP) $(ZIPS)  ## the same tables on small data (~5 min, plus the build the first time)
	$(BIN)/python -m bench.run --quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

local: $(STAMP)  ## the embedded stack in the foreground (writes .elt/local.env)
	$(BIN)/elt local up

clean:
	rm -rf $(VENV) .venv-tools bench/data .pytest_cache .ruff_cache .hypothesis .elt dist build *.egg-info
