"""Reporting comments made through the social API (server/social), on the real app."""

from __future__ import annotations

import uuid

from helpers_moderation import ModApi, mod  # noqa: F401  (fixture)
from helpers_posts import small_jpeg


async def comment_on(mod: ModApi, post_id: str, token: str) -> str:
    status, body = await mod.call("POST", f"/api/v1/posts/{post_id}/comments", token, {"body": "rude words"})
    assert status == 201, body
    return body["id"]


async def test_a_comment_is_reported_once_per_account_and_listed_for_admins(mod: ModApi) -> None:
    _, owner_token = await mod.user()
    post = await mod.publish(owner_token, small_jpeg())
    _, author_token = await mod.user()
    comment_id = await comment_on(mod, post["id"], author_token)
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
    assert reported["comment_id"] == comment_id and reported["report_count"] == 1
    assert reported["reasons"] == ["harassment"]

    # The author deletes the comment: its reports go with it, nothing is left to review.
    assert (await mod.call("DELETE", f"/api/v1/comments/{comment_id}", author_token))[0] == 204
    assert await mod.count("reports") == 0
