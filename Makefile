# Two commands do all the set-up: `make book` opens the book, `make test` runs the tests.
# `make html` builds the book as a static website from the notebooks' stored outputs.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: book test html install

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] in ((3, 10), (3, 11))' 2>/dev/null || \
	  { echo "Need Python 3.10 or 3.11 (MXNet 1.9.1 and d2l 1.0.3 have no 3.12 build)."; \
	    echo "Install one, or run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

book: install
	$(BIN)/jupyter lab chapters/00_how_to_use.ipynb

test: install
	$(BIN)/python -m pytest

html: install
	$(BIN)/python book/build.py
