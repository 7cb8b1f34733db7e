"""The live notification stream in one process, on a real database: events as they happen,
Last-Event-ID resumption, a late-committing transaction never skipped, notifications nobody
announced found by the poll, heartbeats, the drain's retry hint, stream tickets and the caps."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from helpers_feed import SseReader, publish, published_long_ago
from helpers_social import Account, SocialApi
from server.app import create_app
from server.config import Settings
from server.feed import announce, close_streams, rules

STREAM = "/api/v1/notifications/stream"


async def _app(aiohttp_client: Any, settings: Settings, db_pool: asyncpg.Pool, poll_s: float,
               **overrides: Any) -> SocialApi:
    tuned = settings.with_overrides(stream_max_per_account=2, stream_max_total=3, stream_poll_s=poll_s,
                                    stream_heartbeat_s=1.0, stream_retry_ms=1500, **overrides)
    client = await aiohttp_client(create_app(tuned, pool=db_pool, pipeline=False))
    return SocialApi(client=client, pool=db_pool, settings=tuned)


@pytest.fixture
async def live(aiohttp_client: Any, settings: Settings, db_pool: asyncpg.Pool) -> SocialApi:
    """The app with small stream limits and fast heartbeats, and a catch-up poll too slow to
    matter: what arrives within a test came by announcement."""
    return await _app(aiohttp_client, settings, db_pool, poll_s=60.0)


@pytest.fixture
async def polling(aiohttp_client: Any, settings: Settings, db_pool: asyncpg.Pool) -> SocialApi:
    """The same with a fast catch-up poll, for what nobody announces."""
    return await _app(aiohttp_client, settings, db_pool, poll_s=0.2)


async def open_stream(api: SocialApi, who: Account | None, headers: dict[str, str] | None = None,
                      query: str = "") -> SseReader:
    resp = await api.client.get(STREAM + query, headers={**(who.auth if who else {}), **(headers or {})})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    reader = SseReader(resp)
    opening = await reader.next()  # retry hint and the position to resume from
    assert opening.name is None and opening.retry == 1500 and opening.id
    return reader


async def test_a_like_arrives_as_an_event_with_a_resumable_id(live: SocialApi) -> None:
    owner, fan = await live.account(), await live.account()
    post, other = await published_long_ago(live.pool, owner.id), await published_long_ago(live.pool, owner.id)
    reader = await open_stream(live, owner)
    await live.ok("PUT", f"/api/v1/posts/{other}/like", fan)
    await reader.notification()  # may race the stream's first read...
    await asyncio.sleep(0.3)
    await live.ok("PUT", f"/api/v1/posts/{post}/like", fan)  # ...this one is announced to an idle stream
    event = await reader.notification()
    assert event.data["kind"] == "like" and event.data["post_id"] == str(post)
    assert event.data["actor"]["id"] == str(fan.id) and event.data["read"] is False
    listed = (await live.ok("GET", "/api/v1/notifications", owner))["items"][0]
    assert event.data == listed
    assert rules.decode_position(event.id).id == int(listed["id"])
    reader.resp.close()


async def test_last_event_id_resumes_exactly_after_the_last_event(live: SocialApi) -> None:
    owner = await live.account()
    fans = [await live.account() for _ in range(4)]
    post = await published_long_ago(live.pool, owner.id)
    reader = await open_stream(live, owner)
    await live.ok("PUT", f"/api/v1/posts/{post}/like", fans[0])
    first = await reader.notification()
    reader.resp.close()  # the connection drops...
    for fan in fans[1:]:  # ...and life goes on
        await live.ok("PUT", f"/api/v1/posts/{post}/like", fan)
    resumed = await open_stream(live, owner, {"Last-Event-ID": first.id})
    got = [await resumed.notification() for _ in fans[1:]]
    assert [e.data["actor"]["id"] for e in got] == [str(f.id) for f in fans[1:]]
    with pytest.raises(asyncio.TimeoutError):  # and nothing twice
        await resumed.notification(timeout=0.7)
    resumed.resp.close()


async def test_a_transaction_that_commits_late_is_never_skipped(live: SocialApi) -> None:
    """A notification whose transaction began first but commits last must be sent before the
    later ones (which it precedes in stream order), so no Last-Event-ID can skip it."""
    owner, early, late = await live.account(), await live.account(), await live.account()
    reader = await open_stream(live, owner)
    insert = "INSERT INTO notifications (recipient_id, kind, actor_id) VALUES ($1, 'follow', $2)"
    slow = await live.pool.acquire()
    try:
        tx = slow.transaction()
        await tx.start()
        await slow.execute(insert, owner.id, early.id)  # its transaction id is taken now
        async with live.pool.acquire() as conn:
            await conn.execute(insert, owner.id, late.id)  # commits first
        announce(live.client.app, owner.id)
        with pytest.raises(asyncio.TimeoutError):
            await reader.notification(timeout=1.0)
        await tx.commit()
    finally:
        await live.pool.release(slow)
    announce(live.client.app, owner.id)
    got = [await reader.notification() for _ in range(2)]
    assert [e.data["actor"]["id"] for e in got] == [str(early.id), str(late.id)]
    assert rules.decode_position(got[0].id) < rules.decode_position(got[1].id)
    reader.resp.close()


async def test_a_post_publishing_reaches_its_owner_without_an_announcement(polling: SocialApi) -> None:
    live = polling
    owner = await live.account()
    reader = await open_stream(live, owner)
    post = await publish(live, owner)  # a status change by SQL, as the pipeline makes it: no NOTIFY
    event = await reader.notification(timeout=5.0)
    assert (event.data["kind"], event.data["post_id"], event.data["actor"]) == ("post_published", str(post), None)
    reader.resp.close()


async def test_idle_streams_get_heartbeats_and_the_drain_ends_them_with_a_retry_hint(live: SocialApi) -> None:
    owner = await live.account()
    reader = await open_stream(live, owner)
    await asyncio.sleep(2.5)
    with pytest.raises(asyncio.TimeoutError):
        await reader.next(timeout=0.1)  # comments are not events...
    assert "ping" in reader.comments  # ...but they were sent
    await close_streams(live.client.app)
    last = await reader.next()
    assert (last.retry, last.id, last.name) == (1500, None, None)
    with pytest.raises(EOFError):
        await reader.next()
    assert await live.error("GET", STREAM, owner) == (503, "unavailable")


async def test_a_ticket_opens_one_stream_once(live: SocialApi) -> None:
    owner = await live.account()
    body = await live.ok("POST", "/api/v1/notifications/stream-ticket", owner, status=201)
    assert body["expires_in"] == live.settings.stream_ticket_ttl_s and len(body["ticket"]) >= 40
    reader = await open_stream(live, None, query=f"?ticket={body['ticket']}")
    assert await live.error("GET", f"{STREAM}?ticket={body['ticket']}") == (401, "invalid_ticket")  # spent
    reader.resp.close()

    stale = (await live.ok("POST", "/api/v1/notifications/stream-ticket", owner, status=201))["ticket"]
    await live.scalar("UPDATE notification_stream_tickets SET expires_at = now() - interval '1 second'")
    assert await live.error("GET", f"{STREAM}?ticket={stale}") == (401, "invalid_ticket")
    for bad in ("", "short", "x" * 300, "%00" * 30):
        assert await live.error("GET", f"{STREAM}?ticket={bad}") == (401, "invalid_ticket")
    assert await live.error("GET", STREAM) == (401, "unauthorized")
    assert await live.error("POST", "/api/v1/notifications/stream-ticket") == (401, "unauthorized")
    assert await live.scalar("SELECT count(*) FROM notification_stream_tickets") == 0


async def test_unused_tickets_per_account_are_capped(live: SocialApi) -> None:
    owner, other = await live.account(), await live.account()
    for _ in range(10):
        await live.ok("POST", "/api/v1/notifications/stream-ticket", owner, status=201)
    assert await live.error("POST", "/api/v1/notifications/stream-ticket", owner) == (429, "too_many_tickets")
    await live.ok("POST", "/api/v1/notifications/stream-ticket", other, status=201)  # others unaffected
    assert await live.scalar("SELECT count(*) FROM notification_stream_tickets") == 11


async def test_streams_are_capped_per_account_and_in_total(live: SocialApi) -> None:
    alice, bob, carol = await live.account(), await live.account(), await live.account()
    held = [await open_stream(live, alice), await open_stream(live, alice)]
    assert await live.error("GET", STREAM, alice) == (429, "too_many_streams")
    held.append(await open_stream(live, bob))  # alice's cap leaves room for others
    assert await live.error("GET", STREAM, carol) == (429, "streams_full")
    held.pop(0).resp.close()  # a client that leaves frees its slot within a second
    for _ in range(30):
        resp = await live.client.get(STREAM, headers=carol.auth)
        if resp.status == 200:
            resp.close()
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the slot of a closed stream was never freed")
    for reader in held:
        reader.resp.close()


async def test_a_stream_ends_when_an_access_token_would_have_expired(
        aiohttp_client: Any, settings: Settings, db_pool: asyncpg.Pool) -> None:
    short = await _app(aiohttp_client, settings, db_pool, poll_s=60.0, access_token_ttl_s=2)
    owner = await short.account()
    reader = await open_stream(short, owner)
    last = await reader.next(timeout=10)
    assert (last.retry, last.name) == (1500, None)
    with pytest.raises(EOFError):
        await reader.next()


@pytest.mark.parametrize("credential", ["bearer", "ticket"])
async def test_a_stream_ends_soon_after_its_token_is_revoked(live: SocialApi, credential: str) -> None:
    """Log out everywhere: the stream opened with that token, or with a ticket that token asked for,
    ends within about a second, with the retry hint, instead of delivering until the token would
    have expired (15 minutes)."""
    owner, fan = await live.account(), await live.account()
    post = await published_long_ago(live.pool, owner.id)
    if credential == "bearer":
        reader = await open_stream(live, owner)
    else:
        ticket = (await live.ok("POST", "/api/v1/notifications/stream-ticket", owner, status=201))["ticket"]
        reader = await open_stream(live, None, query=f"?ticket={ticket}")
    await live.ok("POST", "/api/v1/auth/logout", owner, status=204)
    last = await reader.next(timeout=5)
    assert (last.retry, last.name) == (1500, None)
    with pytest.raises(EOFError):
        await reader.next()
    await live.ok("PUT", f"/api/v1/posts/{post}/like", fan)  # nothing more reaches the old token
    assert await live.error("GET", STREAM, owner) == (401, "invalid_token")


async def test_a_new_stream_resumes_from_last_event_id_in_the_url(live: SocialApi) -> None:
    """A browser whose ticket was spent opens a new EventSource: the id can only go in the URL."""
    owner, fan, other = await live.account(), await live.account(), await live.account()
    post = await published_long_ago(live.pool, owner.id)
    reader = await open_stream(live, owner)
    await live.ok("PUT", f"/api/v1/users/{owner.id}/follow", fan)
    first = await reader.notification()
    reader.resp.close()
    await live.ok("PUT", f"/api/v1/posts/{post}/like", other)
    ticket = (await live.ok("POST", "/api/v1/notifications/stream-ticket", owner, status=201))["ticket"]
    resumed = await open_stream(live, None, query=f"?ticket={ticket}&last_event_id={first.id}")
    event = await resumed.notification()
    assert (event.data["kind"], event.data["actor"]["id"]) == ("like", str(other.id))
    resumed.resp.close()


async def test_a_bad_last_event_id_is_refused(live: SocialApi) -> None:
    owner = await live.account()
    resp = await live.client.get(STREAM, headers={**owner.auth, "Last-Event-ID": "42"})
    assert (resp.status, (await resp.json())["error"]["code"]) == (400, "invalid_last_event_id")
