"""The social rules and input checks as pure functions; then the SQL functions of 0010_social.sql
run on a real PostgreSQL over the same cases, so the two copies of each rule cannot drift apart."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from server.http import ApiError, rfc3339
from server.social import rules
from server.social.rules import Relation
from server.social.serialize import comment_json, profile_json
from server.social.validation import (
    COMMENT_MAX,
    UserRef,
    parse_comment,
    parse_password,
    parse_profile_patch,
    parse_user_ref,
)

OWNER, VIEWER = uuid.uuid4(), uuid.uuid4()
STATUSES = ("pending_upload", "processing", "published", "failed")


def _error(call, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


def test_rfc3339_is_utc_with_z_and_milliseconds() -> None:
    moment = datetime(2024, 5, 1, 14, 34, 56, 789123, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(moment) == "2024-05-01T12:34:56.789Z"
    assert rfc3339(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00.000Z"  # naive: taken as UTC
    assert rfc3339(None) is None


def test_only_published_undeleted_posts_are_public() -> None:
    assert rules.post_is_public("published", False)
    assert not rules.post_is_public("published", True)
    assert not any(rules.post_is_public(s, False) for s in STATUSES if s != "published")
    assert not rules.post_is_public("in_review", False)  # a status added later stays out of counts


def test_post_visibility() -> None:
    assert rules.post_visible_to(OWNER, "processing", False, None, False)  # readable by id while processing
    assert rules.post_visible_to(OWNER, "published", False, VIEWER, False)
    assert not rules.post_visible_to(OWNER, "published", False, VIEWER, True)  # across a block
    assert not rules.post_visible_to(OWNER, "published", True, OWNER, False)  # deleted, even for the owner
    assert rules.post_visible_to(OWNER, "in_review", False, OWNER, False)
    assert not rules.post_visible_to(OWNER, "in_review", False, VIEWER, False)  # later statuses: owner only


def test_blocks_make_accounts_absent_both_ways() -> None:
    rules.check_profile_visible(Relation())
    for relation in (Relation(blocked_by_me=True), Relation(blocks_me=True), Relation(True, True)):
        assert _error(rules.check_profile_visible, relation).code == "user_not_found"
    rules.check_can_block(Relation(blocked_by_me=True))  # one's own block is one's to manage
    rules.check_can_block(Relation(blocked_by_me=True, blocks_me=True))
    assert _error(rules.check_can_block, Relation(blocks_me=True)).status == 404  # never "you are blocked"


def test_engagement_and_comment_deletion_rules() -> None:
    rules.check_post_for_engagement(True, True, True)
    assert _error(rules.check_post_for_engagement, False, False, False).code == "post_not_found"
    assert _error(rules.check_post_for_engagement, True, False, True).code == "post_not_found"
    assert _error(rules.check_post_for_engagement, True, True, False).code == "post_not_published"
    author, other = uuid.uuid4(), uuid.uuid4()
    rules.check_comment_delete(author, author, OWNER, True)
    rules.check_comment_delete(OWNER, author, OWNER, False)  # the owner, even across a block
    assert _error(rules.check_comment_delete, other, author, OWNER, True).status == 403
    assert _error(rules.check_comment_delete, other, author, OWNER, False).status == 404
    assert not rules.view_counts(OWNER, OWNER) and rules.view_counts(VIEWER, OWNER)
    assert _error(rules.check_not_self, OWNER, OWNER, "follow").code == "cannot_follow_self"


def test_user_refs() -> None:
    some = uuid.uuid4()
    assert parse_user_ref(str(some)) == UserRef(id=some)
    assert parse_user_ref(str(some).upper()) == UserRef(id=some)
    assert parse_user_ref("Alice_99") == UserRef(username="alice_99")
    for raw in ("ab", "a" * 31, "al-ice", "al ice", "{" + str(some) + "}", some.hex + "x", "ålice", ""):
        assert _error(parse_user_ref, raw).code == "invalid_user", raw


def test_profile_patch() -> None:
    patch = parse_profile_patch({"display_name": " Zoë 🎉 ", "bio": "a\nb\tc"})
    assert patch.fields == {"display_name": "Zoë 🎉", "bio": "a\nb\tc"}
    assert parse_profile_patch({"bio": ""}).fields == {"bio": None}  # an empty string clears
    assert parse_profile_patch({"display_name": None}).fields == {"display_name": None}
    assert parse_profile_patch({}).fields == {} and not parse_profile_patch({}).has("bio")
    assert parse_profile_patch({"display_name": "x" * 50}).fields["display_name"] == "x" * 50
    assert parse_profile_patch({"display_name": "👨‍👩‍👧"}).fields["display_name"] == "👨‍👩‍👧"  # joiners are fine
    for body, code in (({"display_name": "x" * 51}, "invalid_display_name"),
                       ({"display_name": "tab\there"}, "invalid_display_name"),
                       ({"display_name": ["x"]}, "invalid_display_name"),
                       ({"bio": "x" * 301}, "invalid_bio"), ({"bio": "nul\x00"}, "invalid_bio"),
                       ({"bio": "c1\x85c1"}, "invalid_bio"), ({"bio": "\ud83d"}, "invalid_bio"),
                       ({"email": "a@b.co"}, "unknown_field")):
        error = _error(parse_profile_patch, body)
        assert (error.status, error.code) == (400, code), body


def test_comment_bodies() -> None:
    assert parse_comment({"body": "  hi <b>there</b>  "}) == "hi <b>there</b>"
    assert parse_comment({"body": "x" * COMMENT_MAX}) == "x" * COMMENT_MAX
    assert parse_comment({"body": " " * 50 + "x" * COMMENT_MAX + "\n"}) == "x" * COMMENT_MAX  # counted after trimming
    for body in ({}, {"body": None}, {"body": ""}, {"body": " \n\t "}, {"body": "x" * (COMMENT_MAX + 1)},
                 {"body": "bell\x07"}, {"body": "esc\x1b[31m"}, {"body": 1}, {"body": "\udfff"}):
        assert _error(parse_comment, body).code == "invalid_comment", body


def test_password_field() -> None:
    assert parse_password({"password": " spaces count "}) == " spaces count "
    for body in ({}, {"password": ""}, {"password": None}, {"password": 123}, {"password": "x" * 1025}):
        assert _error(parse_password, body).code == "invalid_password"


def test_serialized_shapes() -> None:
    at = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    row = {"id": OWNER, "username": "ann", "display_name": None, "bio": "hi", "posts_count": 1,
           "followers_count": 2, "following_count": 3, "created_at": at, "followed_by_me": True,
           "blocked_by_me": False}
    assert "followed_by_me" not in profile_json(row, None)
    assert profile_json(row, VIEWER)["followed_by_me"] is True
    assert profile_json(row, VIEWER)["created_at"] == "2024-01-02T03:04:05.000Z"
    comment = comment_json({"id": VIEWER, "post_id": OWNER, "user_id": OWNER, "username": "ann",
                            "display_name": "Ann", "body": "<i>x</i>", "created_at": at})
    assert comment == {"id": str(VIEWER), "post_id": str(OWNER),
                       "user": {"id": str(OWNER), "username": "ann", "display_name": "Ann"},
                       "body": "<i>x</i>", "created_at": "2024-01-02T03:04:05.000Z"}


async def test_the_sql_functions_agree_with_the_python_rules(db_pool) -> None:
    """post_is_public / users_blocked / post_visible_to against rules.py on every combination."""
    owner, viewer, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with db_pool.acquire() as conn:
        for user in (owner, viewer, third):
            await conn.execute("INSERT INTO users (id, email, username, password_hash) VALUES ($1, $2, $3, 'x')",
                               user, f"{user.hex}@example.org", f"u{user.hex[:20]}")
        for blocker, blocked in ((owner, third), (viewer, third)):  # blocks that must not matter
            await conn.execute("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", blocker, blocked)
        # Every status the database knows, so a status added later is checked here too.
        statuses = await conn.fetchval("SELECT enum_range(NULL::post_status)::text[]")
        assert rules.READABLE_BY_OTHERS <= set(statuses)
        cases = 0
        for direction in (None, "owner_blocks", "viewer_blocks"):
            await conn.execute("DELETE FROM blocks WHERE blocked_id <> $1", third)
            if direction:
                a, b = (owner, viewer) if direction == "owner_blocks" else (viewer, owner)
                await conn.execute("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)", a, b)
            for status, deleted, who in itertools.product(statuses, (False, True), (None, owner, viewer)):
                blocked = direction is not None and who == viewer
                assert await conn.fetchval("SELECT users_blocked($1, $2)", owner, who) is blocked
                in_set = await conn.fetchval("SELECT $2::uuid IN (SELECT id FROM blocked_ids($1))", owner, who)
                assert bool(in_set) is blocked
                assert await conn.fetchval("SELECT users_blocked($1, $2)", who, owner) is blocked
                deleted_at = datetime.now(timezone.utc) if deleted else None
                sql_public = await conn.fetchval("SELECT post_is_public($1::post_status, $2)", status, deleted_at)
                assert sql_public is rules.post_is_public(status, deleted)
                sql_visible = await conn.fetchval("SELECT post_visible_to($1, $2::post_status, $3, $4)",
                                                  owner, status, deleted_at, who)
                expected = rules.post_visible_to(owner, status, deleted, who, blocked)
                assert sql_visible is expected, (status, deleted, who, direction)
                cases += 1
        assert cases == 3 * len(statuses) * 2 * 3
