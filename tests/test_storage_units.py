"""Pure rules of the storage layer, no server: key shapes and upload-URL signatures."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from server.storage import InvalidKey
from server.storage.keys import post_variant_prefix, source_key, validate_key, validate_prefix
from server.storage.signing import (
    SignatureInvalid, UploadExpired, UploadGrant, derive_signing_key, normalize_sha256_hex, sign_query,
    verify_query,
)

KEY = derive_signing_key("a-jwt-secret-that-is-long-enough-32")
GRANT = UploadGrant(key="uploads/u/p/source", content_type="image/jpeg", size=1234,
                    sha256_hex=hashlib.sha256(b"x").hexdigest(), expires_at=1_000_000)


def test_layout_helpers_build_valid_keys() -> None:
    user, post = uuid.uuid4(), uuid.uuid4()
    assert validate_key(source_key(user, post)) == f"uploads/{user}/{post}/source"
    assert validate_prefix(post_variant_prefix(post)) == f"posts/{post}/"


@pytest.mark.parametrize("key", ["..", "a/../b", "/a", "a//b", "a/", ".a", "a/.b", "a\\b", "a b", "a\nb",
                                 "a" * 1025, "caf\u00e9"])
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)


@pytest.mark.parametrize("prefix", ["", "/", "../", "a//"])
def test_bad_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidKey):
        validate_prefix(prefix)


def test_signed_query_round_trips() -> None:
    query = sign_query(KEY, GRANT)
    assert verify_query(KEY, GRANT.key, query, now=GRANT.expires_at) == GRANT


@pytest.mark.parametrize("field, value", [("size", "1235"), ("ctype", "image/png"), ("expires", "1000001"),
                                          ("sha256", "0" * 64), ("sig", "f" * 64)])
def test_any_changed_field_breaks_the_signature(field: str, value: str) -> None:
    query = sign_query(KEY, GRANT) | {field: value}
    with pytest.raises(SignatureInvalid):
        verify_query(KEY, GRANT.key, query, now=0)


def test_other_key_other_object_or_missing_fields_are_invalid() -> None:
    query = sign_query(KEY, GRANT)
    with pytest.raises(SignatureInvalid):
        verify_query(derive_signing_key("another-secret-of-at-least-32-chars"), GRANT.key, query, now=0)
    with pytest.raises(SignatureInvalid):
        verify_query(KEY, "uploads/u/other/source", query, now=0)
    with pytest.raises(SignatureInvalid):
        verify_query(KEY, GRANT.key, {k: v for k, v in query.items() if k != "size"}, now=0)
    with pytest.raises(SignatureInvalid):
        verify_query(KEY, GRANT.key, query | {"size": "many"}, now=0)


def test_expired_after_the_deadline_only() -> None:
    query = sign_query(KEY, GRANT)
    verify_query(KEY, GRANT.key, query, now=GRANT.expires_at)
    with pytest.raises(UploadExpired):
        verify_query(KEY, GRANT.key, query, now=GRANT.expires_at + 1)


def test_signing_key_is_not_the_jwt_key() -> None:
    assert derive_signing_key("s" * 32) != b"s" * 32
    assert derive_signing_key("s" * 32) == derive_signing_key(b"s" * 32)


def test_sha256_normalisation() -> None:
    assert normalize_sha256_hex(None) is None
    assert normalize_sha256_hex("AB" * 32) == "ab" * 32
    for bad in ("ab", "zz" * 32, "ab" * 33):
        with pytest.raises(ValueError):
            normalize_sha256_hex(bad)
    with pytest.raises(ValueError):
        sign_query(KEY, UploadGrant("k", "image/jpeg\nx: y", 1, None, 1))
