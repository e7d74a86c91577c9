# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast coverage lint pytest docs stress bench precompile clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The tool never writes bytecode while it runs, so an editable install would compile its own
# modules on every start; precompile them once, as a regular pip install does.
precompile: $(STAMP)
	$(BIN)/python -m compileall -q pycache_tool

run: precompile
	$(BIN)/pycache-tool audit .

lint: $(STAMP)
	$(BIN)/ruff format --check pycache_tool tests bench tools
	$(BIN)/ruff check pycache_tool tests bench tools
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The manual in docs/, built strictly: a broken link or anchor fails the build (and `make test`).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

test: lint pytest docs

# The edit loop: the suite without its slow groups (the interpreter matrix, git, pre-commit,
# reliability); `make test` runs them all. `exec`: the quotes make make run a shell, which must
# not stay the tests' parent (the completion test asks which shell runs the tool).
SLOW_GROUPS := interpreters or git or precommit or reliability
test-fast: $(STAMP)
	exec $(BIN)/python -m pytest -m "not ($(SLOW_GROUPS))" $(PYTEST_ARGS)

# Branch coverage of the whole suite, the code that runs in the processes it starts included
# (the compile worker, `python -m pycache_tool`, doctor's probe): see [tool.coverage] in
# pyproject.toml. `coverage html` then writes htmlcov/.
coverage: $(STAMP)
	rm -f .coverage .coverage.*
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

# The concurrency, fault and hostile-tree tests, run longer than in `make test`:
# STRESS_SECONDS of compile, clean, audit and imports at once, KILLS SIGKILLs, and EXAMPLES
# random hostile trees, with BUSY processes that only burn CPU beside them all along.
STRESS_SECONDS ?= 120
KILLS ?= 200
EXAMPLES ?= 2000
BUSY ?= 2
stress: precompile
	PYCACHE_TOOL_STRESS_SECONDS=$(STRESS_SECONDS) PYCACHE_TOOL_KILLS=$(KILLS) \
	PYCACHE_TOOL_STRESS_EXAMPLES=$(EXAMPLES) PYCACHE_TOOL_BUSY=$(BUSY) \
		$(BIN)/python -m pytest tests/test_reliability.py tests/test_hostile.py $(PYTEST_ARGS)

# The benchmark measures the tool as users get it: a regular (not editable) install, in a venv
# of its own with the peers it compares against (pyclean, uv: the `bench` extra). An editable
# install's import finder would add ~20 ms to every start-up, the tool's and `import typer`'s.
BENCH_VENV := .bench/venv
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_SOURCES := $(shell find pycache_tool -name '*.py')

$(BENCH_STAMP): pyproject.toml $(BENCH_SOURCES)
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet '.[bench]'  # a local project: reinstalled
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/run.py $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
