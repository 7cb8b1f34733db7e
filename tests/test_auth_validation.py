"""Input rules for accounts, as pure functions."""

from __future__ import annotations

import pytest

from server.auth.validation import (
    check_email,
    check_password,
    check_username,
    parse_credentials,
    parse_registration,
)
from server.http import ApiError


def code_of(fn, *args) -> str:
    with pytest.raises(ApiError) as info:
        fn(*args)
    assert info.value.status == 400
    return info.value.code


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@sub.example.org", "O'Neil@example.ie", " x@y.org "])
def test_valid_emails(email: str) -> None:
    assert check_email(email) == email.strip()


@pytest.mark.parametrize(
    "email",
    ["", "plain", "@example.org", "a@", "a@b", "a b@example.org", "a@@example.org", "a@exa mple.org",
     "a..b@example.org", ".a@example.org", "a.@example.org", "a@-example.org", "a@example..org",
     "x" * 65 + "@example.org", "a@" + "b" * 250 + ".org", "a@example.org\nb", "a\n@example.org"],
)
def test_invalid_emails(email: str) -> None:
    assert code_of(check_email, email) == "invalid_email"


@pytest.mark.parametrize("raw, stored", [("abc", "abc"), ("Alice_1", "alice_1"), ("a" * 30, "a" * 30), ("___", "___")])
def test_usernames_are_lowercased(raw: str, stored: str) -> None:
    assert check_username(raw) == stored


@pytest.mark.parametrize("raw", ["ab", "a" * 31, "bob-1", "bob.1", "bøb", "bob 1", "ｂｏｂ", "İbo", ""])
def test_invalid_usernames(raw: str) -> None:
    assert code_of(check_username, raw) == "invalid_username"


def test_password_length_is_characters_at_least_and_bytes_at_most() -> None:
    assert check_password("a" * 10) == "a" * 10
    assert check_password("a" * 72) == "a" * 72
    assert check_password("€" * 24) == "€" * 24  # 72 bytes
    assert code_of(check_password, "a" * 9) == "password_too_short"
    assert code_of(check_password, "a" * 73) == "password_too_long"
    assert code_of(check_password, "€" * 24 + "a") == "password_too_long"
    assert code_of(check_password, "€" * 25) == "password_too_long"  # 25 characters, 75 bytes
    assert code_of(check_password, "abcdefghij\x00k") == "invalid_password"


def test_registration_checks_presence_and_type_first() -> None:
    assert code_of(parse_registration, {}) == "missing_field"
    assert code_of(parse_registration, {"email": None, "username": "abc", "password": "x" * 10}) == "missing_field"
    assert code_of(parse_registration, {"email": True, "username": "abc", "password": "x" * 10}) == "invalid_type"
    form = parse_registration({"email": "A@B.org", "username": "ABC", "password": "x" * 10, "extra": 1})
    assert (form.email, form.username, form.password) == ("A@B.org", "abc", "x" * 10)


def test_credentials() -> None:
    assert parse_credentials({"login": " bob ", "password": " p "}).login == "bob"
    assert parse_credentials({"login": "bob", "password": " p "}).password == " p ", "passwords are never trimmed"
    assert code_of(parse_credentials, {"login": "", "password": "p"}) == "invalid_login"
    assert code_of(parse_credentials, {"login": "x" * 300, "password": "p"}) == "invalid_login"
    assert code_of(parse_credentials, {"login": "bob", "password": 5}) == "invalid_type"
