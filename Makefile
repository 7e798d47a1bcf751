# The README's commands. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format typecheck check bench spark-check notebooks notebooks-lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)  ## sample -> sandbox -> sync -> report, on a fresh database
	$(BIN)/slido-compliance demo

test: $(STAMP)  ## the whole suite, notebooks included
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python bench/run.py

spark-check: $(STAMP)  ## installs pyspark, then Spark reads an export (needs Java 17+)
	$(BIN)/python -m pip install --quiet 'pyspark>=3.5'
	$(BIN)/python -m pytest -m spark -rs -p no:cacheprovider tests/test_spark.py

notebooks-lab: $(STAMP)  ## open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

notebooks: $(STAMP)  ## clear notebook outputs before committing
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
