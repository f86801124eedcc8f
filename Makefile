# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# Two stamps: `make run` installs only what the gateway needs to run; `make
# test`, `make lint` and `make bench` add the test and dev extras.
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp

.PHONY: install run test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Editable, so edits to the checkout (routes.yaml included) take effect.
$(RUN_STAMP): setup.cfg setup.py | $(PY)
	$(PIP) -e .
	touch $@

$(DEV_STAMP): setup.cfg setup.py | $(PY)
	$(PIP) -e '.[test,dev]'
	touch $@

install: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/antigravity-proxy serve

# Every test, with branch coverage that must stay at 100% on the pure
# translators and the SSE codec (STYLE.md).
COVERAGE := --cov=antigravity_proxy.protocols --cov=antigravity_proxy.sse --cov-branch \
	--cov-report=term-missing:skip-covered --cov-fail-under=100

test: $(DEV_STAMP)
	$(PY) -m pytest $(COVERAGE)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check antigravity_proxy tests benchmarks
	$(VENV)/bin/ruff format --check antigravity_proxy tests benchmarks
	$(VENV)/bin/mypy

bench: $(DEV_STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
