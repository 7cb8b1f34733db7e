"""The abuse-resistance settings: defaults valid, each bad value reported on its own line."""

from __future__ import annotations

import pytest

from server.config import ConfigError, Settings, load_settings, validate


def test_defaults_are_valid() -> None:
    assert validate(Settings()) == []


@pytest.mark.parametrize("changes, problem", [
    ({"password_min_score": 5}, "password_min_score"),
    ({"jwt_leeway_s": -1}, "jwt_leeway_s"),
    ({"jwt_leeway_s": 301}, "jwt_leeway_s"),
    ({"unverified_account_ttl_s": 60}, "unverified_account_ttl_s"),
    ({"login_failures_per_account": 2, "login_failures_per_address": 5}, "login_failures_per_account"),
    ({"http_max_connections": 4}, "http_max_connections"),
    ({"user_quota_bytes": 0}, "user_quota_bytes"),
    ({"uploads_per_user_per_min": 0}, "uploads_per_user_per_min"),
    ({"http_header_timeout_s": 0}, "http_header_timeout_s"),
    ({"account_mails_per_hour": 0}, "account_mails_per_hour"),
])
def test_bad_values_are_named(changes: dict, problem: str) -> None:
    problems = validate(Settings(**changes))
    assert [p for p in problems if p.startswith(f"{problem}:")], problems


def test_from_the_environment_all_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"IMAGEPIPE_PASSWORD_MIN_SCORE": "9", "IMAGEPIPE_HTTP_BODY_TIMEOUT_S": "0"})
    assert len(info.value.problems) == 2
