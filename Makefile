# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# Two stamps: `make run` installs only what the gateway needs to run; `make
# test`, `make lint` and `make bench` add the test and dev extras.
RUN_STAMP := $(VENV)/.run-stamp
DEV_STAMP := $(VENV)/.dev-stamp

.PHONY: install bytecode run demo test lint bench bench-versus bench-peers fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Editable, so edits to the checkout (routes.yaml included) take effect.
$(RUN_STAMP): setup.cfg setup.py | $(PY)
	$(PIP) -e .
	touch $@

$(DEV_STAMP): setup.cfg setup.py | $(PY)
	$(PIP) -e '.[test,dev]'
	touch $@

install: $(DEV_STAMP) bytecode

# The package's bytecode, as `pip install` writes it for a regular install. An
# editable install has none, and where PYTHONDONTWRITEBYTECODE is set Python
# compiled all ~150 modules from source on every start: about 0.4 s of `serve`'s
# start-up on the 2-core build box (`make bench`). Only changed modules are
# compiled again; stale bytecode is never used (Python checks each source's mtime).
bytecode: | $(PY)
	$(PY) -m compileall -q antigravity_proxy

run: $(RUN_STAMP) bytecode
	$(VENV)/bin/antigravity-proxy serve

# A first answer without a Google account: the loopback fake upstream, one
# account added, the real gateway, one request (tests/fakes/demo.py).
demo: install
	$(PY) -m tests.fakes.demo

# Every test, with branch coverage that must stay at 100% on the pure
# translators and the SSE codec (STYLE.md).
COVERAGE := --cov=antigravity_proxy.protocols --cov=antigravity_proxy.sse --cov-branch \
	--cov-report=term-missing:skip-covered --cov-fail-under=100

# The status page test drives a real headless Chromium (Debian's chromium and
# chromium-driver); as root they are installed once, otherwise make says what to
# install and stops.
BROWSER_STAMP := $(VENV)/.browser-stamp

$(BROWSER_STAMP): $(DEV_STAMP)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	else \
		echo "make test needs Chromium for the status page test:" \
			"sudo apt-get install chromium chromium-driver" >&2; exit 1; \
	fi
	touch $@

# The deploy test checks deploy/antigravity-proxy.service with systemd-analyze
# (Debian's systemd package, present on most machines); as root it is installed
# once if missing, otherwise make says what to install and stops.
SYSTEMD_STAMP := $(VENV)/.systemd-stamp

$(SYSTEMD_STAMP): $(DEV_STAMP)
	@if command -v systemd-analyze >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends systemd; \
	else \
		echo "make test needs systemd-analyze for the unit file test:" \
			"sudo apt-get install systemd" >&2; exit 1; \
	fi
	touch $@

# The shared-state tests run a real redis-server (Debian's redis-server package)
# on a free loopback port of their own, so the package's system service, running
# or not, plays no part; as root it is installed once, otherwise make says what
# to install and stops.
REDIS_STAMP := $(VENV)/.redis-stamp

$(REDIS_STAMP): $(DEV_STAMP)
	@if command -v redis-server >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends redis-server; \
	else \
		echo "make test needs redis-server for the shared-state tests:" \
			"sudo apt-get install redis-server" >&2; exit 1; \
	fi
	touch $@

test: $(DEV_STAMP) bytecode $(BROWSER_STAMP) $(SYSTEMD_STAMP) $(REDIS_STAMP)
	$(PY) -m pytest $(COVERAGE)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check antigravity_proxy tests benchmarks
	$(VENV)/bin/ruff format --check antigravity_proxy tests benchmarks
	$(VENV)/bin/mypy

bench: $(DEV_STAMP) bytecode
	$(PY) -m benchmarks

# This tree's gateway against REV's, both at once on one loopback fake, requests
# interleaved (benchmarks/versus.py): separate `make bench` runs on a busy box
# differ by more than a 0.2 ms regression. REV is extracted under .bench/rev-<sha>
# with its own venv, made once (never in $(VENV)). The default, 2c3c343, is main
# just before the request pipeline of issue 11, which must keep the added p50
# within 0.2 ms of it. VERSUS_ARGS: e.g. --rounds 8 --requests 300.
REV ?= 2c3c343
VERSUS_ARGS ?=

bench-versus: $(DEV_STAMP)
	$(PY) -m benchmarks.versus --rev $(REV) $(VERSUS_ARGS)

# The same loopback fake, the gateway and LiteLLM's proxy side by side. LiteLLM
# lives in its own virtual environment under .bench/ (never in $(VENV)), so
# neither `make test` nor `make lint` installs it.
PEERS_VENV  := .bench/litellm
PEERS_STAMP := $(PEERS_VENV)/.installed-stamp
LITELLM_REQ ?= litellm[proxy]==1.108.7

$(PEERS_STAMP):
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check '$(LITELLM_REQ)'
	touch $@

bench-peers: install $(PEERS_STAMP)
	$(PY) -m benchmarks.peers --litellm $(PEERS_VENV)/bin/litellm

# The property-based fuzz of every POST route (tests/fuzz) with the long-run
# Hypothesis profile: thousands of random examples per route, not derandomized.
# `make test` runs the same tests with the bounded, reproducible `ci` profile.
fuzz: install
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/fuzz -p no:cacheprovider

clean:
	rm -rf $(VENV) .bench *.egg-info .pytest_cache .mypy_cache .ruff_cache
