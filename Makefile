# The two set-up commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast dist clean torture fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -e '.[test,dist]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/imagepipe serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Local loop: skips the slow build-the-executable test.
test-fast: $(STAMP)
	$(BIN)/python -m pytest --skip-slow $(PYTEST_ARGS)

# Reliability runs (issue 14); the suite runs small versions of both. Figures go to var/*.json.
N ?=
FAULTS ?= 15
SEED ?= 1
LEASE ?= 5
torture: $(STAMP)
	PYTHONPATH=tests $(BIN)/python -m reliability.torture -n $(or $(N),300) --faults $(FAULTS) --seed $(SEED) --lease $(LEASE) --report var/torture.json

fuzz: $(STAMP)
	PYTHONPATH=tests $(BIN)/python -m reliability.fuzz -n $(or $(N),3000) --seed $(SEED) --report var/fuzz.json

# One file, dist/imagepipe; the self-test fails the target if the frozen pool or libvips is broken.
# The lock (shared with tests/test_executable.py) keeps two builds apart; PyInstaller writes its
# output in place, so it builds beside dist/ and the result is renamed in (a running copy is untouched).
dist: $(STAMP)
	mkdir -p build dist
	flock build/.imagepipe-build.lock sh -c '$(BIN)/pyinstaller --noconfirm --clean --distpath build/staging build.spec && mv -f build/staging/imagepipe dist/imagepipe'
	./dist/imagepipe version
	./dist/imagepipe _selftest spawn > /dev/null

clean:
	rm -rf build dist
