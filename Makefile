# The two commands (README): `make up` runs the whole stack, `make test` runs every test.
# Needs only python3 >= 3.11, node >= 20 and make: uv is installed into .tools/ when it is not on PATH.

SHELL := /bin/bash
UV_VERSION := 0.13.9
PYTHON ?= python3
FRONTEND := ticket-frontend

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif

# Never let uv download an interpreter: use the machine's python3.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

.PHONY: up test chaos install frontend check-tools clean

up: install
	.venv/bin/tradectl up

# The ticket's component tests (vitest) run beside pytest, whose integration tests mostly wait on servers; their
# output follows pytest's, and either failing fails the target.
test: install
	@mkdir -p test-artifacts; (cd $(FRONTEND) && npm test) > test-artifacts/vitest.log 2>&1 & vitest=$$!; \
	.venv/bin/python -m pytest --durations=30; pytest_rc=$$?; \
	wait $$vitest; vitest_rc=$$?; \
	echo "--- ticket-frontend: npm test (vitest), run beside pytest ---"; cat test-artifacts/vitest.log; \
	echo "pytest exit $$pytest_rc, vitest exit $$vitest_rc"; \
	test $$pytest_rc -eq 0 -a $$vitest_rc -eq 0

# The long chaos run (README): every storm with CHAOS_ORDERS orders; `make test` runs them small.
CHAOS_ORDERS ?= 350
chaos: install
	CHAOS_ORDERS=$(CHAOS_ORDERS) .venv/bin/python -m pytest tests/chaos

install: check-tools $(UV) frontend
	$(UV) sync --frozen

# The trade ticket: dependencies from the lock file, then a production build into ticket-frontend/dist
# (served by the ticket API). Reinstalled only when the lock file changes.
frontend: $(FRONTEND)/node_modules/.package-lock.json
	cd $(FRONTEND) && npm run build

$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund

check-tools:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "tradebus needs python3 >= 3.11 (found: $$($(PYTHON) --version 2>&1))"; exit 1; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null || \
	  { echo "tradebus needs node >= 20 (found: $$(node --version 2>&1))"; exit 1; }

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

clean:
	rm -rf .venv .tools .pytest_cache $(FRONTEND)/node_modules $(FRONTEND)/dist
