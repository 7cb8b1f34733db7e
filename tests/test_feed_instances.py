"""Two real ``serve`` processes on one PostgreSQL (the session's, through IMAGEPIPE_DATABASE_URL):
a like made through instance A reaches a stream held on instance B (opened with a ticket issued
by A); and a stream on B, cut by B's SIGTERM (which sends the retry hint) and resumed with
Last-Event-ID once B is back, misses nothing and repeats nothing of the likes made meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from helpers_auth import create_verified_user
from helpers_feed import SseReader, publish_as
from serverproc import ServerProcess, free_port, server_env
from server.config import load_settings
from server.feed.rules import Position, encode_position

pytestmark = pytest.mark.fault

SECRET = "f" * 40  # instances behind one load balancer share the signing key
STREAM = "/api/v1/notifications/stream"


def _env(db_dsn: str) -> dict[str, str]:
    return server_env(IMAGEPIPE_DATABASE_URL=db_dsn, IMAGEPIPE_JWT_SECRET=SECRET, IMAGEPIPE_WORKERS="1",
                      IMAGEPIPE_RATE_LIMIT_LIKES_PER_MIN="1000", IMAGEPIPE_STREAM_RETRY_MS="700")


async def _open(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> SseReader:
    resp = await http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=30))
    assert resp.status == 200, await resp.text()
    reader = SseReader(resp)
    assert (await reader.next()).retry == 700
    return reader


async def test_a_like_through_one_instance_reaches_a_stream_on_the_other(tmp_path: Path, db_dsn: str, db_pool) -> None:
    settings = load_settings(cli={"bcrypt_rounds": 4}, environ={})
    a = ServerProcess(tmp_path / "a", free_port(), _env(db_dsn)).start(wait_ready=0)
    b = ServerProcess(tmp_path / "b", free_port(), _env(db_dsn)).start(wait_ready=0)
    with a, b:
        a.wait_ready(90)
        b.wait_ready(90)
        owner, owner_token = await create_verified_user(db_pool, settings, SECRET)
        fan, fan_token = await create_verified_user(db_pool, settings, SECRET)
        post = await publish_as(db_pool, owner)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{a.base_url}/api/v1/notifications/stream-ticket",
                                 headers={"Authorization": f"Bearer {owner_token}"}) as resp:
                ticket = (await resp.json())["ticket"]  # issued by A...
            reader = await _open(http, f"{b.base_url}{STREAM}?ticket={ticket}", {})  # ...redeemed on B
            async with http.put(f"{a.base_url}/api/v1/posts/{post}/like",
                                headers={"Authorization": f"Bearer {fan_token}"}) as resp:
                assert resp.status == 200
            event = await reader.notification(timeout=10)
            assert (event.data["kind"], event.data["actor"]["id"], event.data["post_id"]) == ("like", str(fan), str(post))
            reader.resp.close()
        assert a.terminate() == 0 and b.terminate() == 0


async def test_a_stream_resumed_across_a_restart_misses_nothing(tmp_path: Path, db_dsn: str, db_pool) -> None:
    settings = load_settings(cli={"bcrypt_rounds": 4}, environ={})
    env = _env(db_dsn)
    a = ServerProcess(tmp_path / "a", free_port(), env).start(wait_ready=0)
    b = ServerProcess(tmp_path / "b", free_port(), env).start(wait_ready=0)
    with a, b:
        a.wait_ready(90)
        b.wait_ready(90)
        owner, owner_token = await create_verified_user(db_pool, settings, SECRET)
        fans = [await create_verified_user(db_pool, settings, SECRET) for _ in range(30)]
        posts = [await publish_as(db_pool, owner) for _ in range(2)]
        auth = {"Authorization": f"Bearer {owner_token}"}
        got: list[str] = []
        async with aiohttp.ClientSession() as http:
            async def like(i: int) -> None:
                _, token = fans[i // 2]
                async with http.put(f"{a.base_url}/api/v1/posts/{posts[i % 2]}/like",
                                    headers={"Authorization": f"Bearer {token}"}) as resp:
                    assert resp.status == 200, await resp.text()

            async def likes_meanwhile() -> None:  # all through A, spread over B's restart
                for i in range(60):
                    await like(i)
                    await asyncio.sleep(0.05)

            reader = await _open(http, f"{b.base_url}{STREAM}", auth)
            liking = asyncio.create_task(likes_meanwhile())
            while len(got) < 5:
                got.append((await reader.notification()).id)
            b.proc.send_signal(15)  # SIGTERM: the drain starts by ending the stream with a retry hint
            last = await reader.next()
            while last.name == "notification":
                got.append(last.id)
                last = await reader.next()
            assert last.retry == 700
            with pytest.raises(EOFError):
                await reader.next()
            assert b.proc.wait(60) == 0
            b.start(wait_ready=90)  # the same instance, a new process
            reader = await _open(http, f"{b.base_url}{STREAM}", {**auth, "Last-Event-ID": got[-1]})
            await liking
            while len(got) < 60:
                got.append((await reader.notification(timeout=15)).id)
            with pytest.raises(asyncio.TimeoutError):
                await reader.notification(timeout=1.0)
            reader.resp.close()
        async with db_pool.acquire() as conn:
            rows = await conn.fetch("SELECT id, tx::text AS tx FROM notifications WHERE recipient_id = $1"
                                    " AND kind = 'like' ORDER BY tx, id", owner)
        assert got == [encode_position(Position(int(r["tx"]), r["id"])) for r in rows]
        assert len(rows) == 60
        assert a.terminate() == 0 and b.terminate() == 0
