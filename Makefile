# Everything a newcomer needs, from a bare clone with Python 3.11 and the package index.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint format local clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)  ## create .venv with the pinned dependencies and the project

demo: $(STAMP)  ## the whole pipeline on the embedded stack, with a printed summary
	$(BIN)/elt demo

test: $(STAMP)  ## every test, end to end ones included (what CI runs)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## the tests without the end-to-end ones
	$(BIN)/python -m pytest -q -m "not e2e"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

local: $(STAMP)  ## the embedded stack in the foreground (writes .elt/local.env)
	$(BIN)/elt local up

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .elt dist build *.egg-info
