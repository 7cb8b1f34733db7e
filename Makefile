# The two set-up commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS := $(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
# One stamp per set of extras: `make run` installs what serving needs and nothing else; the tests
# need the test extra and, to build the executable they check, the dist extra.
STAMP_RUN := $(VENV)/.installed-run-$(DEPS)
STAMP_TEST := $(VENV)/.installed-test-$(DEPS)
STAMP_DIST := $(VENV)/.installed-dist-$(DEPS)

.PHONY: run test test-fast fuzz-api dist clean torture fuzz browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# setuptools prints a notice about editable installs as a warning; it is not one for this tree.
PIP_INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install

$(STAMP_RUN): $(BIN)/python setup.cfg pyproject.toml
	$(PIP_INSTALL) -e .
	touch $@

$(STAMP_TEST): $(BIN)/python setup.cfg pyproject.toml
	$(PIP_INSTALL) -e '.[test,dist]'
	touch $@

$(STAMP_DIST): $(BIN)/python setup.cfg pyproject.toml
	$(PIP_INSTALL) -e '.[dist]'
	touch $@

run: $(STAMP_RUN)
	$(BIN)/imagepipe serve

test: $(STAMP_TEST) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Local loop: skips the slow build-the-executable test.
test-fast: $(STAMP_TEST) browser
	$(BIN)/python -m pytest --skip-slow $(PYTEST_ARGS)

# schemathesis against a real server for longer than the suite's run (tests/test_openapi_fuzz.py):
# every operation, FUZZ_EXAMPLES cases each and phase, a fresh seed; FUZZ_ARGS go to `st run`.
FUZZ_EXAMPLES ?= 1000
fuzz-api: $(STAMP_TEST)
	$(BIN)/python tests/fuzz_api.py --examples $(FUZZ_EXAMPLES) $(if $(FUZZ_ARGS),-- $(FUZZ_ARGS))

# Reliability runs (issue 14); the suite runs small versions of both. Figures go to var/*.json.
N ?=
FAULTS ?= 15
SEED ?= 1
LEASE ?= 5
torture: $(STAMP_TEST)
	PYTHONPATH=tests $(BIN)/python -m reliability.torture -n $(or $(N),300) --faults $(FAULTS) --seed $(SEED) --lease $(LEASE) --report var/torture.json

fuzz: $(STAMP_TEST)
	PYTHONPATH=tests $(BIN)/python -m reliability.fuzz -n $(or $(N),3000) --seed $(SEED) --report var/fuzz.json

# One file, dist/imagepipe; the self-test fails the target if the frozen pool or libvips is broken.
# The lock (shared with tests/test_executable.py) keeps two builds apart; PyInstaller writes its
# output in place, so it builds beside dist/ and the result is renamed in (a running copy is untouched).
dist: $(STAMP_DIST)
	mkdir -p build dist
	flock build/.imagepipe-build.lock sh -c '$(BIN)/pyinstaller --noconfirm --clean --distpath build/staging build.spec && mv -f build/staging/imagepipe dist/imagepipe'
	./dist/imagepipe version
	./dist/imagepipe _selftest spawn > /dev/null

# The web app's test drives Debian's Chromium through Debian's ChromeDriver (same build, so their
# versions always match); a fresh machine (CI's included) has neither. Only the tests need them.
BROWSER_FILES := /usr/bin/chromium /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@for f in $(BROWSER_FILES); do [ -x $$f ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's chromium and chromium-driver for the browser test"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

clean:
	rm -rf build dist
