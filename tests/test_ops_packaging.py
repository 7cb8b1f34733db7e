"""``make run`` installs what serving needs and nothing else; the test and build extras are installed
only by the targets that use them, and the code that runs never imports them."""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
from pathlib import Path

import pytest

from serverproc import REPO

RUNTIME_PACKAGES = ("server", "actors", "native_bench")


def dry_run(target: str, tmp_path: Path) -> list[str]:
    """The pip commands ``make TARGET`` would run in a fresh venv (make -n runs nothing)."""
    done = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=REPO, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if "pip install" in line and "--upgrade pip" not in line]


def test_make_run_installs_no_extra(tmp_path: Path) -> None:
    assert [line.split("pip ", 1)[1] for line in dry_run("run", tmp_path)] == ["install -e ."]


@pytest.mark.parametrize("target, extras", [("test", "test,dist"), ("test-fast", "test,dist"), ("dist", "dist")])
def test_test_and_build_targets_install_their_extras(target: str, extras: str, tmp_path: Path) -> None:
    assert [line.split("pip ", 1)[1] for line in dry_run(target, tmp_path)] == [f"install -e '.[{extras}]'"]


def test_ci_runs_make_test() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test\s*$", script, re.MULTILINE)


def _extra_modules() -> set[str]:
    """Import names of every package that only the test and dist extras bring (the test extra also
    installs the optional runtime extras, e.g. moderation, so CI runs them: those are not test-only)."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    extras = cfg["options.extras_require"]

    def names_of(extra: str) -> set[str]:
        return {re.split(r"[\[<>=!~]", r)[0].lower().replace("-", "_") for r in extras[extra].split()}

    optional_runtime = set().union(*(names_of(e) for e in extras if e not in ("test", "dist")))
    names = (names_of("test") | names_of("dist")) - optional_runtime
    runtime = {re.split(r"[\[<>=!~]", r)[0].lower().replace("-", "_")
               for r in cfg["options"]["install_requires"].split()}
    assert not names & runtime, "a test or build package is also a runtime dependency"
    return names


def test_running_code_never_imports_a_test_or_build_package() -> None:
    extras = _extra_modules()
    assert {"pytest", "moto", "pyinstaller"} <= extras
    offenders = []
    for package in RUNTIME_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                modules = []
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                offenders += [f"{path.relative_to(REPO)}: {m}" for m in modules if m.split(".")[0].lower() in extras]
    assert offenders == []
