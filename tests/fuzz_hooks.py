"""schemathesis hooks for ``fuzz_api.py`` (loaded by name through its config's ``hooks``).

The fuzzer acts as alice; bob is the other account, carol blocks alice. Besides schemathesis' own
checks (including ``object_level_authorization``, which replays alice's reads as bob), these hooks:
- aim some generated requests at bob's and carol's real posts, accounts, comments, held renditions
  and notifications, and some of alice's streams at her own past notifications (``flatmap_case``),
  which random ids would never hit;
- fail on any answer to alice that hands out what only bob may see (his e-mail address, his
  unpublished and in-review posts, his upload token, his held renditions), that shows her anything
  of carol's (carol blocks her: to alice, carol and her posts do not exist), that says a write
  changed one of bob's posts or deleted his comment, or that is anything but 401 or 403
  ``admin_required`` from the admin API (nobody the fuzzer acts as is an admin: a handler that
  looks at its input before the role gives that away) (``no_foreign_data``).

The victims' facts come from the JSON file named by ``FUZZ_VICTIM``.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import schemathesis
from hypothesis import strategies as st

VICTIM: dict[str, Any] = json.loads(open(os.environ["FUZZ_VICTIM"]).read())
HIDDEN: dict[str, str] = VICTIM["hidden"]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Operations that change a post itself (likes, comments, views on bob's published post are alice's
# own actions, which she may take).
POST_WRITES = {("DELETE", "/api/v1/posts/{post_id}"), ("POST", "/api/v1/posts/upload/complete")}
# alice may block bob (her own block), but then bob is absent to her and every later aimed case
# answers 404: the checks of what she may see of bob's would test nothing. So her blocks are aimed
# at carol and dave only (random usernames do not hit "bob").
BLOCK = ("PUT", "/api/v1/users/{user}/block")
# alice owns no post in review (uploads are not finished by the fuzzer, and nobody reports hers), so
# every held rendition she could read is someone else's.
HELD = ("GET", "/api/v1/posts/{post_id}/held/{claim}/{file}")
# A stream resumed before alice's first notification carries it at once, so its events are checked
# too (from now, a stream carries nothing: nobody acts on alice during the run).
STREAM = ("GET", "/api/v1/notifications/stream")
ADMIN_PREFIX = "/api/v1/admin/"
# What the server answers before an operation runs (a path the route does not match, a request it
# cannot read): no sign that the admin handler looked at anything.
BEFORE_ANY_OPERATION = {"not_found", "method_not_allowed", "bad_request", "uri_too_long", "headers_too_large"}
AIMS = {
    "post_id": [*VICTIM["post_ids"], HIDDEN["post_id"]],
    "user_id": [VICTIM["user_id"], HIDDEN["user_id"]],
    "user": [*VICTIM["user_refs"], HIDDEN["user_id"], HIDDEN["username"], *VICTIM["other_ids"]],
    "comment_id": [VICTIM["comment_id"], VICTIM["alice_comment_id"]],
    "up_to": [VICTIM["notification_id"]],
    "ids": [[VICTIM["notification_id"]]],
}


def _aimed(case: Any, name: str, value: str) -> Any:
    aimed = case.derive(keep_auth=True)  # still alice's request (and checked as hers)
    if name in (aimed.path_parameters or {}):
        aimed.path_parameters[name] = value
    if isinstance(aimed.body, dict) and name in aimed.body:
        aimed.body = {**aimed.body, name: value}
    # A generated cursor is one this API never issued (400): aimed at a real list, read its first page.
    aimed.query.pop("cursor", None)
    return aimed


def _resumed_from_start(case: Any) -> Any:
    aimed = case.derive(keep_auth=True)
    aimed.headers = {**(aimed.headers or {}), "Last-Event-ID": VICTIM["stream_from_start"]}
    aimed.query.pop("last_event_id", None)
    return aimed


def _aimed_at_held(case: Any, parts: list[str]) -> Any:
    aimed = case.derive(keep_auth=True)
    aimed.path_parameters = dict(zip(("post_id", "claim", "file"), parts))
    return aimed


@schemathesis.hook
def flatmap_case(context: Any, case: Any) -> Any:
    """A quarter of the valid cases that name a post, an account, a comment or a notification name
    one of bob's or carol's instead (a held rendition: one of bob's held files), and a quarter of
    alice's streams resume from before her first notification (invalid cases stay invalid: putting
    a real id in would make them valid)."""
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return st.just(case)
    if (case.method.upper(), case.path) == HELD:  # a real held file needs all three parts
        return st.one_of(st.just(case), st.just(case), st.just(case),
                         st.sampled_from(VICTIM["held"]).map(lambda parts: _aimed_at_held(case, parts)))
    if (case.method.upper(), case.path) == STREAM:
        return st.one_of(st.just(case), st.just(case), st.just(case), st.just(case).map(_resumed_from_start))
    named = [name for name in AIMS if name in (case.path_parameters or {})
             or (isinstance(case.body, dict) and name in case.body)]
    if not named:
        return st.just(case)
    name = named[0]
    values = AIMS[name]
    if (case.method.upper(), case.path) == BLOCK:
        values = [v for v in values if v not in VICTIM["user_refs"]]  # see BLOCK
    return st.one_of(st.just(case), st.just(case), st.just(case),
                     st.sampled_from(values).map(lambda value: _aimed(case, name, value)))


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    """schemathesis percent-encodes generated strings but not the text of a list or an object put
    in a path (a negative case): a ``?`` or ``#`` in it cut the path short, so the request reached
    another route (a 405 that is no finding). Encoded here, it reaches the operation it tests."""
    return {name: value if isinstance(value, str) else quote(str(value), safe="")
            for name, value in (path_parameters or {}).items()} or path_parameters


def _secrets() -> list[str]:
    return [VICTIM["email"], *VICTIM["private_post_ids"], *VICTIM["tokens"]]


def _error_code(response: Any) -> str | None:
    try:
        return response.json()["error"]["code"]
    except Exception:  # not an error answer, or not JSON
        return None


@schemathesis.check
def no_foreign_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """Nothing of bob's that is not public, and nothing of carol's, reaches alice; none of bob's
    posts changes and his comment stays."""
    if case.auth_identity != "alice":
        return None  # bob's own reads (schemathesis replays alice's as bob), or no account at all
    sent = json.dumps([case.path_parameters, case.query, case.body], default=str)
    text = response.content.decode("utf-8", "replace")
    leaked = [secret for secret in _secrets() if secret in text and secret not in sent]
    if leaked:
        raise AssertionError(f"{case.method} {case.path} answered with bob's private data: {leaked}")
    shown = [value for value in HIDDEN.values() if value in text]
    named = [value for value in HIDDEN.values() if value in sent]
    if shown or (named and 200 <= response.status_code < 300):
        raise AssertionError(f"{case.method} {case.path} showed alice carol, who blocks her: {shown or named}")
    if (case.method.upper(), case.path) == HELD and 200 <= response.status_code < 300:
        raise AssertionError(f"{case.method} {case.path} gave alice a held rendition of another account's post: "
                             f"{case.path_parameters}")
    if case.path.startswith(ADMIN_PREFIX):
        code = _error_code(response)
        if response.status_code != 401 and code not in ("admin_required", *BEFORE_ANY_OPERATION):
            raise AssertionError(f"{case.method} {case.path} answered alice, who is no admin, "
                                 f"{response.status_code} {code}, not 403 admin_required")
    if case.method.upper() in WRITE_METHODS and 200 <= response.status_code < 300:
        touched = [p for p in VICTIM["post_ids"] if p in sent] if (case.method.upper(), case.path) in POST_WRITES else []
        if VICTIM["comment_id"] in sent and case.method.upper() == "DELETE":
            touched.append(VICTIM["comment_id"])
        if touched:
            raise AssertionError(f"{case.method} {case.path} as alice changed bob's {touched}")
    return None
