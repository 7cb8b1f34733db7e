"""Access JWTs: every claim required and checked, algorithm pinned (pure; no server needed)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from server.auth.tokens import decode_access_token, issue_access_token
from server.config import Settings
from server.http import ApiError

KEY = "k" * 48
SETTINGS = Settings()


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {
        "sub": str(uuid.uuid4()), "iat": now, "exp": now + 60, "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience, "jti": str(uuid.uuid4()), "fam": str(uuid.uuid4()),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def refused(token: str, code: str = "invalid_token") -> str:
    with pytest.raises(ApiError) as info:
        decode_access_token(SETTINGS, KEY, token)
    assert info.value.status == 401 and info.value.code == code
    assert not token or token not in info.value.message
    return info.value.message


def test_round_trip_carries_user_and_a_fresh_jti() -> None:
    user_id = uuid.uuid4()
    token, expires_in = issue_access_token(SETTINGS, KEY, user_id)
    other, _ = issue_access_token(SETTINGS, KEY, user_id)
    decoded = decode_access_token(SETTINGS, KEY, token)
    assert decoded.sub == user_id
    assert expires_in == SETTINGS.access_token_ttl_s == 900
    assert decoded.exp - int(time.time()) in range(expires_in - 5, expires_in + 1)
    assert decoded.jti != decode_access_token(SETTINGS, KEY, other).jti
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_tampered_payload_is_refused() -> None:
    token, _ = issue_access_token(SETTINGS, KEY, uuid.uuid4())
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["sub"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    refused(f"{header}.{forged}.{signature}")


def test_wrong_key_is_refused() -> None:
    refused(jwt.encode(claims(), "x" * 48, algorithm="HS256"))


@pytest.mark.parametrize("field, value", [("aud", "someone-else"), ("iss", "evil")])
def test_wrong_audience_or_issuer_is_refused(field: str, value: str) -> None:
    refused(jwt.encode(claims(**{field: value}), KEY, algorithm="HS256"))


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "iss", "aud", "jti", "fam"])
def test_every_claim_is_required(missing: str) -> None:
    refused(jwt.encode(claims(**{missing: None}), KEY, algorithm="HS256"))


def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=").decode()
    refused(f"{header}.{payload}.")


# The forged token signs with our 48-byte key under HS512 on purpose; PyJWT warns that is short for it.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_hmac_algorithm_is_refused_because_the_algorithm_is_pinned() -> None:
    refused(jwt.encode(claims(), KEY, algorithm="HS512"))


def test_expired_token_is_refused_as_token_expired_so_the_client_refreshes() -> None:
    now = int(time.time())
    assert "expired" in refused(jwt.encode(claims(iat=now - 120, exp=now - 60), KEY, algorithm="HS256"), "token_expired")


@pytest.mark.parametrize("field, offset", [("exp", -25), ("iat", 25), ("nbf", 25)])
def test_clocks_up_to_30_s_apart_agree(field: str, offset: int) -> None:
    """An instance whose clock runs behind or ahead of the issuer's by less than the leeway."""
    now = int(time.time())
    token = jwt.encode(claims(**{field: now + offset}), KEY, algorithm="HS256")
    assert decode_access_token(SETTINGS, KEY, token).sub


@pytest.mark.parametrize("field, offset, code", [("exp", -40, "token_expired"), ("iat", 40, "invalid_token"),
                                                 ("nbf", 40, "invalid_token")])
def test_clocks_further_apart_do_not(field: str, offset: int, code: str) -> None:
    now = int(time.time())
    refused(jwt.encode(claims(**{field: now + offset}), KEY, algorithm="HS256"), code)


def test_leeway_is_a_setting() -> None:
    now = int(time.time())
    token = jwt.encode(claims(exp=now - 25), KEY, algorithm="HS256")
    with pytest.raises(ApiError) as info:
        decode_access_token(SETTINGS.with_overrides(jwt_leeway_s=0), KEY, token)
    assert info.value.code == "token_expired"


@pytest.mark.parametrize("field", ["sub", "jti"])
def test_non_uuid_ids_are_refused(field: str) -> None:
    refused(jwt.encode(claims(**{field: "not-a-uuid"}), KEY, algorithm="HS256"))


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
def test_garbage_is_refused(garbage: str) -> None:
    refused(garbage)
