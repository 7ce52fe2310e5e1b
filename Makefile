# Every target bootstraps .venv itself from a clean clone; the stamp makes it
# idempotent (reinstall only when pyproject.toml or constraints.txt change).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_HOME ?= $(CURDIR)/.prefect-home
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore

.PHONY: demo test bench lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The main job: a full test run of examples/integration on the embedded local runtime.
demo: $(STAMP)
	$(BIN)/prefect-faasr run examples/integration/spec.yaml --report reports/demo-report.json --junit reports/demo-junit.xml

# Two xdist workers, one test module at a time each: most tests wait on polls and servers, not CPU.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .prefect-home .pytest_cache .ruff_cache
