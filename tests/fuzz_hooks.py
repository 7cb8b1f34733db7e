"""schemathesis hooks for ``fuzz_api.py`` (loaded by name through its config's ``hooks``).

The fuzzer acts as alice; bob is the other account. Besides schemathesis' own checks (including
``object_level_authorization``, which replays alice's reads as bob), these hooks:
- aim some generated requests at bob's real posts and account (``flatmap_case``), which random
  ids would never hit;
- fail on any answer to a request not sent as bob that hands out what only bob may see (his e-mail
  address, his unpublished post) or that changed one of bob's posts (``no_foreign_data``);

The victim's facts come from the JSON file named by ``FUZZ_VICTIM``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

VICTIM: dict[str, Any] = json.loads(open(os.environ["FUZZ_VICTIM"]).read())
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _aimed_at_bob(case: Any, victim_id: str) -> Any:
    aimed = case.derive()
    if aimed.path_parameters and "post_id" in aimed.path_parameters:
        aimed.path_parameters["post_id"] = victim_id
    elif aimed.path_parameters and "user_id" in aimed.path_parameters:
        aimed.path_parameters["user_id"] = VICTIM["user_id"]
    if isinstance(aimed.body, dict) and "post_id" in aimed.body:
        aimed.body = {**aimed.body, "post_id": victim_id}
    return aimed


@schemathesis.hook
def flatmap_case(context: Any, case: Any) -> Any:
    """A quarter of the valid cases that name a post or an account name one of bob's instead
    (invalid cases stay invalid: putting a real id in would make them valid)."""
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return st.just(case)
    names_one = any(k in (case.path_parameters or {}) for k in ("post_id", "user_id")) or (
        isinstance(case.body, dict) and "post_id" in case.body)
    if not names_one:
        return st.just(case)
    return st.one_of(st.just(case), st.just(case), st.just(case),
                     st.sampled_from(VICTIM["post_ids"]).map(lambda post_id: _aimed_at_bob(case, post_id)))


def _secrets() -> list[str]:
    return [VICTIM["email"], *VICTIM["private_post_ids"], *VICTIM["tokens"]]


@schemathesis.check
def no_foreign_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """Nothing of bob's that is not public reaches anyone else; none of bob's posts changes."""
    if case.auth_identity == "bob":
        return None
    sent = json.dumps([case.path_parameters, case.query, case.body], default=str)
    text = response.content.decode("utf-8", "replace")
    leaked = [secret for secret in _secrets() if secret in text and secret not in sent]
    if leaked:
        raise AssertionError(f"{case.method} {case.path} answered with bob's private data: {leaked}")
    if case.method.upper() in WRITE_METHODS and 200 <= response.status_code < 300:
        touched = [p for p in VICTIM["post_ids"] if p in sent]
        if touched:
            raise AssertionError(f"{case.method} {case.path} as {case.auth_identity} changed bob's post {touched}")
    return None
