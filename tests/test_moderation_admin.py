"""The admin side through HTTP on the real app and pipeline: the role, the queue, approve and remove,
their audit, and 403 for everyone else on every admin call."""

from __future__ import annotations

import uuid

from helpers_moderation import ModApi, mod  # noqa: F401  (fixture)
from helpers_posts import small_jpeg

QUEUE = "/api/v1/admin/moderation/queue"


async def hidden_post(mod: ModApi, owner_token: str, colour: int = 300) -> dict:
    """A published post that three accounts reported: in review, renditions held."""
    post = await mod.publish(owner_token, small_jpeg(colour))
    for _ in range(3):
        _, token = await mod.user()
        status, body = await mod.call("POST", f"/api/v1/posts/{post['id']}/reports", token,
                                      {"reason": "harassment", "note": "mean"})
        assert status == 202, body
    return post


async def test_non_admins_get_403_on_every_admin_call(mod: ModApi) -> None:
    owner, owner_token = await mod.user()
    post = await hidden_post(mod, owner_token)
    _, stranger = await mod.user()
    calls = [
        ("GET", QUEUE, None),
        ("GET", f"{QUEUE}?limit=0&cursor=junk", None),  # bad input too: the role is checked first
        ("POST", f"/api/v1/admin/posts/{post['id']}/approve", None),
        ("POST", f"/api/v1/admin/posts/{post['id']}/remove", {"reason": "no"}),
        ("POST", "/api/v1/admin/posts/not-a-uuid/remove", {}),
        ("POST", f"/api/v1/admin/posts/{uuid.uuid4()}/approve", None),
    ]
    for token in (owner_token, stranger):  # the post's owner is no admin of it either
        for method, path, body in calls:
            status, answer = await mod.call(method, path, token, body)
            assert (status, answer["error"]["code"]) == (403, "admin_required"), (path, answer)
    for method, path, body in calls:
        status, answer = await mod.call(method, path, None, body)
        assert status == 401, (path, answer)
    assert await mod.count("posts", "status = 'in_review'") == 1
    assert await mod.count("moderation_audit", "action IN ('approve', 'remove')") == 0


async def test_an_admin_approves_a_hidden_post_back_into_public_view(mod: ModApi) -> None:
    owner, owner_token = await mod.user()
    post = await hidden_post(mod, owner_token)
    admin_id, admin = await mod.admin()

    status, queue = await mod.call("GET", QUEUE, admin)
    assert status == 200
    (item,) = queue["items"]
    assert item["post"]["id"] == post["id"] and item["held_by"] == "reports"
    assert item["report_count"] == 3 and {r["reason"] for r in item["reports"]} == {"harassment"}
    assert item["post"]["user"]["id"] == str(owner)
    held_url = item["post"]["variants"]["thumbnail"]["url"]
    assert await mod.fetch(held_url, admin) == 200  # admins look at held renditions too
    status, seen = await mod.call("GET", f"/api/v1/posts/{post['id']}", admin)
    assert (status, seen["status"], seen["moderation"]["held_by"]) == (200, "in_review", "reports")

    status, body = await mod.call("POST", f"/api/v1/admin/posts/{post['id']}/approve", admin)
    assert (status, body["status"]) == (200, "published")
    status, public = await mod.call("GET", f"/api/v1/posts/{post['id']}")
    assert public["status"] == "published"
    assert await mod.fetch(public["variants"]["medium"]["url"]) == 200
    assert await mod.count("reports", "closed_at IS NULL") == 0
    assert (await mod.call("GET", QUEUE, admin))[1]["items"] == []
    status, again = await mod.call("POST", f"/api/v1/admin/posts/{post['id']}/approve", admin)
    assert (status, again["error"]["code"]) == (409, "invalid_status")

    # Closed reports no longer count, and the same three accounts cannot report it again.
    async with mod.pool.acquire() as conn:
        audit = await conn.fetch("SELECT actor_id, actor, action FROM moderation_audit WHERE post_id = $1 ORDER BY id",
                                 uuid.UUID(post["id"]))
    assert [a["action"] for a in audit] == ["hide", "approve"]
    assert audit[1]["actor_id"] == admin_id and audit[1]["actor"].startswith("user:")


async def test_an_admin_removes_a_post_its_variants_404_and_only_the_owner_sees_why(mod: ModApi) -> None:
    owner, owner_token = await mod.user()
    post = await hidden_post(mod, owner_token)
    published = await mod.publish(owner_token, small_jpeg(310))  # removable straight from public view
    _, admin = await mod.admin()
    public_url = published["variants"]["original"]["url"]

    status, body = await mod.call("POST", f"/api/v1/admin/posts/{post['id']}/remove", admin, {"reason": "  "})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, body = await mod.call("POST", f"/api/v1/admin/posts/{post['id']}/remove", admin, {})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert await mod.count("posts", "status = 'removed'") == 0

    for target in (post, published):
        status, body = await mod.call("POST", f"/api/v1/admin/posts/{target['id']}/remove", admin,
                                      {"reason": "breaks the rules on harassment"})
        assert (status, body["status"]) == (200, "removed"), body
    assert await mod.fetch(public_url) == 404
    for target in (post, published):
        status, seen = await mod.call("GET", f"/api/v1/posts/{target['id']}", owner_token)
        assert seen["status"] == "removed"
        assert seen["removal"]["reason"] == "breaks the rules on harassment"
        assert all(v is None for v in seen["variants"].values())
        for who in (None, admin):
            assert (await mod.call("GET", f"/api/v1/posts/{target['id']}", who))[0] == 404
    assert mod.stored(post["id"]) == mod.stored(published["id"]) == []  # source and renditions purged
    status, listed = await mod.call("GET", f"/api/v1/users/{owner}/posts", owner_token)
    assert {p["status"] for p in listed["items"]} == {"removed"}
    status, again = await mod.call("POST", f"/api/v1/admin/posts/{post['id']}/approve", admin)
    assert (status, again["error"]["code"]) == (409, "invalid_status")
    assert await mod.count("moderation_audit", "action = 'remove' AND reason <> ''") == 2


async def test_revoking_the_role_takes_effect_on_the_next_call(mod: ModApi) -> None:
    admin_id, admin = await mod.admin()
    assert (await mod.call("GET", QUEUE, admin))[0] == 200
    from server.moderation import Actor
    from server.moderation.roles import set_admin

    async with mod.pool.acquire() as conn:
        login = await conn.fetchval("SELECT username FROM users WHERE id = $1", admin_id)
        assert await set_admin(conn, login, False, Actor(None, "test")) == (login, True)
    assert (await mod.call("GET", QUEUE, admin))[0] == 403


async def test_the_audit_is_append_only(mod: ModApi) -> None:
    import asyncpg
    import pytest

    await mod.admin()  # grant_admin is audited
    async with mod.pool.acquire() as conn:
        for statement in ("UPDATE moderation_audit SET reason = 'x'", "DELETE FROM moderation_audit"):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement)
    assert await mod.count("moderation_audit", "action = 'grant_admin'") == 1
