# Two entry points on a fresh machine:  make study  (default pipeline -> report)  and  make test.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(abspath $(VENV))/bin
# Snakemake's jobs call `python`: the venv's comes first on PATH.
export PATH := $(BIN):$(PATH)

# The default study's optimizer discovery trains on Fashion-MNIST, which Debian's package
# dataset-fashion-mnist installs here (no download at run time); data/FashionMNIST/raw also works.
FASHION_MNIST := /usr/share/datasets/fashion-mnist
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup study test lint benchmark clean fashion-mnist

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -e '.[workflow,test,tracking]'
	touch $@

fashion-mnist:
	@if [ ! -d $(FASHION_MNIST) ] && [ ! -d data/FashionMNIST/raw ]; then \
		if command -v apt-get >/dev/null; then \
			$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
		else \
			echo "Fashion-MNIST is missing: put its IDX files in data/FashionMNIST/raw (torchvision's layout) or install Debian's dataset-fashion-mnist"; exit 1; \
		fi; \
	fi

study: setup fashion-mnist
	snakemake --cores $(CORES)
	@echo "report: results/report/report.md"

test: setup
	pytest

# The hooks of .pre-commit-config.yaml: formatting and lint rules (ruff, snakefmt), imports
# that run one way (import-linter's layers contract), and the written optimizer schema fresh.
lint: setup
	ruff format --check src tests benchmarks
	ruff check src tests benchmarks
	snakefmt --check Snakefile workflow/rules
	lint-imports
	python -m neuroevo schema --check

benchmark: setup
	python benchmarks/population_eval.py
	python benchmarks/cmaes_generation.py
	python benchmarks/evolution_budget.py
	python benchmarks/cmaes_budget.py
	python benchmarks/cmaes_scaling.py
	python benchmarks/deep_ga_generation.py
	python benchmarks/cnn_population_eval.py
	python benchmarks/cnn_budget.py
	python benchmarks/layerwise_depth.py
	python benchmarks/pipeline_overhead.py

clean:
	rm -rf results resources .snakemake
