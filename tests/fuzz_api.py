"""Schema-driven fuzzing of a real ``imagepipe serve`` with schemathesis, from our OpenAPI document.

Verified accounts: the fuzzer acts as alice. bob owns a published post (with his own comment and
like on it), a post in review (three others reported it: its renditions are held) and a pending
upload, follows carol and erin, blocks dave, has a profile and an unread notification; carol blocks
alice and owns a published post. Nobody the fuzzer acts as is an admin. The fuzzer is pointed at
all of it (``fuzz_hooks.py``). Every operation gets ``--examples`` generated cases in each phase
(examples, coverage, fuzzing) plus stateful sequences along the document's links, under every
schemathesis check (no 5xx, status codes, content types, headers and bodies as documented, auth
enforced, object-level authorization between alice and bob) and ours (nothing of bob's private data
and nothing of carol's reaches alice; alice changes none of bob's posts, deletes none of his
comments, reads none of his held renditions, marks none of his notifications read, and gets only
403 ``admin_required`` from the admin API). Afterwards bob's and carol's data is read back as they
see it: nothing alice did may have changed it.

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
from server.feed.rules import Position, encode_position  # noqa: E402
from test_pipeline_hooks import HttpApi  # noqa: E402

PASSWORD = "a long enough password"  # HttpApi.signup's
# The fuzzer must reach the code behind the limits, not spend its cases on 429s; the limits have
# their own tests.
SERVER_ENV = {
    "IMAGEPIPE_RATE_LIMIT_IP_PER_MIN": "1000000",
    "IMAGEPIPE_RATE_LIMIT_ACCOUNT_PER_MIN": "1000000",
    "IMAGEPIPE_RATE_LIMIT_FOLLOWS_PER_MIN": "1000000",
    "IMAGEPIPE_RATE_LIMIT_LIKES_PER_MIN": "1000000",
    "IMAGEPIPE_RATE_LIMIT_COMMENTS_PER_MIN": "1000000",
    "IMAGEPIPE_UPLOADS_PER_USER_PER_MIN": "1000000",
    "IMAGEPIPE_MAX_OPEN_UPLOADS_PER_USER": "1000000",
    "IMAGEPIPE_LOGIN_FAILURES_PER_ADDRESS": "1000000",
    "IMAGEPIPE_LOGIN_FAILURES_PER_ACCOUNT": "1000000",
    "IMAGEPIPE_REPORTS_PER_HOUR": "1000000",
    # alice alone (one report per post, ever) can never hide bob's published post; carol, erin and
    # frank hide his second one before the run.
    "IMAGEPIPE_REPORT_HIDE_THRESHOLD": "3",
    "IMAGEPIPE_WORKERS": "1",
}
BOB_PROFILE = {"display_name": "Bob B.", "bio": "bob's own words"}
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

# Values taken from earlier answers make a path-only operation's input space a handful of ids,
# which Hypothesis exhausts after a few cases: the fuzzing phase draws from the schema (and
# fuzz_hooks aims a quarter of it at bob's and carol's real ids); the stateful phase keeps them.
[phases.fuzzing.extra-data-sources]
responses = false

# Longer call sequences along the links: comment then delete it, profile then follow...
[phases.stateful]
max-steps = 12

[checks]
# valid input may still be refused for reasons of state (404 for an id that does not exist)
positive_data_acceptance.enabled = false

[checks.negative_data_rejection]
# schemathesis' default list, plus the server's other refusals: 408 and 413 for a JSON body, 414
# and 431 for a request line or headers too long to read (the document lists them).
expected-statuses = [400, 401, 403, 404, 405, 406, 408, 409, 413, 414, 415, 422, 428, 429, 431, "5xx"]

[auth.wfc]
path = "{auth}"
user = "alice"
peers = ["alice", "bob"]
refresh_interval = 60

# The notification stream stays open: schemathesis reads an event stream until max-stream-events
# events arrived or the request timeout passed (and checks what arrived), so each stream that opens
# costs one timeout; its refusals (400, 401, 429) answer at once.
[[operations]]
include-operation-id = "streamNotifications"
request-timeout = 1.0
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


def _published(api: HttpApi, side: int = 300) -> str:
    post_id = api.complete(api.put_source(small_jpeg(side)))
    deadline = time.monotonic() + 120
    while api.post(post_id)["status"] != "published":
        if time.monotonic() > deadline:
            raise AssertionError(f"the post did not publish: {api.post(post_id)}")
        time.sleep(0.2)
    return post_id


def _held_parts(url: str) -> list[str]:
    """[post_id, claim, file] of a held rendition's URL (``.../posts/{post_id}/held/{claim}/{file}``)."""
    head, tail = url.split("/held/", 1)
    return [head.rsplit("/", 1)[1], *tail.split("/")]


def _ok(api: HttpApi, method: str, path: str, body: dict | None = None, status: int = 200) -> dict:
    got, answer, _ = api.call(method, path, body)
    assert got == status, (method, path, got, answer)
    return answer


