"""Likes, comments and views through HTTP on a real database: idempotence, exact counters under
concurrency, what may be liked, comments paged while they are added, views once per 24 h, deleted
posts leaving every count, and every refusal changing nothing."""

from __future__ import annotations

import asyncio
import uuid

from helpers_social import Account, SocialApi, social  # noqa: F401  (fixture)


def post_path(post_id: uuid.UUID | str, tail: str = "") -> str:
    return f"/api/v1/posts/{post_id}{tail}"


async def _accounts(social: SocialApi, n: int) -> list[Account]:
    return [await social.account() for _ in range(n)]


async def test_like_unlike_idempotent_and_shown_on_the_post(social: SocialApi) -> None:
    alice, bob = await _accounts(social, 2)
    post = await social.post(alice)
    like = post_path(post, "/like")
    assert await social.ok("PUT", like, bob) == {"liked": True, "like_count": 1}
    assert await social.ok("PUT", like, bob) == {"liked": True, "like_count": 1}
    assert await social.ok("PUT", like, alice) == {"liked": True, "like_count": 2}  # one's own post too
    shown = await social.ok("GET", post_path(post), bob)
    assert (shown["like_count"], shown["liked_by_me"]) == (2, True)
    assert "liked_by_me" not in await social.ok("GET", post_path(post))  # anonymous
    junk = await social.client.get(post_path(post), headers={"Authorization": "Bearer junk"})
    assert junk.status == 401  # a token that is sent must be valid: no silent anonymous view
    listed = await social.ok("GET", f"/api/v1/users/{alice.id}/posts", bob)
    assert [(p["id"], p["like_count"], p["liked_by_me"]) for p in listed["items"]] == [(str(post), 2, True)]
    assert await social.page_all(post_path(post, "/likes"), limit=1) == [str(alice.id), str(bob.id)]
    assert await social.ok("DELETE", like, bob) == {"liked": False, "like_count": 1}
    assert await social.ok("DELETE", like, bob) == {"liked": False, "like_count": 1}
    assert (await social.ok("GET", post_path(post), bob))["liked_by_me"] is False
    assert await social.broken_counters() == []


async def test_concurrent_likes_and_unlikes_leave_exact_counts(social: SocialApi) -> None:
    owner = await social.account()
    post = await social.post(owner)
    likers = await _accounts(social, 40)
    like = post_path(post, "/like")
    answers = await asyncio.gather(*(social.call("PUT", like, who) for who in likers))
    assert sorted({s for s, _ in answers}) == [200]
    # Each answer is the count right after its own like: 40 different values, 1..40.
    assert sorted(b["like_count"] for _, b in answers) == list(range(1, 41))
    await asyncio.gather(*(social.call("DELETE", like, who) for who in likers[:20]),
                         *(social.call("PUT", like, who) for who in likers[20:]))  # repeats: no change
    assert (await social.ok("GET", post_path(post)))["like_count"] == 20
    assert await social.broken_counters() == []


async def test_only_published_posts_take_likes_comments_and_views(social: SocialApi) -> None:
    alice, bob = await _accounts(social, 2)
    before_rows = None
    for status in ("pending_upload", "processing", "failed"):
        post = await social.post(alice, status=status)
        before_rows = await social.counts()
        for method, tail, body in (("PUT", "/like", None), ("POST", "/comments", {"body": "nice"}),
                                   ("POST", "/views", None)):
            assert await social.error(method, post_path(post, tail), bob, body) == (409, "post_not_published")
        assert await social.counts() == before_rows
    deleted = await social.post(alice)
    await social.scalar("UPDATE posts SET deleted_at = now() WHERE id = $1", deleted)
    for method, tail, body in (("PUT", "/like", None), ("DELETE", "/like", None), ("GET", "/likes", None),
                               ("POST", "/comments", {"body": "x"}), ("GET", "/comments", None),
                               ("POST", "/views", None)):
        assert await social.error(method, post_path(deleted, tail), bob, body) == (404, "post_not_found")


