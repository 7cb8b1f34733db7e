"""Schema-driven fuzzing of a real ``imagepipe serve`` with schemathesis, from our OpenAPI document.

Two verified accounts: the fuzzer acts as alice; bob owns a published post and a pending upload
the fuzzer is pointed at (``fuzz_hooks.py``). Every operation gets ``--examples`` generated cases
in each phase (examples, coverage, fuzzing) plus stateful sequences along the document's links,
under every schemathesis check (no 5xx, status codes, content types, headers and bodies as
documented, auth enforced, object-level authorization between the two accounts) and ours
(nothing of bob's leaks, none of bob's posts changes). Afterwards bob's data is read back.

The suite runs a short session (``test_openapi_fuzz.py``); ``make fuzz-api`` a longer one:
``python tests/fuzz_api.py --examples 1000 [--seed N] [-- extra schemathesis args]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
if str(TESTS.parent) not in sys.path:
    sys.path.insert(0, str(TESTS.parent))

from helpers_posts import small_jpeg  # noqa: E402
from serverproc import ServerProcess, free_port, server_env  # noqa: E402
from test_pipeline_hooks import HttpApi  # noqa: E402

PASSWORD = "a long enough password"  # HttpApi.signup's
# The fuzzer must reach the code behind the limits, not spend its cases on 429s; the limits have
# their own tests.
SERVER_ENV = {
    "IMAGEPIPE_RATE_LIMIT_IP_PER_MIN": "1000000",
    "IMAGEPIPE_RATE_LIMIT_ACCOUNT_PER_MIN": "1000000",
    "IMAGEPIPE_MAX_OPEN_UPLOADS_PER_USER": "1000000",
    "IMAGEPIPE_WORKERS": "1",
}
CONFIG = """\
hooks = "fuzz_hooks"
workers = {workers}
{seed}
continue-on-failure = true
suppress-health-check = ["too_slow", "filter_too_much"]

[generation]
max-examples = {examples}
database = "none"
# Unknown query parameters are ignored, as by most HTTP APIs; not an error to report.
allow-extra-parameters = false

[checks]
# valid input may still be refused for reasons of state (404 for an id that does not exist)
positive_data_acceptance.enabled = false

[auth.wfc]
path = "{auth}"
user = "alice"
peers = ["alice", "bob"]
refresh_interval = 60
"""


@dataclass
class FuzzRun:
    returncode: int
    output: str
    cases: dict[str, dict[str, int]]  # operation ("POST /api/v1/auth/login") -> phase -> test cases
    seconds: float
    victim_problems: list[str]


def _login_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "loginEndpointAuth": {
            "endpoint": "/api/v1/auth/login",
            "verb": "POST",
            "contentType": "application/json",
            "payloadRaw": json.dumps({"login": name, "password": PASSWORD}),
            "token": {"extractFrom": "body", "extractSelector": "/access_token", "sendIn": "header",
                      "sendName": "Authorization", "sendTemplate": "Bearer {token}"},
        },
    }


def seed_victim(bob: HttpApi, bob_id: str) -> dict[str, Any]:
    """A published post and a pending upload of bob's; what must stay his."""
    data = small_jpeg()
    published = bob.complete(bob.put_source(data))
    deadline = time.monotonic() + 120
    while bob.post(published)["status"] != "published":
        if time.monotonic() > deadline:
            raise AssertionError(f"bob's post did not publish: {bob.post(published)}")
        time.sleep(0.2)
    status, pending, _ = bob.call("POST", "/api/v1/posts/upload/init",
                                  {"filename": "p.jpg", "content_type": "image/jpeg", "file_size": 1000})
    assert status == 201, pending
    return {
        "user_id": bob_id, "email": "bob@example.org",
        "post_ids": [published, pending["post_id"]], "private_post_ids": [pending["post_id"]],
        "published_post_id": published, "tokens": [pending["upload_token"]],
    }


def victim_problems(base_url: str, victim: dict[str, Any]) -> list[str]:
    """What of bob's is no longer as it was."""
    bob = HttpApi(base_url)
    status, tokens, _ = bob.call("POST", "/api/v1/auth/login", {"login": "bob", "password": PASSWORD})
    if status != 200:
        return [f"bob can no longer log in: {status} {tokens}"]
    bob = HttpApi(base_url, tokens["access_token"])
    problems = []
    status, page, _ = bob.call("GET", f"/api/v1/users/{victim['user_id']}/posts")
    listed = {item["id"]: item["status"] for item in page.get("items", [])}
    expected = {victim["published_post_id"]: "published", victim["private_post_ids"][0]: "pending_upload"}
    if status != 200 or listed != expected:
        problems.append(f"bob's posts changed: {status} {listed}, expected {expected}")
    return problems


