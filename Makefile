# The two commands: `make run` and `make test`. Everything else is a helper of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv system-deps bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/python scripts/run_stack.py

system-deps:
	bash scripts/install-system-deps.sh

test: venv system-deps
	$(BIN)/python -m pytest

bench: venv system-deps
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .run *.egg-info
