# The two set-up commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast fuzz-api dist clean

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

# schemathesis against a real server for longer than the suite's run (tests/test_openapi_fuzz.py):
# every operation, FUZZ_EXAMPLES cases each and phase, a fresh seed; FUZZ_ARGS go to `st run`.
FUZZ_EXAMPLES ?= 1000
fuzz-api: $(STAMP)
	$(BIN)/python tests/fuzz_api.py --examples $(FUZZ_EXAMPLES) $(if $(FUZZ_ARGS),-- $(FUZZ_ARGS))

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
