# The two commands in the README are `make quickstart` and `make test`; everything else here serves them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: quickstart test lint format bench browser clean

# One environment serves the quick start, the tests and the benchmarks; it is rebuilt when the
# project's dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,local,web]'
	touch $(STAMP)

## Run the quick-start notebook against the embedded model and print its transcript.
quickstart: $(STAMP)
	$(BIN)/python -m lagent_nb.quickstart notebooks/quickstart.ipynb

## Lint, check formatting, and run the whole test suite.
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Benchmarks: lagent_nb next to lagent 0.5.0rc3 and the physical floor; writes bench/results.md.
bench: $(STAMP)
	$(BIN)/python -m bench

# The browser test drives JupyterLab in Debian's Chromium; a Playwright browser download cannot
# work offline. Installing needs root; elsewhere the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not installed and not root: browser tests will be skipped"; fi; }

clean:
	rm -rf $(VENV) build dist *.egg-info lagent_nb/labextension labextension/node_modules labextension/lib
