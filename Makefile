# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/antigravity-proxy serve

# Every test, with branch coverage that must stay at 100% on the pure
# translators and the SSE codec (STYLE.md).
COVERAGE := --cov=antigravity_proxy.protocols --cov=antigravity_proxy.sse --cov-branch \
	--cov-report=term-missing:skip-covered --cov-fail-under=100

test: install
	$(PY) -m pytest $(COVERAGE)

lint: install
	$(VENV)/bin/ruff check antigravity_proxy tests benchmarks
	$(VENV)/bin/ruff format --check antigravity_proxy tests benchmarks
	$(VENV)/bin/mypy

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
