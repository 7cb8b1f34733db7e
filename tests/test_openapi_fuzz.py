"""schemathesis against a real ``serve`` process, from the OpenAPI document: every operation, at
least 100 generated cases each, no failure of any check, nothing of bob's or carol's reaches alice
and nothing of theirs changes (``fuzz_api.py``, ``fuzz_hooks.py``).

A fixed seed keeps CI repeatable; ``make fuzz-api`` runs longer with a fresh seed each time.
About a minute and a half on the 2-core machine (58 operations, some 7,000 test cases).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz_api import run_fuzz
from server.openapi import load_document

pytestmark = pytest.mark.fault  # a real server process with its own PostgreSQL
EXAMPLES = 100
SEED = 20261201
METHODS = ("get", "put", "post", "delete", "patch")


def documented_operations() -> dict[str, bool]:
    """'METHOD /path' -> whether it takes any input (parameters or a body) to vary."""
    found = {}
    for path, item in load_document()["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                has_input = bool(item.get("parameters") or operation.get("parameters") or operation.get("requestBody"))
                found[f"{method.upper()} {path}"] = has_input
    return found


def test_schemathesis_finds_no_failure_on_any_operation(tmp_path: Path) -> None:
    run = run_fuzz(tmp_path, EXAMPLES, seed=SEED)
    assert run.returncode == 0, run.output[-12000:]
    assert run.victim_problems == []

    operations = documented_operations()
    assert set(operations) <= set(run.cases), f"not exercised: {set(operations) - set(run.cases)}"
    for label, has_input in operations.items():
        fuzzed = run.cases[label].get("fuzzing", 0)
        # An operation with nothing to vary has exactly one possible request.
        assert fuzzed >= (EXAMPLES if has_input else 1), f"{label}: only {fuzzed} fuzzed cases"
    assert run.cases.get("Stateful tests", {}).get("stateful", 0) > 0, "no stateful sequences along the links"
