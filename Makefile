# The two commands of the README:
#   make demo   set up, then run the embedded stack and a demo cycle (Ctrl-C stops it all)
#   make test   set up, then run the test suite (what CI runs)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install demo test test-fast screenshots lint bench i18n clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/python -m devstack.demo

# Two test processes share the files (each with its own servers, ports and databases):
# most tests wait on a server, a browser or a clock. TEST_WORKERS=0 runs them in one.
TEST_WORKERS ?= 2

test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# The inner loop: everything but the real dev server, Chromium and PostgreSQL (a few minutes
# less); `make test` still runs them all.
test-fast: install
	$(BIN)/python -m pytest -m "not devserver and not browser and not postgres" -x -q

# Every portal page in Chromium, screenshotted to var/screenshots/pages/ to be looked at.
screenshots: install
	WSIS_SHOTS=var/screenshots $(BIN)/python -m pytest -m browser -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# After changing a template's strings: update every language's catalog (then translate).
i18n: install
	$(BIN)/python -m devstack.catalogs update

bench: install
	$(BIN)/python bench/email_fanout.py --quick
	$(BIN)/python bench/signin.py --quick
	$(BIN)/python bench/portal_votes.py --quick
	$(BIN)/python bench/inbound.py --quick

clean:
	rm -rf var $(VENV)
