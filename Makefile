# The two commands (README): `make up` runs the whole stack, `make test` runs every test.
# Needs only python3 >= 3.11, node >= 20 and make: uv is installed into .tools/ when it is not on PATH.

SHELL := /bin/bash
UV_VERSION := 0.13.9
PYTHON ?= python3

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif

# Never let uv download an interpreter: use the machine's python3.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: up test install check-python clean

up: install
	.venv/bin/tradectl up

test: install
	.venv/bin/python -m pytest

install: check-python $(UV)
	$(UV) sync --frozen

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "tradebus needs python3 >= 3.11 (found: $$($(PYTHON) --version 2>&1))"; exit 1; }

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

clean:
	rm -rf .venv .tools .pytest_cache
