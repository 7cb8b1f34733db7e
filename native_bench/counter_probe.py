"""How should ``like_count`` & co. be kept exact? A probe that measures the candidates on a real
PostgreSQL, so the choice in ``server/db/migrations/0010_social.sql`` rests on numbers.

    python -m native_bench.counter_probe [--dsn postgresql://...] [--clients 16] [--seconds 5]

Without ``--dsn`` it starts a throw-away embedded PostgreSQL (the one the service ships). Each
candidate gets its own tables in a scratch schema, and the same workloads:

- ``serial``: one client, like then unlike, each a transaction shaped like the HTTP handler's
  (insert the edge, keep the counter, read the count back);
- ``hot``: ``--clients`` clients liking and unliking ONE post at once (a viral post: row contention);
- ``spread``: the same clients on distinct posts;
- ``read``: the cost of reading one post's count at 100, 10,000 and 100,000 likes;
- ``cascade``: deleting an account whose 5,000 likes are spread over 5,000 posts (FK cascade).

Candidates: ``app`` (the handler updates the counter in its transaction), ``row_trigger`` (an AFTER
ROW trigger does), ``stmt_trigger`` (an AFTER STATEMENT trigger with transition tables does),
``count`` (no counter: ``count(*)`` on read). A developer's tool, not part of ``imagepipe bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Awaitable, Callable

import asyncpg

from .stats import percentile

CANDIDATES = ("app", "row_trigger", "stmt_trigger", "count")

SCHEMA = """
CREATE TABLE {s}.users (id uuid PRIMARY KEY);
CREATE TABLE {s}.posts (id uuid PRIMARY KEY, like_count bigint NOT NULL DEFAULT 0);
CREATE TABLE {s}.likes (
    post_id uuid NOT NULL REFERENCES {s}.posts(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES {s}.users(id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, user_id));
CREATE INDEX ON {s}.likes (user_id);
"""

ROW_TRIGGER = """
CREATE FUNCTION {s}.bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE {s}.posts SET like_count = like_count + 1 WHERE id = NEW.post_id;
    ELSE
        UPDATE {s}.posts SET like_count = like_count - 1 WHERE id = OLD.post_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER bump AFTER INSERT OR DELETE ON {s}.likes FOR EACH ROW EXECUTE FUNCTION {s}.bump();
"""

STMT_TRIGGER = """
CREATE FUNCTION {s}.bump_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {s}.posts p SET like_count = p.like_count + d.n
    FROM (SELECT post_id, count(*) AS n FROM new_rows GROUP BY post_id) d WHERE p.id = d.post_id;
    RETURN NULL;
END $$;
CREATE FUNCTION {s}.bump_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {s}.posts p SET like_count = p.like_count - d.n
    FROM (SELECT post_id, count(*) AS n FROM old_rows GROUP BY post_id) d WHERE p.id = d.post_id;
    RETURN NULL;
END $$;
CREATE TRIGGER bump_ins AFTER INSERT ON {s}.likes REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.bump_ins();
CREATE TRIGGER bump_del AFTER DELETE ON {s}.likes REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.bump_del();
"""


async def setup(conn: asyncpg.Connection, s: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};" + SCHEMA.format(s=s))
    if s == "row_trigger":
        await conn.execute(ROW_TRIGGER.format(s=s))
    elif s == "stmt_trigger":
        await conn.execute(STMT_TRIGGER.format(s=s))


async def like(conn: asyncpg.Connection, s: str, post: uuid.UUID, user: uuid.UUID) -> int:
    """One like as the handler would do it: edge, counter, count read back, in one transaction."""
    async with conn.transaction():
        added = await conn.fetchval(
            f"INSERT INTO {s}.likes (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1", post, user)
        if s == "app" and added:
            await conn.execute(f"UPDATE {s}.posts SET like_count = like_count + 1 WHERE id = $1", post)
        return await read_count(conn, s, post)


async def unlike(conn: asyncpg.Connection, s: str, post: uuid.UUID, user: uuid.UUID) -> int:
    async with conn.transaction():
        removed = await conn.fetchval(
            f"DELETE FROM {s}.likes WHERE post_id = $1 AND user_id = $2 RETURNING 1", post, user)
        if s == "app" and removed:
            await conn.execute(f"UPDATE {s}.posts SET like_count = like_count - 1 WHERE id = $1", post)
        return await read_count(conn, s, post)


async def read_count(conn: asyncpg.Connection, s: str, post: uuid.UUID) -> int:
    if s == "count":
        return await conn.fetchval(f"SELECT count(*) FROM {s}.likes WHERE post_id = $1", post)
    return await conn.fetchval(f"SELECT like_count FROM {s}.posts WHERE id = $1", post)


async def _timed(op: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await op()
    return time.perf_counter() - start


def _ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"p50 {percentile(ms, 50):6.2f}  p99 {percentile(ms, 99):6.2f} ms"


async def _new_users(conn: asyncpg.Connection, s: str, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    await conn.copy_records_to_table("users", schema_name=s, records=[(i,) for i in ids])
    return ids


async def _new_posts(conn: asyncpg.Connection, s: str, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    await conn.copy_records_to_table("posts", schema_name=s, records=[(i, 0) for i in ids], columns=["id", "like_count"])
    return ids


async def serial(pool: asyncpg.Pool, s: str, rounds: int) -> list[float]:
    async with pool.acquire() as conn:
        (post,) = await _new_posts(conn, s, 1)
        (user,) = await _new_users(conn, s, 1)
        samples = []
        for _ in range(rounds):
            samples.append(await _timed(lambda: like(conn, s, post, user)))
            samples.append(await _timed(lambda: unlike(conn, s, post, user)))
    return samples


async def concurrent(pool: asyncpg.Pool, s: str, clients: int, seconds: float, hot: bool) -> tuple[float, list[float], bool]:
    """(transactions/s, latencies, counter exact afterwards)."""
    async with pool.acquire() as conn:
        users = await _new_users(conn, s, clients)
        posts = await _new_posts(conn, s, 1 if hot else clients)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(i: int) -> None:
        post = posts[0 if hot else i]
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                samples.append(await _timed(lambda: like(conn, s, post, users[i])))
                samples.append(await _timed(lambda: unlike(conn, s, post, users[i])))
                # leave every other client's like in place half the time: counts must still add up
                if i % 2:
                    await like(conn, s, post, users[i])
                    await unlike(conn, s, post, users[i])

    await asyncio.gather(*(client(i) for i in range(clients)))
    async with pool.acquire() as conn:
        exact = s == "count" or await conn.fetchval(
            f"SELECT bool_and(p.like_count = (SELECT count(*) FROM {s}.likes l WHERE l.post_id = p.id)) FROM {s}.posts p")
    return len(samples) / seconds, samples, bool(exact)


async def read_cost(pool: asyncpg.Pool, s: str, likes: int) -> list[float]:
    async with pool.acquire() as conn:
        (post,) = await _new_posts(conn, s, 1)
        users = await _new_users(conn, s, likes)
        await conn.copy_records_to_table("likes", schema_name=s, records=[(post, u) for u in users],
                                         columns=["post_id", "user_id"])
        if s != "count":
            await conn.execute(f"UPDATE {s}.posts SET like_count = $2 WHERE id = $1", post, likes)
        await conn.execute(f"VACUUM ANALYZE {s}.likes")  # index-only scans need the visibility map
        return [await _timed(lambda: read_count(conn, s, post)) for _ in range(200)]


async def cascade(pool: asyncpg.Pool, s: str, likes: int) -> float:
    """Delete a user who liked ``likes`` posts; ``app`` must recount by hand before the delete."""
    async with pool.acquire() as conn:
        (user,) = await _new_users(conn, s, 1)
        posts = await _new_posts(conn, s, likes)
        async with conn.transaction():
            for post in posts:  # through the real path, so every candidate's counters are set
                await conn.execute(f"INSERT INTO {s}.likes (post_id, user_id) VALUES ($1, $2)", post, user)
                if s == "app":
                    await conn.execute(f"UPDATE {s}.posts SET like_count = like_count + 1 WHERE id = $1", post)

        async def delete() -> None:
            async with conn.transaction():
                if s == "app":
                    await conn.execute(
                        f"UPDATE {s}.posts p SET like_count = p.like_count - 1 FROM {s}.likes l "
                        "WHERE l.user_id = $1 AND p.id = l.post_id", user)
                await conn.execute(f"DELETE FROM {s}.users WHERE id = $1", user)

        elapsed = await _timed(delete)
        if s != "count":
            assert await conn.fetchval(
                f"SELECT count(*) FROM {s}.posts WHERE id = ANY($1::uuid[]) AND like_count <> 0", posts) == 0
        return elapsed


async def run(dsn: str, clients: int, seconds: float) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=clients + 1, max_size=clients + 1)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            for s in CANDIDATES:
                await setup(conn, s)
        print(f"counter candidates, {clients} concurrent clients, {seconds:g} s per concurrent run")
        for s in CANDIDATES:
            print(f"\n[{s}]")
            print(f"  serial like/unlike      {_ms(await serial(pool, s, 500))}")
            for hot in (True, False):
                rate, samples, exact = await concurrent(pool, s, clients, seconds, hot)
                label = "hot (one post)" if hot else "spread (own posts)"
                print(f"  {label:22s}  {rate:7.0f} tx/s  {_ms(samples)}  exact={exact}")
            for n in (100, 10_000, 100_000):
                print(f"  read count @ {n:>7,} likes {_ms(await read_cost(pool, s, n))}")
            print(f"  delete a user with 5,000 likes: {await cascade(pool, s, 5000) * 1000:.0f} ms")
        async with pool.acquire() as conn:
            for s in CANDIDATES:
                await conn.execute(f"DROP SCHEMA {s} CASCADE")
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m native_bench.counter_probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="PostgreSQL to use (default: a throw-away embedded server)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.dsn:
        asyncio.run(run(args.dsn, args.clients, args.seconds))
        return 0
    from server.db.embedded import start_embedded

    root = Path(tempfile.mkdtemp(prefix="imagepipe-counter-probe-"))
    server = start_embedded(root / "pg")
    try:
        asyncio.run(run(server.uri, args.clients, args.seconds))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
