# Two commands do everything: `make demo` and `make test` (each runs the idempotent set-up first).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup dataset demo lint test clean-venv

setup: dataset $(STAMP)

dataset:
	@bash scripts/ensure-dataset.sh

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/forgetflow demo

lint: setup
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

clean-venv:
	rm -rf $(VENV)
