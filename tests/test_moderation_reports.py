"""Reports through HTTP on the real app and pipeline: three distinct accounts hide a published post,
a second report by one account changes nothing, and every bad report is a 4xx that changes nothing."""

from __future__ import annotations

import uuid

from helpers_moderation import ModApi, mod  # noqa: F401  (fixture)
from helpers_posts import small_jpeg


async def report(mod: ModApi, token: str, post_id: str, reason: str = "nudity", **extra: object) -> tuple[int, dict]:
    return await mod.call("POST", f"/api/v1/posts/{post_id}/reports", token, {"reason": reason, **extra})


async def test_three_distinct_reports_hide_a_post_and_a_repeat_changes_nothing(mod: ModApi) -> None:
    owner, owner_token = await mod.user()
    post = await mod.publish(owner_token, small_jpeg())
    assert post["status"] == "published"
    public_url = post["variants"]["medium"]["url"]
    assert await mod.fetch(public_url) == 200
    reporters = [await mod.user() for _ in range(3)]

    assert (await report(mod, reporters[0][1], post["id"], note="not ok"))[0] == 202
    status, body = await report(mod, reporters[0][1], post["id"], "spam")  # the same account again
    assert (status, body["error"]["code"]) == (409, "already_reported")
    assert await mod.count("reports") == 1
    assert (await report(mod, reporters[1][1], post["id"]))[0] == 202
    status, seen = await mod.call("GET", f"/api/v1/posts/{post['id']}")
    assert seen["status"] == "published"  # two reporters: still public

    assert (await report(mod, reporters[2][1], post["id"], "violence"))[0] == 202
    status, body = await mod.call("GET", f"/api/v1/posts/{post['id']}")
    assert (status, body["error"]["code"]) == (404, "post_not_found")  # gone for the public
    status, mine = await mod.call("GET", f"/api/v1/posts/{post['id']}", owner_token)
    assert status == 200 and mine["status"] == "in_review"
    assert mine["moderation"]["held_by"] == "reports"
    # The renditions left posts/: the old public URL is dead, the owner reads them privately.
    assert await mod.fetch(public_url) == 404
    held_url = mine["variants"]["medium"]["url"]
    assert "/held/" in held_url
    assert await mod.fetch(held_url, owner_token) == 200
    assert await mod.fetch(held_url, reporters[0][1]) == 404
    assert await mod.fetch(held_url) == 401
    status, listed = await mod.call("GET", f"/api/v1/users/{owner}/posts")
    assert listed["items"] == []
    status, listed = await mod.call("GET", f"/api/v1/users/{owner}/posts", owner_token)
    assert [p["status"] for p in listed["items"]] == ["in_review"]

    # A fourth account cannot report what it can no longer see; the audit says who hid it and why.
    status, body = await report(mod, (await mod.user())[1], post["id"])
    assert (status, body["error"]["code"]) == (404, "post_not_found")
    async with mod.pool.acquire() as conn:
        audit = await conn.fetch("SELECT actor, action, reason FROM moderation_audit WHERE post_id = $1",
                                 uuid.UUID(post["id"]))
    assert [(a["actor"], a["action"]) for a in audit] == [("reports", "hide")]
    assert "3" in audit[0]["reason"]


async def test_bad_reports_are_refused_and_change_nothing(mod: ModApi) -> None:
    owner, owner_token = await mod.user()
    post = await mod.publish(owner_token, small_jpeg())
    _, token = await mod.user()
    _, unverified = await mod.user(verified=False)
    cases = [
        (token, post["id"], {"reason": "boring"}, 400, "invalid_reason"),
        (token, post["id"], {}, 400, "invalid_reason"),
        (token, post["id"], {"reason": "spam", "note": 5}, 400, "invalid_request"),
        (token, post["id"], {"reason": "spam", "note": "x" * 1001}, 400, "invalid_request"),
        (token, post["id"], {"reason": "spam", "note": "a\x00b"}, 400, "invalid_request"),
        (token, "not-a-uuid", {"reason": "spam"}, 400, "invalid_id"),
        (token, str(uuid.uuid4()), {"reason": "spam"}, 404, "post_not_found"),
        (owner_token, post["id"], {"reason": "spam"}, 400, "cannot_report_own"),
        (unverified, post["id"], {"reason": "spam"}, 403, "email_not_verified"),
        (None, post["id"], {"reason": "spam"}, 401, "unauthorized"),
    ]
    blocked_id, blocked = await mod.user()  # the owner blocks them: the post does not exist for them
    assert (await mod.call("PUT", f"/api/v1/users/{blocked_id}/block", owner_token))[0] == 200
    cases.append((blocked, post["id"], {"reason": "spam"}, 404, "post_not_found"))
    for caller, post_id, body, status, code in cases:
        got, answer = await mod.call("POST", f"/api/v1/posts/{post_id}/reports", caller, body)
        assert (got, answer["error"]["code"]) == (status, code), (body, answer)
    assert await mod.count("reports") == 0
    assert await mod.count("moderation_audit") == 0


async def test_reports_per_account_are_limited(mod: ModApi) -> None:
    _, owner_token = await mod.user()
    posts = [await mod.publish(owner_token, small_jpeg(200 + i)) for i in range(6)]
    _, token = await mod.user()
    for post in posts[:5]:
        assert (await report(mod, token, post["id"], "spam"))[0] == 202
    status, body = await report(mod, token, posts[5]["id"], "spam")
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert await mod.count("reports") == 5
    _, other = await mod.user()  # the limit is per account: another account is not starved
    assert (await report(mod, other, posts[5]["id"], "spam"))[0] == 202


async def test_a_comment_across_a_block_cannot_be_reported(mod: ModApi) -> None:
    """Blocks make each side's comments absent to the other: reporting one is 404, as for a post."""
    owner, owner_token = await mod.user()
    post = await mod.publish(owner_token, small_jpeg(300))
    author, author_token = await mod.user()
    reporter, reporter_token = await mod.user()
    status, comment = await mod.call("POST", f"/api/v1/posts/{post['id']}/comments", author_token, {"body": "hi"})
    assert status == 201
    for blocker, blocked in ((author_token, reporter), (reporter_token, author)):  # either way round
        assert (await mod.call("PUT", f"/api/v1/users/{blocked}/block", blocker))[0] == 200
        status, body = await mod.call("POST", f"/api/v1/comments/{comment['id']}/reports", reporter_token,
                                      {"reason": "harassment"})
        assert (status, body["error"]["code"]) == (404, "comment_not_found")
        assert (await mod.call("DELETE", f"/api/v1/users/{blocked}/block", blocker))[0] == 200
    assert await mod.count("reports") == 0
    status, _ = await mod.call("POST", f"/api/v1/comments/{comment['id']}/reports", reporter_token,
                               {"reason": "harassment"})
    assert status == 202
