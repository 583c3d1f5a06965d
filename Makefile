# Two entry points for a fresh machine: `make run` (default workflow) and `make test`.
# Both create .venv on first use; later calls reuse it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= all
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv run test test-fast report clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

run: venv
	$(BIN)/snakemake --cores $(CORES)

test: venv
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not slow and not slurm and not browser"

clean:
	rm -rf results/* report/* .snakemake
	git checkout -- results/README.md report/README.md
