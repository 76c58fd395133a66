# Two commands do everything: `make demo` and `make test` (each runs the idempotent set-up first).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup dataset demo lint docs test clean-venv

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
	$(PY) -m ruff format --check .

# The docs site (mkdocs.yml), ~1 s: --strict fails on any broken link, missing page or missing include
# (never add --quiet: it hides the warnings from --strict too). NO_MKDOCS_2_WARNING only drops
# mkdocs-material's end-of-life banner (May 2027), which is not a build warning.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir .site

test: lint docs
	$(PY) -m pytest

clean-venv:
	rm -rf $(VENV)
