# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install system-deps test image-test run bench clean

install: $(VENV)/.installed

# Re-installs only when pyproject.toml changed since the last install.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Headless Chromium and its driver for the browser tests (Debian packages; never a browser download).
system-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

test: install system-deps
	$(BIN)/pytest
	@if command -v podman >/dev/null && command -v debootstrap >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  $(MAKE) --no-print-directory image-test; \
	else echo "make test: image-test not run (needs root, podman and debootstrap; CI has them)"; fi

# Builds Dockerfile.gpu's CPU image with podman and runs a job in it (tests/infra/test_image.py).
# Needs root, podman and debootstrap. The Debian base and pip's downloads are cached between runs.
image-test: install
	$(BIN)/pytest -m image tests/infra/test_image.py
	@podman image ls --format 'make image-test: {{.Repository}}:{{.Tag}} is {{.Size}}' localhost/nst-cpu:test

run: install
	$(BIN)/python -m devstack

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .data artifacts .pytest_cache
