# Two entry points on a fresh machine:  make study  (default pipeline -> report)  and  make test.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(abspath $(VENV))/bin
# Snakemake's jobs call `python`: the venv's comes first on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: setup study test benchmark clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[workflow,test]'
	touch $@

study: setup
	snakemake --cores $(CORES)
	@echo "report: results/report/report.md"

test: setup
	pytest

benchmark: setup
	python benchmarks/population_eval.py
	python benchmarks/cmaes_generation.py
	python benchmarks/evolution_budget.py

clean:
	rm -rf results resources .snakemake
