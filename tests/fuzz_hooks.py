"""schemathesis hooks for ``fuzz_api.py`` (loaded by name through its config's ``hooks``).

The fuzzer acts as alice; bob is the other account, carol blocks alice. Besides schemathesis' own
checks (including ``object_level_authorization``, which replays alice's reads as bob), these hooks:
- aim some generated requests at bob's and carol's real posts, accounts and comments
  (``flatmap_case``), which random ids would never hit;
- fail on any answer to alice that hands out what only bob may see (his e-mail address, his
  unpublished post, his upload token), that shows her anything of carol's (carol blocks her: to
  alice, carol and her posts do not exist), or that says a write changed one of bob's posts or
  deleted his comment (``no_foreign_data``).

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
AIMS = {
    "post_id": [*VICTIM["post_ids"], HIDDEN["post_id"]],
    "user_id": [VICTIM["user_id"], HIDDEN["user_id"]],
    "user": [*VICTIM["user_refs"], HIDDEN["user_id"], HIDDEN["username"], *VICTIM["other_ids"]],
    "comment_id": [VICTIM["comment_id"], VICTIM["alice_comment_id"]],
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


@schemathesis.hook
def flatmap_case(context: Any, case: Any) -> Any:
    """A quarter of the valid cases that name a post, an account or a comment name one of bob's or
    carol's instead (invalid cases stay invalid: putting a real id in would make them valid)."""
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return st.just(case)
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
    if case.method.upper() in WRITE_METHODS and 200 <= response.status_code < 300:
        touched = [p for p in VICTIM["post_ids"] if p in sent] if (case.method.upper(), case.path) in POST_WRITES else []
        if VICTIM["comment_id"] in sent and case.method.upper() == "DELETE":
            touched.append(VICTIM["comment_id"])
        if touched:
            raise AssertionError(f"{case.method} {case.path} as alice changed bob's {touched}")
    return None
