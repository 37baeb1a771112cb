# Two front doors: `make demo` and `make test`. Each bootstraps .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PLUGINS := $(wildcard plugins/*/pyproject.toml)

.PHONY: demo test lint typecheck docs unit bench clean

$(STAMP): pyproject.toml $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" $(foreach p,$(dir $(PLUGINS)),-e $(p))
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/scratchnet demo xor

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck docs unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mlp.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site
