"""Moderation's pure rules: visibility by status, report and removal input, the hide threshold,
the settings' validation and where held renditions live. No server, no database."""

from __future__ import annotations

import pytest

from server.config import ConfigError, load_settings
from server.http import ApiError
from server.moderation.objects import content_type, other_side
from server.moderation.rules import (
    MAX_NOTE_CHARS, check_transition, parse_removal, parse_report, reports_hide,
)


VISIBILITY = {  # (status, who) -> may see; "blocked_admin" is an admin the owner blocks
    ("in_review", "anonymous"): False, ("in_review", "owner"): True, ("in_review", "admin"): True,
    ("in_review", "blocked_admin"): True, ("in_review", "other"): False,
    ("removed", "anonymous"): False, ("removed", "owner"): True, ("removed", "admin"): False,
    ("removed", "blocked_admin"): False, ("removed", "other"): False,
    ("published", "anonymous"): True, ("published", "admin"): True, ("published", "blocked_admin"): False,
}


async def test_who_sees_a_post_in_review_or_removed_in_sql_and_in_its_python_mirror(db_pool) -> None:  # type: ignore[no-untyped-def]
    """In review: its owner and admins (blocks do not hide it from review); removed: the owner
    alone. The SQL rule the queries use and server/social/rules.py must say the same."""
    import uuid

    from server.social.rules import post_visible_to

    people = {name: uuid.uuid4() for name in ("owner", "admin", "blocked_admin", "other")}
    async with db_pool.acquire() as conn:
        for name, user in people.items():
            await conn.execute("INSERT INTO users (id, email, username, password_hash) VALUES ($1, $2, $3, 'x')",
                               user, f"{user.hex}@example.org", f"u{user.hex[:20]}")
        for name in ("admin", "blocked_admin"):
            await conn.execute("INSERT INTO admins (user_id) VALUES ($1)", people[name])
        await conn.execute("INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)",
                           people["owner"], people["blocked_admin"])
        for (status, who), expected in VISIBILITY.items():
            viewer = people.get(who)
            sql = await conn.fetchval("SELECT post_visible_to($1, $2::post_status, NULL, $3)",
                                      people["owner"], status, viewer)
            mirror = post_visible_to(people["owner"], status, False, viewer, blocked=who == "blocked_admin",
                                     viewer_is_admin=who in ("admin", "blocked_admin"))
            assert (sql, mirror) == (expected, expected), (status, who)


def test_reports_hide_only_published_posts_at_the_threshold() -> None:
    assert not reports_hide(2, 3, "published")
    assert reports_hide(3, 3, "published")
    assert reports_hide(4, 3, "published")
    assert not reports_hide(5, 3, "in_review")
    assert reports_hide(1, 1, "published")


def test_a_report_needs_a_known_reason_and_a_short_clean_note() -> None:
    assert parse_report({"reason": "spam"}).note == ""
    assert parse_report({"reason": "other", "note": "  see caption "}).note == "see caption"
    for body, code in (({"reason": "Spam"}, "invalid_reason"), ({"reason": None}, "invalid_reason"),
                       ({"reason": ["spam"]}, "invalid_reason"),
                       ({"reason": "spam", "note": "x" * (MAX_NOTE_CHARS + 1)}, "invalid_request"),
                       ({"reason": "spam", "note": "bell\x07"}, "invalid_request")):
        with pytest.raises(ApiError) as caught:
            parse_report(body)
        assert (caught.value.status, caught.value.code) == (400, code)
    assert parse_report({"reason": "spam", "note": "two\nlines"}).note == "two\nlines"


def test_a_removal_needs_a_reason() -> None:
    assert parse_removal({"reason": " nudity "}) == "nudity"
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 3}, {"reason": "x" * 501}):
        with pytest.raises(ApiError) as caught:
            parse_removal(body)
        assert caught.value.status == 400


def test_decisions_apply_only_to_their_statuses() -> None:
    check_transition("in_review", ("in_review",), "approve")
    with pytest.raises(ApiError) as caught:
        check_transition("published", ("in_review",), "approve")
    assert (caught.value.status, caught.value.code) == (409, "invalid_status")


def test_held_renditions_mirror_public_keys() -> None:
    assert other_side("posts/abc/medium.jpg", to_held=True) == "held/abc/medium.jpg"
    assert other_side("held/abc/medium.jpg", to_held=False) == "posts/abc/medium.jpg"
    assert other_side("held/abc/medium.jpg", to_held=True) is None
    assert other_side("posts/abc/medium.jpg", to_held=False) is None
    assert (content_type("held/a/x.webp"), content_type("held/a/x.jpg")) == ("image/webp", "image/jpeg")


def _problems(**settings: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(cli=settings, environ={})
    return caught.value.problems


def test_moderation_settings_are_validated() -> None:
    ok = load_settings(cli={"moderation": "nudenet", "moderation_review_score": "0"}, environ={})
    assert (ok.moderation, ok.moderation_review_score, ok.moderation_reject_score) == ("nudenet", 0.0, 0.9)
    assert load_settings(cli={"moderation": "my_pkg.models:make"}, environ={}).moderation == "my_pkg.models:make"
    assert load_settings(environ={}).moderation == "off"
    assert any("moderation:" in p for p in _problems(moderation="opencv"))
    assert any("moderation:" in p for p in _problems(moderation="os:system; rm"))
    assert any("outside 0-1" in p for p in _problems(moderation_review_score="1.5"))
    assert any("outside 0-1" in p for p in _problems(moderation_reject_score="-0.1"))
    assert any("must not exceed" in p for p in _problems(moderation_review_score="0.95", moderation_reject_score="0.9"))
    assert any("moderation_timeout_s" in p for p in _problems(moderation_timeout_s="60", job_timeout_s="60"))
    assert any("report_hide_threshold" in p for p in _problems(report_hide_threshold="0"))
    assert any("reports_per_hour" in p for p in _problems(reports_per_hour="0"))
