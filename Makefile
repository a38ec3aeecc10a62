# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test setup system-deps lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

# Debian packages some tests use (etcd-server, tshark); a no-op when present.
system-deps:
	bash scripts/install-system-deps.sh

run: setup
	$(BIN)/strom serve

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# Everything on the embedded store, then the API and watch suites again on a real etcd.
test: setup system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m pytest --strom-store etcd tests/integration $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) strom-data
