"""bcrypt wrapper: pure (no server); cost 4 keeps it fast."""

from __future__ import annotations

import bcrypt

from server.auth.passwords import dummy_hash, hash_password, verify_password, verify_password_sync


async def test_hash_then_verify_round_trip_with_the_configured_cost() -> None:
    hashed = await hash_password("ünïcode password", 4)
    assert hashed.startswith("$2b$04$")
    assert await verify_password("ünïcode password", hashed)
    assert not await verify_password("unicode password", hashed)


def test_broken_hash_or_over_long_password_is_a_mismatch_not_a_crash() -> None:
    assert verify_password_sync("whatever password", "not-a-bcrypt-hash") is False
    assert verify_password_sync("x" * 100, bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(4)).decode()) is False


def test_dummy_hash_costs_as_much_as_a_real_one_and_matches_nothing() -> None:
    assert dummy_hash(5).startswith("$2b$05$"), "same cost as real hashes, so the same time"
    assert dummy_hash(5) is dummy_hash(5), "computed once"
    assert not verify_password_sync("", dummy_hash(5))
