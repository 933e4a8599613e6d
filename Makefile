# The two commands: `make run` and `make test`. Everything else is a helper of those.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv system-deps bench clean image fuzz

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# the example plug-in package the plug-in tests load by entry point (docs/plugins.md)
PLUGINS_STAMP := $(VENV)/.example-plugins
$(PLUGINS_STAMP): $(STAMP) tests/plugins/dragonfly_example_plugins/setup.py
	$(BIN)/pip install -q -e tests/plugins/dragonfly_example_plugins
	touch $(PLUGINS_STAMP)

run: venv
	$(BIN)/python scripts/run_stack.py

system-deps:
	bash scripts/install-system-deps.sh

test: venv $(PLUGINS_STAMP) system-deps
	$(BIN)/python -m pytest

# Hostile-input run: 10,000 generated inputs per endpoint family; counts in bench/results/fuzz.json
# (docs/security.md quotes them).
fuzz: venv
	mkdir -p bench/results
	DF_FUZZ_EXAMPLES=10000 DF_FUZZ_REPORT=bench/results/fuzz.json $(BIN)/python -m pytest -q -o timeout=7200 tests/fuzz

bench: venv system-deps
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench.run_all

# The container image (supernode, dfdaemon, dfget) without any image registry: see scripts/build_image.sh.
image: venv
	bash scripts/build_image.sh

clean:
	rm -rf $(VENV) .run *.egg-info
