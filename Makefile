# Two commands on a fresh machine (README quick start):
#   make run    set up .venv and run the main job on the built-in data
#   make test   set up .venv and run the whole test suite (what CI runs)
# Set-up installs the local CPU wheel torch==2.13.0 first, so pip never pulls CUDA builds.

PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup run test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
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
