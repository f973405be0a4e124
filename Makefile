# The README's commands. Everything installs into .venv from pyproject.toml (the one list of pins).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: install demo test lab flows bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name workbench --display-name "Workbench (Python 3.11)"
	touch $(STAMP)

demo: $(STAMP)  ## set up, then generate, ingest and report on the demo data under data/
	$(BIN)/workbench demo

test: $(STAMP)  ## the whole test suite, on both cores (PostgreSQL tests skip without a server, fail under CI=true)
	$(BIN)/python -m pytest -n 2 --dist loadfile

lab: $(STAMP)  ## JupyterLab with the workbench kernel
	WORKBENCH_HOME=$(CURDIR)/data $(BIN)/jupyter lab notebooks

flows: $(STAMP)  ## serve every Prefect deployment on its schedule (flows/serve.py)
	$(BIN)/workbench flows serve

bench: $(STAMP)  ## analytics vs chdb at 10M and 50M rows, forecasts per second, portal and delivery on loopback, ingest vs DuckDB's copy
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/forecasts.py
	$(BIN)/python benchmarks/portal.py
	$(BIN)/python benchmarks/delivery.py
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .prefect .pytest_cache .hypothesis
