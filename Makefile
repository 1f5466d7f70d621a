# Theo: `make run` and `make test` do all set-up on a bare machine (Python 3.11 only).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# TORCH_INDEX_URL: where pip takes torch from, e.g. https://download.pytorch.org/whl/cpu for
# the CPU build instead of the CUDA one (README "Installing without CUDA"). Unset: pip's default.
TORCH_INDEX_URL ?=
TORCH_PIN := $(shell grep -m1 '^torch==' requirements.txt)
TORCH_FIRST := $(if $(TORCH_INDEX_URL),$(PIP) install --quiet --index-url $(TORCH_INDEX_URL) "$(TORCH_PIN)")
# Browser tests (tests/e2e, the answer renderer) drive this Chromium with Playwright: no download.
export THEO_CHROMIUM ?= /usr/bin/chromium

.PHONY: run test bench lint format clean-venv stop chromium

run: $(VENV)/.runtime-deps
	$(PY) manage.py run

test: $(VENV)/.dev-deps chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian's Chromium for the browser tests: installed when missing if we are root with apt.
chromium:
	@if [ -x "$(THEO_CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Chromium for the browser tests: apt-get install chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || exit 1; \
	fi; \
	if [ ! -x "$(THEO_CHROMIUM)" ]; then \
		echo "The browser tests need Chromium at $(THEO_CHROMIUM), and it is not there." >&2; \
		echo "Install it:  sudo apt-get install chromium   (Debian; on Ubuntu: sudo snap install chromium," >&2; \
		echo "then THEO_CHROMIUM=/snap/bin/chromium make test), or set THEO_CHROMIUM to a Chromium/Chrome binary." >&2; \
		exit 1; \
	fi

bench: $(VENV)/.dev-deps
	$(PY) -m bench $(BENCH)

lint: $(VENV)/.dev-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/python .ci/code_shape.py

format: $(VENV)/.dev-deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Stop the embedded PostgreSQL and Redis if something left them running.
stop: $(VENV)/.runtime-deps
	$(PY) manage.py embedded stop

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-deps: requirements.txt | $(VENV)/bin/python
	$(TORCH_FIRST)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(TORCH_FIRST)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-deps $@

clean-venv:
	rm -rf $(VENV)