def seed_victims(base_url: str, data_dir: Path) -> dict[str, Any]:
    """bob's and carol's data that alice must neither see (what is private) nor change."""
    bob = HttpApi(base_url).signup(data_dir, username="bob")
    carol = HttpApi(base_url).signup(data_dir, username="carol")
    others = {name: HttpApi(base_url).signup(data_dir, username=name) for name in ("dave", "erin", "frank")}
    ids = {name: _ok(HttpApi(base_url), "GET", f"/api/v1/users/{name}")["id"] for name in ("bob", "carol", "dave", "erin")}
    published = _published(bob)
    in_review = _published(bob, side=310)
    for reporter in (carol, others["erin"], others["frank"]):  # report_hide_threshold: held for review
        _ok(reporter, "POST", f"/api/v1/posts/{in_review}/reports", {"reason": "spam"}, 202)
    held = _ok(bob, "GET", f"/api/v1/posts/{in_review}")
    assert held["status"] == "in_review", held
    _ok(others["frank"], "PUT", "/api/v1/users/bob/follow")  # bob's notification
    notification = next(n for n in _ok(bob, "GET", "/api/v1/notifications")["items"] if n["kind"] == "follow")
    pending = _ok(bob, "POST", "/api/v1/posts/upload/init",
                  {"filename": "p.jpg", "content_type": "image/jpeg", "file_size": 1000}, 201)
    comment = _ok(bob, "POST", f"/api/v1/posts/{published}/comments", {"body": "bob's own comment"}, 201)
    _ok(bob, "PUT", f"/api/v1/posts/{published}/like")
    _ok(bob, "PUT", "/api/v1/users/carol/follow")
    _ok(bob, "PUT", "/api/v1/users/erin/follow")  # alice may follow and unfollow erin herself
    _ok(bob, "PUT", "/api/v1/users/dave/block")
    _ok(bob, "PATCH", "/api/v1/users/me", BOB_PROFILE)
    carol_post = _published(carol)
    _ok(carol, "PUT", "/api/v1/users/alice/block")
    alice = _login(base_url, "alice")
    assert alice is not None
    _ok(others["erin"], "PUT", "/api/v1/users/alice/follow")  # an event for alice's streams to carry
    own_comment = _ok(alice, "POST", f"/api/v1/posts/{published}/comments", {"body": "alice's, hers to delete"}, 201)
    return {
        "user_id": ids["bob"], "email": "bob@example.org",
        "post_ids": [published, pending["post_id"], in_review],
        "private_post_ids": [pending["post_id"], in_review],
        # (post_id, claim, file) of each held rendition, from the URLs bob's post carries
        "held": [_held_parts(v["url"]) for v in held["variants"].values()],
        "notification_id": notification["id"],
        # An event id before any notification: a stream resumed there carries alice's, as events.
        "stream_from_start": encode_position(Position(0, 0)),
        "published_post_id": published, "tokens": [pending["upload_token"]], "comment_id": comment["id"],
        "alice_comment_id": own_comment["id"],
        "user_refs": [ids["bob"], "bob"],
        # carol blocks alice: to alice, nothing of carol's exists.
        "hidden": {"user_id": ids["carol"], "username": "carol", "post_id": carol_post},
        "other_ids": [ids["dave"], "dave", ids["erin"], "erin"],
    }


def _login(base_url: str, name: str) -> HttpApi | None:
    status, tokens, _ = HttpApi(base_url).call("POST", "/api/v1/auth/login", {"login": name, "password": PASSWORD})
    return HttpApi(base_url, tokens["access_token"]) if status == 200 else None


def victim_problems(base_url: str, victim: dict[str, Any]) -> list[str]:
    """What of bob's and carol's is no longer as it was, read as they see it."""
    bob, carol = _login(base_url, "bob"), _login(base_url, "carol")
    if bob is None or carol is None:
        return [f"bob or carol can no longer log in: {bob}, {carol}"]
    published = victim["published_post_id"]
    problems = []

    def expect(what: str, api: HttpApi, path: str, check: Any) -> None:
        status, body, _ = api.call("GET", path)
        if status != 200 or not check(body):
            problems.append(f"{what} changed: GET {path} -> {status} {json.dumps(body)[:400]}")

    expected = {published: "published", victim["private_post_ids"][0]: "pending_upload",
                victim["private_post_ids"][1]: "in_review"}
    expect("bob's posts", bob, f"/api/v1/users/{victim['user_id']}/posts",
           lambda page: {i["id"]: i["status"] for i in page["items"]} == expected)
    expect("bob's comment", bob, f"/api/v1/posts/{published}/comments?limit=100",
           lambda page: victim["comment_id"] in [c["id"] for c in page["items"]])
    expect("bob's like", bob, f"/api/v1/posts/{published}", lambda post: post["liked_by_me"] is True)
    expect("bob's follows", bob, f"/api/v1/users/{victim['user_id']}/following?limit=100",
           lambda page: sorted(u["username"] for u in page["items"]) == ["carol", "erin"])
    expect("bob's block of dave", bob, "/api/v1/users/me/blocks?limit=100",
           lambda page: [u["username"] for u in page["items"]] == ["dave"])
    expect("bob's profile", bob, "/api/v1/users/me",
           lambda p: {k: p[k] for k in BOB_PROFILE} == BOB_PROFILE)
    expect("bob's unread notification", bob, "/api/v1/notifications?unread_only=true&limit=100",
           lambda page: victim["notification_id"] in [n["id"] for n in page["items"]])
    for post_id, claim, file in victim["held"]:
        expect("bob's held rendition", bob, f"/api/v1/posts/{post_id}/held/{claim}/{file}", lambda _: True)
    expect("carol's block of alice", carol, "/api/v1/users/me/blocks?limit=100",
           lambda page: [u["username"] for u in page["items"]] == ["alice"])
    expect("carol's post", carol, f"/api/v1/posts/{victim['hidden']['post_id']}", lambda p: p["status"] == "published")
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
        victim = seed_victims(server.base_url, data_dir)

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
