# raygrid: `make demo` and `make test` are all a newcomer needs.
# Each creates .venv on first use and installs torch (CPU 2.13.0 unless the
# venv already has one) and then raygrid with its dev extras.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.raygrid-installed
DEMO_DIR ?= runs/demo
TINY_MODEL ?= .cache/tiny-xlmr
DEMO_LANGUAGES ?= ar,de,hi,ru,sw,th,zh

.PHONY: install demo test test-fast clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

$(TINY_MODEL)/config.json: | $(STAMP)
	$(VENV)/bin/raygrid tiny-model $(TINY_MODEL) --force

# The embedded default: the tiny model on the bundled fixtures, the
# standard fine-tuning baseline and the MNLI intermediate cell for XNLI.
demo: $(STAMP) $(TINY_MODEL)/config.json
	$(VENV)/bin/raygrid cell --model $(TINY_MODEL) --intermediate none --target xnli \
		--data bundled --languages $(DEMO_LANGUAGES) --output $(DEMO_DIR) \
		--learning-rate 5e-4 --epochs 3 --batch-size 16 --max-seq-length 64
	$(VENV)/bin/raygrid cell --model $(TINY_MODEL) --intermediate mnli --target xnli \
		--data bundled --languages $(DEMO_LANGUAGES) --output $(DEMO_DIR) \
		--learning-rate 5e-4 --epochs 3 --batch-size 16 --max-seq-length 64

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

clean:
	rm -rf $(VENV) .cache runs .pytest_cache
