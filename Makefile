# Two entry points for a fresh machine: `make run` (default workflow) and `make test`.
# Both create .venv on first use from the exact versions of envs/requirements.lock; later calls reuse it.
# `make lock` refreshes the lock (newest versions pyproject.toml allows, resolved in a fresh environment).
# CPU-only torch (no CUDA libraries): make run TORCH_INDEX=<URL of PyTorch's CPU-only wheel index>
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORES  ?= all
LOCK   := envs/requirements.lock
TORCH_INDEX ?=
# with TORCH_INDEX the Linux-only CUDA wheels of the lock are left out (torch from that index needs none)
LOCK_FILTER = $(if $(TORCH_INDEX),grep -Ev '^(nvidia-|cuda-|triton=)',cat)
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv run test test-fast lock clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(LOCK_FILTER) $(LOCK) > $(VENV)/requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) \
		-r $(VENV)/requirements.txt -e ".[dev]"
	touch $@

lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
	.venv-lock/bin/python envs/lock.py
	rm -rf .venv-lock

run: venv
	$(BIN)/snakemake --cores $(CORES)

test: venv
	$(BIN)/python -m pytest

test-fast: venv
	$(BIN)/python -m pytest -m "not slow and not slurm and not browser" -n 4

clean:
	rm -rf results/* report/* .snakemake
	git checkout -- results/README.md report/README.md