async def test_bad_engagement_requests_change_nothing(social: SocialApi) -> None:
    alice, bob = await _accounts(social, 2)
    unverified = await social.account(verified=False)
    post = await social.post(alice)
    comment = await social.ok("POST", post_path(post, "/comments"), bob, {"body": "first"}, status=201)
    before = await social.counts()
    missing = uuid.uuid4()
    cases = [
        ("PUT", "/api/v1/posts/not-a-uuid/like", bob, None, (400, "invalid_id")),
        ("PUT", post_path(missing, "/like"), bob, None, (404, "post_not_found")),
        ("PUT", post_path(post, "/like"), None, None, (401, "unauthorized")),
        ("PUT", post_path(post, "/like"), unverified, None, (403, "email_not_verified")),
        ("POST", post_path(post, "/comments"), bob, {}, (400, "invalid_comment")),
        ("POST", post_path(post, "/comments"), bob, {"body": "   \n "}, (400, "invalid_comment")),
        ("POST", post_path(post, "/comments"), bob, {"body": "x" * 2201}, (400, "invalid_comment")),
        ("POST", post_path(post, "/comments"), bob, {"body": "a\x00b"}, (400, "invalid_comment")),
        ("POST", post_path(post, "/comments"), bob, {"body": "a\x1bb"}, (400, "invalid_comment")),
        ("POST", post_path(post, "/comments"), bob, {"body": 42}, (400, "invalid_comment")),
        ("POST", post_path(post, "/comments"), bob, {"body": "\udc00"}, (400, "invalid_comment")),
        ("POST", post_path(missing, "/comments"), bob, {"body": "hi"}, (404, "post_not_found")),
        ("GET", post_path(post, "/comments?limit=101"), None, None, (400, "invalid_limit")),
        ("GET", post_path(post, "/comments?cursor=abc"), None, None, (400, "invalid_cursor")),
        ("GET", post_path(post, "/likes?limit=-1"), None, None, (400, "invalid_limit")),
        ("GET", post_path(missing, "/likes"), None, None, (404, "post_not_found")),
        ("DELETE", "/api/v1/comments/zzz", bob, None, (400, "invalid_id")),
        ("DELETE", f"/api/v1/comments/{uuid.uuid4()}", bob, None, (404, "comment_not_found")),
        ("DELETE", f"/api/v1/comments/{comment['id']}", None, None, (401, "unauthorized")),
        ("POST", post_path(missing, "/views"), bob, None, (404, "post_not_found")),
        ("POST", post_path(post, "/views"), None, None, (401, "unauthorized")),
    ]
    for method, path, who, body, expected in cases:
        assert await social.error(method, path, who, body) == expected, (method, path, body)
    resp = await social.client.post(post_path(post, "/comments"), data=b"{oops",
                                    headers={**bob.auth, "Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    resp = await social.client.post(post_path(post, "/comments"), data=b"body=hi", headers=bob.auth)
    assert resp.status == 415 and (await resp.json())["error"]["code"] == "unsupported_media_type"
    assert await social.counts() == before


async def test_comments_are_text_oldest_first_and_deletable_by_author_or_owner(social: SocialApi) -> None:
    alice, bob, carol = await _accounts(social, 3)
    post = await social.post(alice)
    text = "  <script>alert('x')</script> &amp; 👋🏽\nsecond line  "
    made = await social.ok("POST", post_path(post, "/comments"), bob, {"body": text}, status=201)
    assert made["body"] == text.strip()  # stored as given (trimmed), never escaped or interpreted
    assert made["user"] == {"id": str(bob.id), "username": bob.username, "display_name": None}
    assert made["post_id"] == str(post) and made["created_at"].endswith("Z")
    second = await social.ok("POST", post_path(post, "/comments"), carol, {"body": "x" * 2200}, status=201)
    listed = await social.ok("GET", post_path(post, "/comments"))
    assert [c["id"] for c in listed["items"]] == [made["id"], second["id"]] and listed["next_cursor"] is None
    assert listed["items"][0] == made
    assert (await social.ok("GET", post_path(post)))["comment_count"] == 2

    assert await social.error("DELETE", f"/api/v1/comments/{made['id']}", carol) == (403, "forbidden")
    await social.ok("DELETE", f"/api/v1/comments/{made['id']}", bob, status=204)  # the author
    await social.ok("DELETE", f"/api/v1/comments/{second['id']}", alice, status=204)  # the post's owner
    assert await social.error("DELETE", f"/api/v1/comments/{second['id']}", alice) == (404, "comment_not_found")
    assert (await social.ok("GET", post_path(post)))["comment_count"] == 0
    assert await social.broken_counters() == []


async def test_comments_page_without_gaps_or_repeats_while_added(social: SocialApi) -> None:
    alice, bob = await _accounts(social, 2)
    post = await social.post(alice)
    first = [(await social.ok("POST", post_path(post, "/comments"), bob, {"body": f"c{i}"}, 201))["id"]
             for i in range(5)]
    added: list[str] = []

    async def mid_paging(page: int) -> None:
        if page < 3:  # two comments arrive while the client reads each of the first pages
            for _ in range(2):
                added.append((await social.ok("POST", post_path(post, "/comments"), alice,
                                              {"body": f"late {page}"}, 201))["id"])

    seen = await social.page_all(post_path(post, "/comments"), limit=2, between_pages=mid_paging)
    assert seen == first + added  # oldest first: new ones join the end and are reached, once each


async def test_views_count_once_per_viewer_per_day_and_not_the_owner(social: SocialApi) -> None:
    alice, bob, carol = await _accounts(social, 3)
    post = await social.post(alice)
    views = post_path(post, "/views")
    answers = await asyncio.gather(*(social.call("POST", views, bob) for _ in range(8)))
    assert {s for s, _ in answers} == {204}
    await social.ok("POST", views, carol, status=204)
    await social.ok("POST", views, alice, status=204)  # the owner: answered, not counted
    assert (await social.ok("GET", post_path(post)))["view_count"] == 2
    # A day later Bob counts again (his last counted view is moved back a day).
    await social.scalar("UPDATE post_views SET last_counted_at = now() - interval '24 hours 1 second'"
                        " WHERE viewer_id = $1", bob.id)
    await social.ok("POST", views, bob, status=204)
    await social.ok("POST", views, bob, status=204)
    assert (await social.ok("GET", post_path(post)))["view_count"] == 3
    assert await social.scalar("SELECT views FROM post_views WHERE viewer_id = $1", bob.id) == 2
    assert await social.broken_counters() == []


async def test_a_deleted_post_leaves_every_list_and_count(social: SocialApi) -> None:
    alice, bob = await _accounts(social, 2)
    post = await social.post(alice)
    other = await social.post(alice)
    await social.ok("PUT", post_path(post, "/like"), bob)
    await social.ok("POST", post_path(post, "/comments"), bob, {"body": "hey"}, 201)
    assert (await social.ok("GET", f"/api/v1/users/{alice.id}"))["posts_count"] == 2
    await social.ok("DELETE", post_path(post), alice, status=204)
    assert (await social.ok("GET", f"/api/v1/users/{alice.id}"))["posts_count"] == 1
    listed = await social.ok("GET", f"/api/v1/users/{alice.id}/posts", bob)
    assert [p["id"] for p in listed["items"]] == [str(other)]
    assert await social.error("GET", post_path(post, "/comments"), bob) == (404, "post_not_found")
    # A status change out of published (moderation's path) leaves the count the same way.
    await social.scalar("UPDATE posts SET status = 'failed' WHERE id = $1", other)
    assert (await social.ok("GET", f"/api/v1/users/{alice.id}"))["posts_count"] == 0
    await social.scalar("UPDATE posts SET status = 'published' WHERE id = $1", other)
    assert (await social.ok("GET", f"/api/v1/users/{alice.id}"))["posts_count"] == 1
    assert await social.broken_counters() == []


async def test_every_timestamp_is_rfc3339_utc_with_z(social: SocialApi) -> None:
    """DESIGN "Compatibility": the seed's clients parse only ...Z timestamps."""
    alice = await social.account()
    post = await social.post(alice)
    await social.scalar("UPDATE posts SET published_at = now() WHERE id = $1", post)
    comment = await social.ok("POST", post_path(post, "/comments"), alice, {"body": "hi"}, 201)
    me = await social.ok("GET", "/api/v1/auth/me", alice)
    shown = await social.ok("GET", post_path(post))
    listed = (await social.ok("GET", f"/api/v1/users/{alice.id}/posts"))["items"][0]
    profile = await social.ok("GET", f"/api/v1/users/{alice.id}")
    stamps = [me["created_at"], shown["created_at"], shown["published_at"], listed["created_at"],
              profile["created_at"], comment["created_at"]]
    for stamp in stamps:
        assert len(stamp) == 24 and stamp.endswith("Z") and stamp[10] == "T", stamp
