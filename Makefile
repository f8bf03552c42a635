# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian libraries that open3d (offscreen rendering on Mesa's software Vulkan),
# moderngl (headless EGL) and the browser tests need at run time.
SYSTEM_PACKAGES := libusb-1.0-0 libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri \
	libvulkan1 mesa-vulkan-drivers chromium xvfb xauth
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: demo test lint example system-deps env clean benchmarks

demo: env
	$(VENV)/bin/hingecap demo

example: env
	$(VENV)/bin/hingecap example

test: env
	$(PY) -m pytest $(PYTEST_ARGS)

# Snakemake's linter on the workflow; fails on any lint (CI runs it after the tests).
lint: env
	$(PY) -m pipeline.cli.workflow

benchmarks: env
	$(PY) benchmarks/calibration.py
	$(PY) benchmarks/triangulation.py
	$(PY) benchmarks/report.py
	$(PY) benchmarks/render_body.py
	$(PY) benchmarks/session.py
	$(PY) benchmarks/analysis.py

env: system-deps $(VENV)/.installed

# Installs only what is missing, so a prepared machine does not touch apt.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) results .pytest_cache
