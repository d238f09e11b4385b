# raygrid: `make demo` and `make test` are all a newcomer needs.
# Each creates .venv on first use and installs torch (CPU 2.13.0 unless the
# venv already has one) and then raygrid with its dev extras.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.raygrid-installed
DEMO_DIR ?= runs/demo
TINY_MODEL ?= .cache/tiny-xlmr
WORLD ?= .cache/world

.PHONY: install demo typecheck test test-fast clean

# torch with pip (uv does not look where the CPU wheel lies on this kind of
# machine); the rest with uv when it installs (the same versions as pip
# resolves here, in about 5 s instead of about 65 s), else with pip.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "torch==2.13.0"
	( $(PY) -m pip install -q uv && $(PY) -m uv pip install --python $(PY) -q -e ".[dev]" ) || $(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

$(TINY_MODEL)/config.json: | $(STAMP)
	$(VENV)/bin/raygrid tiny-model $(TINY_MODEL) --force

# The embedded default: search_spaces/demo.yaml on local Ray, in the synthetic
# world (docs/world.md): `raygrid world build` writes its data and pretrains
# its tiny XLM-R once (cached: instant when .cache/world holds this world),
# then the sweep, its status, the analysis report and the best configs
# (a rerun resumes the finished sweep: instant).
demo: $(STAMP)
	$(VENV)/bin/raygrid world build $(WORLD)
	$(VENV)/bin/raygrid run search_spaces/demo.yaml
	$(VENV)/bin/raygrid status $(DEMO_DIR)
	$(VENV)/bin/raygrid analyze $(DEMO_DIR) --out $(DEMO_DIR)-report
	$(VENV)/bin/raygrid best $(DEMO_DIR) --target pawsx
	$(VENV)/bin/raygrid best $(DEMO_DIR) --target xnli
	@echo "report: $(DEMO_DIR)-report"

# mypy over raygrid/ and analysis/ (config: [tool.mypy] in pyproject.toml),
# timed. Its cache lives in the venv: a rerun on one machine takes about a
# second; a clean clone's first run about 10 s of CPU.
typecheck: $(STAMP)
	@$(PY) -c 'import subprocess, sys, time; t = time.monotonic(); rc = subprocess.call([sys.executable, "-m", "mypy", "--cache-dir", "$(VENV)/.mypy_cache"]); print(f"mypy: {time.monotonic() - t:.1f} s"); sys.exit(rc)'

# The whole suite (tests/suite.py): the world's tests beside the unit tests,
# a core each, then the end-to-end tests alone.
test: $(STAMP) typecheck
	$(PY) tests/suite.py

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

clean:
	rm -rf $(VENV) .cache runs .pytest_cache
