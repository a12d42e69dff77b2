# The two commands a user needs (see README.md):
#   make start   install everything, then open JupyterLab on the course
#   make test    install everything, then run every test CI runs
# Both create the virtual environment when it is missing.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the pins change; the stamp names the files it was built from.
STAMP := $(VENV)/.installed
PORT ?= 8888
# Jupyter refuses to run as root (containers, CI boxes) unless told to.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: start test install sandbox-tools lint release bench-notebooks lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

start: install
	$(BIN)/jupyter lab --port=$(PORT) --notebook-dir=. --ServerApp.default_url=/lab/tree/labs $(ALLOW_ROOT)

# `aie grade` runs student kernels in bubblewrap (Linux only). Installed here when this user can (root with
# apt-get, as on CI); elsewhere the grading tests fail with the install hint rather than skip silently.
sandbox-tools:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "install bubblewrap for sandboxed grading: sudo apt-get install bubblewrap" >&2; fi; }

test: install sandbox-tools
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check .

release: install
	$(BIN)/aie release

bench-notebooks: install
	$(BIN)/aie bench

# Re-resolve every dependency from pyproject.toml into requirements.lock (needs the package index).
lock: $(BIN)/python
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet -e '.[test]'
	# PyPI knows torch 2.13.0, not the local "+cpu" build label this machine installs.
	build/lock-venv/bin/python -m pip freeze --exclude-editable | sed -e 's/+cpu$$//' > requirements.lock
	rm -rf build/lock-venv

clean:
	rm -rf $(VENV) build .pytest_cache