def cases_per_operation(events: Path) -> dict[str, dict[str, int]]:
    """Test cases schemathesis ran, per operation and phase, from its NDJSON event report."""
    cases: dict[str, dict[str, int]] = {}
    for line in events.read_text().splitlines() if events.exists() else []:
        finished = json.loads(line).get("ScenarioFinished")
        if finished:
            label = finished["recorder"]["label"]
            phases = cases.setdefault(label, {})
            phases[finished["phase"]] = phases.get(finished["phase"], 0) + len(finished["recorder"].get("cases", {}))
    return cases


def server_tracebacks(log: str) -> list[str]:
    """Log records with a traceback: a handler that crashed, even if its answer looked fine.
    aiohttp's own parser errors (a malformed request line or header, answered 400 before any of
    our code runs) are left out: the fuzzer sends those on purpose."""
    records = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", log)
    return [r for r in records if "Traceback (most recent call last)" in r and "aiohttp.http_exceptions." not in r]


def run_fuzz(workdir: Path, examples: int, *, seed: int | None = None, workers: int = 1,
             extra_args: Sequence[str] = (), timeout: float = 3600) -> FuzzRun:
    data_dir = workdir / "data"
    with ServerProcess(data_dir, free_port(), server_env(**SERVER_ENV)).start() as server:
        HttpApi(server.base_url).signup(data_dir, username="alice")
        bob = HttpApi(server.base_url).signup(data_dir, username="bob")
        _, me, _ = bob.call("GET", "/api/v1/auth/me")
        victim = seed_victim(bob, me["id"])

        auth_file = workdir / "wfc-auth.json"
        auth_file.write_text(json.dumps({"auth": [_login_entry("alice"), _login_entry("bob")]}))
        victim_file, events = workdir / "victim.json", workdir / "events.ndjson"
        victim_file.write_text(json.dumps(victim))
        config = workdir / "schemathesis.toml"
        config.write_text(CONFIG.format(workers=workers, examples=examples, auth=auth_file,
                                        seed=f"seed = {seed}" if seed is not None else ""))
        env = {**os.environ, "FUZZ_VICTIM": str(victim_file),
               "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        # Loaded from a copy of what the server serves: given the URL itself, schemathesis leaves
        # out the operation that serves the document, and that one is to be tested too.
        status, document, _ = HttpApi(server.base_url).call("GET", "/api/v1/openapi.json")
        assert status == 200, document
        (workdir / "openapi.json").write_text(json.dumps(document))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
             str(workdir / "openapi.json"), "--url", server.base_url, "--no-color", "--report", "junit,ndjson",
             "--report-dir", str(workdir / "report"), "--report-ndjson-path", str(events), *extra_args],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
        )
        seconds = time.monotonic() - started
        problems = victim_problems(server.base_url, victim)
        server_log = server.log_text()
    output = done.stdout + done.stderr
    problems += [f"the server logged a traceback:\n{record}" for record in server_tracebacks(server_log)]
    return FuzzRun(done.returncode, output, cases_per_operation(events), seconds, problems)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="cases per operation and phase")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int, default=1,
                        help="more workers share the fuzzer's tokens: logout then cuts the others' runs short")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (server log, reports)")
    parser.add_argument("extra", nargs="*", help="more schemathesis run arguments (after --)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="imagepipe-fuzz-"))
    run = run_fuzz(workdir, args.examples, seed=args.seed, workers=args.workers, extra_args=args.extra)
    print(run.output)
    for label, phases in sorted(run.cases.items()):
        print(f"{label:60} {phases}")
    total = sum(n for phases in run.cases.values() for n in phases.values())
    print(f"{len(run.cases) - ('Stateful tests' in run.cases)} operations, {total} test cases in {run.seconds:.0f} s; work dir {workdir}")
    for problem in run.victim_problems:
        print("PROBLEM:", problem)
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if run.returncode == 0 and not run.victim_problems else 1


if __name__ == "__main__":
    sys.exit(main())
