# Two commands on a fresh machine (README quick start):
#   make run    set up .venv and run the CoPur experiments on the built-in data
#   make test   set up .venv and run the whole test suite (what CI runs)
#
# Set-up installs torch==2.13.0 first, from TORCH_INDEX, then the package (which keeps that
# torch). TORCH_INDEX is the only choice to make (README, "Quick start", has the sizes):
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu   the PyTorch project's CPU-only wheel
#   TORCH_INDEX=        (default) pip's own configuration: on plain PyPI under Linux that is
#                       the CUDA build plus its CUDA libraries; where pip is pointed at a
#                       local CPU wheel (this project's CI machines), that wheel.
# e.g. `make run TORCH_INDEX=https://download.pytorch.org/whl/cpu` (`make clean` first to
# change it after set-up).

PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
TORCH_INDEX ?=

.PHONY: setup run test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[tests,plot]"
	$(BIN)/python -m pip install --quiet -e ".[flower]"
	touch $@

run: setup
	$(BIN)/python -m sklearn_robust copur --output results

test: setup
	$(BIN)/python -m ruff check sklearn_robust tests benchmarks
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/robust_mean_bias.py
	$(BIN)/python benchmarks/robust_mean_speed.py
	$(BIN)/python benchmarks/copur_recovery.py
	$(BIN)/python benchmarks/copur_digits.py
	$(BIN)/python benchmarks/copur_speed.py

clean:
	rm -rf $(VENV) results *.egg-info
