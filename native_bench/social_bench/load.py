"""The measurements through the real HTTP API of both instances, with concurrent clients:

- ``feeds``: clients read their home feed, first page to tenth, for median and 2,000-followee
  accounts, while other clients like, unlike and comment (their round trips are timed too);
- ``post_to_feed``: the most-followed account publishes (the pipeline's own publish statement,
  committed here so the moment is known to the microsecond) while followers poll their feeds:
  time from the commit to the post in a follower's feed, and what the publication wrote;
- ``delivery``: likes sent through instance A, the notification events read from a stream held
  on instance B: time from sending the like to the event.
Requests alternate between A and B, as behind a load balancer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

import aiohttp
import asyncpg

from ..api import call
from ..errors import BenchError
from .seed import PASSWORD, username

FEED_PAGE = 20
PAGES = 10


@dataclass
class Samples:
    by_name: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, name: str, seconds: float) -> None:
        self.by_name.setdefault(name, []).append(seconds)


async def login(session: aiohttp.ClientSession, base: str, account: int) -> str:
    body = await call(session, "POST", f"{base}/api/v1/auth/login", "login", 200,
                      json={"login": username(account), "password": PASSWORD})
    return body["access_token"]


async def _timed(session: aiohttp.ClientSession, method: str, url: str, token: str, expect: int,
                 body: Any = None) -> tuple[float, Any]:
    start = time.perf_counter()
    async with session.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        raw = await resp.read()
        elapsed = time.perf_counter() - start
        if resp.status != expect:
            raise BenchError(f"{method} {url}: HTTP {resp.status} {raw[:200]!r}")
    return elapsed, json.loads(raw) if raw else None


async def _feed_client(session: aiohttp.ClientSession, bases: Sequence[str], kind: str, tokens: Sequence[str],
                       deadline: float, samples: Samples) -> None:
    turn = itertools.count()
    while time.monotonic() < deadline:
        token = random.choice(tokens)
        cursor = None
        for page in range(1, PAGES + 1):
            base = bases[next(turn) % len(bases)]
            url = f"{base}/api/v1/feed?limit={FEED_PAGE}" + (f"&cursor={cursor}" if cursor else "")
            elapsed, body = await _timed(session, "GET", url, token, 200)
            if page in (1, PAGES):
                samples.add(f"{kind} page {page}", elapsed)
            cursor = body["next_cursor"]
            if cursor is None:
                samples.errors.append(f"{kind}: the feed ended after {page} pages")
                break


async def _social_client(session: aiohttp.ClientSession, bases: Sequence[str], token: str, posts: Sequence[uuid.UUID],
                         deadline: float, samples: Samples) -> None:
    turn = itertools.count()
    while time.monotonic() < deadline:
        post = random.choice(posts)
        for name, method, tail, expect, body in (("like", "PUT", "/like", 200, None),
                                                 ("unlike", "DELETE", "/like", 200, None),
                                                 ("comment", "POST", "/comments", 201, {"body": "what a shot"})):
            base = bases[next(turn) % len(bases)]
            elapsed, _ = await _timed(session, method, f"{base}/api/v1/posts/{post}{tail}", token, expect, body)
            samples.add(name, elapsed)
        await asyncio.sleep(0.02)


async def feeds(bases: Sequence[str], median_tokens: Sequence[str], heavy_tokens: Sequence[str],
                social_tokens: Sequence[str], posts: Sequence[uuid.UUID], clients: int, social_clients: int,
                seconds: float) -> Samples:
    samples = Samples()
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [_feed_client(session, bases, "median" if i % 2 == 0 else "heavy",
                              median_tokens if i % 2 == 0 else heavy_tokens, deadline, samples) for i in range(clients)]
        tasks += [_social_client(session, bases, social_tokens[i % len(social_tokens)], posts, deadline, samples)
                  for i in range(social_clients)]
        await asyncio.gather(*tasks)
    return samples


# -- a celebrity's post reaching followers' feeds ---------------------------------------------------

PUBLISH_IMAGES = (("thumbnail", 150, 9_000), ("medium", 600, 60_000), ("original", 4000, 1_500_000))


async def _new_processing_post(conn: asyncpg.Connection, owner: uuid.UUID) -> uuid.UUID:
    post_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO posts (id, user_id, caption, status, source_key, content_type, file_size)"
        " VALUES ($1, $2, 'bench', 'processing', $3, 'image/jpeg', 200000)", post_id, owner,
        f"uploads/{owner}/{post_id}/source")
    await conn.execute("INSERT INTO post_metadata (post_id) VALUES ($1)", post_id)
    return post_id


async def _publish(conn: asyncpg.Connection, post_id: uuid.UUID) -> tuple[float, int, int]:
    """The pipeline's publish (its named statements, one transaction); (commit time, WAL bytes,
    rows the publication wrote beyond the post's own: notifications, and feed rows if any)."""
    from server.db import q

    before = await conn.fetchval("SELECT pg_current_wal_insert_lsn()")
    notes_before = await conn.fetchval("SELECT count(*) FROM notifications WHERE post_id = $1", post_id)
    async with conn.transaction():
        for name, side, size in PUBLISH_IMAGES:
            await conn.execute(q("pipeline_insert_image"), post_id, name, "jpeg",
                               f"posts/{post_id}/1/{name}.jpg", side, side * 3 // 4, size, 85)
        await conn.execute(q("pipeline_publish_post"), post_id, 4000, 3000, json.dumps({}))
    committed = time.perf_counter()
    wal = await conn.fetchval("SELECT pg_current_wal_insert_lsn() - $1::pg_lsn", before)
    notes = await conn.fetchval("SELECT count(*) FROM notifications WHERE post_id = $1", post_id) - notes_before
    return committed, int(wal), int(notes)


async def _watch(session: aiohttp.ClientSession, base: str, token: str, post_id: str, stop: asyncio.Event,
                 interval: float) -> float | None:
    """Poll a follower's first page until the post shows: the time it first did."""
    while not stop.is_set():
        elapsed, body = await _timed(session, "GET", f"{base}/api/v1/feed?limit=5", token, 200)
        if any(item["id"] == post_id for item in body["items"]):
            return time.perf_counter()
        await asyncio.sleep(interval)
    return None


@dataclass
class PostToFeed:
    latencies: list[float] = field(default_factory=list)
    wal_bytes: list[int] = field(default_factory=list)
    extra_rows: list[int] = field(default_factory=list)
    missed: int = 0


async def post_to_feed(dsn: str, bases: Sequence[str], celebrity: uuid.UUID, follower_tokens: Sequence[str],
                       posts: int, interval: float = 0.01) -> PostToFeed:
    out = PostToFeed()
    conn = await asyncpg.connect(dsn)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for n in range(posts):
                post_id = await _new_processing_post(conn, celebrity)
                stop = asyncio.Event()
                watchers = [asyncio.create_task(_watch(session, bases[i % len(bases)], token, str(post_id), stop,
                                                       interval))
                            for i, token in enumerate(follower_tokens)]
                await asyncio.sleep(0.05)  # the watchers are polling
                committed, wal, extra = await _publish(conn, post_id)
                done, _ = await asyncio.wait(watchers, timeout=10.0)
                stop.set()
                for task in watchers:
                    seen = await task
                    if seen is None:
                        out.missed += 1
                    else:
                        out.latencies.append(max(0.0, seen - committed))
                out.wal_bytes.append(wal)
                out.extra_rows.append(extra)
    finally:
        await conn.close()
    return out


# -- a notification crossing instances --------------------------------------------------------------

async def _events(resp: aiohttp.ClientResponse, arrived: dict[tuple[str, str], float], total: int) -> None:
    buffer = b""
    while len(arrived) < total:
        chunk = await resp.content.readany()
        if not chunk:
            return
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            for line in block.decode("utf-8").split("\n"):
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                    if data.get("kind") == "like":
                        arrived.setdefault((data["actor"]["id"], data["post_id"]), time.perf_counter())


async def delivery(dsn: str, a: str, b: str, recipient: uuid.UUID, recipient_token: str,
                   likers: Sequence[tuple[uuid.UUID, str]], likes: int, gap: float = 0.02) -> tuple[list[float], int]:
    """``likes`` likes of the recipient's fresh posts through A; events read on B. (latencies, lost)."""
    per_post = len(likers)
    conn = await asyncpg.connect(dsn)
    try:
        posts = []
        for _ in range(-(-likes // per_post)):
            post_id = await _new_processing_post(conn, recipient)
            await conn.execute("UPDATE posts SET status = 'published' WHERE id = $1", post_id)
            posts.append(post_id)
    finally:
        await conn.close()
    pairs = [(likers[i % per_post], posts[i // per_post]) for i in range(likes)]
    sent: dict[tuple[str, str], float] = {}
    arrived: dict[tuple[str, str], float] = {}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        stream = await session.get(f"{b}/api/v1/notifications/stream",
                                   headers={"Authorization": f"Bearer {recipient_token}"})
        if stream.status != 200:
            raise BenchError(f"stream on B: HTTP {stream.status}")
        reader = asyncio.create_task(_events(stream, arrived, likes))
        await asyncio.sleep(0.2)
        for (liker, token), post in pairs:
            key = (str(liker), str(post))
            sent[key] = time.perf_counter()
            await _timed(session, "PUT", f"{a}/api/v1/posts/{post}/like", token, 200)
            await asyncio.sleep(gap)
        try:
            await asyncio.wait_for(reader, 15.0)
        except asyncio.TimeoutError:
            pass
        stream.close()
    latencies = [arrived[k] - sent[k] for k in sent if k in arrived]
    return latencies, len(sent) - len(latencies)
