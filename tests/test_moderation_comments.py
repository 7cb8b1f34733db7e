"""Reporting comments. Comments belong to server/social (another room, built in parallel); until its
``comments`` table is on main this test creates a table of the agreed shape (id, post_id, user_id,
body, created_at) in its own database, and an instance without one answers 404 comment_not_found."""

from __future__ import annotations

import uuid

from helpers_moderation import ModApi, mod  # noqa: F401  (fixture)
from helpers_posts import small_jpeg

COMMENTS = """
CREATE TABLE IF NOT EXISTS comments (
    id uuid PRIMARY KEY, post_id uuid NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE, body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())
"""


async def comment_on(mod: ModApi, post_id: str, user_id: uuid.UUID) -> uuid.UUID:
    comment_id = uuid.uuid4()
    async with mod.pool.acquire() as conn:
        await conn.execute(COMMENTS)
        await conn.execute("INSERT INTO comments (id, post_id, user_id, body) VALUES ($1, $2, $3, 'rude')",
                           comment_id, uuid.UUID(post_id), user_id)
    return comment_id


async def test_a_comment_is_reported_once_per_account_and_listed_for_admins(mod: ModApi) -> None:
    async with mod.pool.acquire() as conn:
        social = await conn.fetchval("SELECT to_regclass('comments') IS NOT NULL")
    _, owner_token = await mod.user()
    post = await mod.publish(owner_token, small_jpeg())
    if not social:
        status, body = await mod.call("POST", f"/api/v1/comments/{uuid.uuid4()}/reports", owner_token, {"reason": "spam"})
        assert (status, body["error"]["code"]) == (404, "comment_not_found")
    author, author_token = await mod.user()
    comment_id = await comment_on(mod, post["id"], author)
    path = f"/api/v1/comments/{comment_id}/reports"

    assert (await mod.call("POST", path, owner_token, {"reason": "harassment", "note": "to me"}))[0] == 202
    status, body = await mod.call("POST", path, owner_token, {"reason": "spam"})
    assert (status, body["error"]["code"]) == (409, "already_reported")
    for token, body, status, code in (
        (author_token, {"reason": "spam"}, 400, "cannot_report_own"),
        (owner_token, {"reason": "meh"}, 400, "invalid_reason"),
    ):
        got, answer = await mod.call("POST", path, token, body)
        assert (got, answer["error"]["code"]) == (status, code)
    got, answer = await mod.call("POST", f"/api/v1/comments/{uuid.uuid4()}/reports", owner_token, {"reason": "spam"})
    assert (got, answer["error"]["code"]) == (404, "comment_not_found")
    assert await mod.count("reports", "comment_id IS NOT NULL") == 1
    # A comment report never hides the post, whatever the threshold.
    assert (await mod.call("GET", f"/api/v1/posts/{post['id']}"))[1]["status"] == "published"

    _, admin = await mod.admin()
    status, queue = await mod.call("GET", "/api/v1/admin/moderation/queue", admin)
    assert queue["items"] == []
    (reported,) = queue["reported_comments"]
    assert reported["comment_id"] == str(comment_id) and reported["report_count"] == 1
    assert reported["reasons"] == ["harassment"]
