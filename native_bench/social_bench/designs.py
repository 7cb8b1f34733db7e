"""The measured comparison behind the feed's design (``bench social --designs``), in SQL on the
seeded network, for the median, the 2,000-followee and the dormant-followee accounts:

- fan-out on read as built (server/feed/home.py: recent window, then per-followee merge);
- the plain ``user_id IN (followees) ORDER BY published_at`` query (the known trap), and the
  per-followee merge alone;
- fan-out on write: a feed table (follower, time, post), built here for the last
  ``FANOUT_DAYS`` days and extrapolated to all history; its page reads; what one post by the most
  followed account costs to write; and, capped like Mastodon's, what trimming costs per such post;
- the hybrid large networks use: the feed table for ordinary authors, merged on read with the few
  accounts followed by more than ``HYBRID_FOLLOWERS``.
Times are medians of ``RUNS`` runs on one connection (milliseconds); buffers come from one
``EXPLAIN (ANALYZE, BUFFERS)`` and do not depend on how busy the machine is.
Also ``explain_feed``: the plans of the feed query the server runs, for the report.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from typing import Any, Callable

import asyncpg

from .network import Network

RUNS = 7
FANOUT_DAYS = 7
CAP = 100  # feed rows kept per follower in the capped variant (small, so the week of rows overflows it)
HYBRID_FOLLOWERS = 1000
PAGE = 20

PUBLIC = "p.status = 'published' AND p.deleted_at IS NULL"
NAIVE = f"""
SELECT p.id, p.published_at FROM posts p
WHERE p.user_id IN (SELECT followee_id FROM follows WHERE follower_id = $1 UNION ALL SELECT $1::uuid)
  AND {PUBLIC} AND (p.published_at, p.id) < (coalesce($2::timestamptz, 'infinity'), coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
ORDER BY p.published_at DESC, p.id DESC LIMIT $4"""
FANOUT_READ = """
SELECT r.*, EXISTS (SELECT 1 FROM likes l WHERE l.post_id = r.id AND l.user_id = $1) AS liked_by_me
FROM (SELECT post_id, published_at FROM bench_fanout
      WHERE user_id = $1 AND (published_at, post_id) < (coalesce($2::timestamptz, 'infinity'), coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
        AND author_id <> ALL($5::uuid[])
      ORDER BY published_at DESC, post_id DESC LIMIT $4) f
JOIN feed_post_rows r ON r.id = f.post_id
ORDER BY f.published_at DESC, f.post_id DESC"""
HYBRID_MERGE = f"""
SELECT x.id, x.published_at FROM (SELECT followee_id AS a FROM follows WHERE follower_id = $1 AND followee_id = ANY($5::uuid[])) f
CROSS JOIN LATERAL (SELECT p.id, p.published_at FROM posts p WHERE p.user_id = f.a AND {PUBLIC}
    AND (p.published_at, p.id) < (coalesce($2::timestamptz, 'infinity'), coalesce($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
    ORDER BY p.published_at DESC, p.id DESC LIMIT $4) x"""


async def _pool(dsn: str) -> asyncpg.Pool:
    """One connection set up as the server's are (its JSON codecs: home.page reads jsonb)."""
    from server.db import create_pool

    return await create_pool(dsn, min_size=1, max_size=1)


async def _buffers(conn: asyncpg.Connection, sql: str, *args: Any) -> int:
    raw = await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *args)
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


async def _median_ms(run: Callable[[], Any]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _cell(ms: float, buffers: int | None) -> str:
    return f"{ms:.2f}" + (f" [{buffers:,}]" if buffers is not None else "")


async def _page10_cursor(conn: asyncpg.Connection, viewer: uuid.UUID) -> tuple[Any, Any]:
    """The cursor of the tenth page, as the server's own paging leaves it."""
    from server.feed import home
    from server.posts.cursor import decode_cursor

    cursor = None
    for _ in range(9):
        body = await home.page(conn, viewer, PAGE, cursor, lambda key: key)
        if body["next_cursor"] is None:
            return None, None
        cursor = decode_cursor(body["next_cursor"])
    return cursor


async def _as_built(conn: asyncpg.Connection, viewer: uuid.UUID, after: tuple[Any, Any] | None) -> tuple[float, int]:
    from server.db import q
    from server.feed import home, rules

    ms = await _median_ms(lambda: home.page(conn, viewer, PAGE, after, lambda key: key))
    at, ident = after or (None, None)
    following = await conn.fetchval(q("feed_following_count"), viewer)
    buffers = 0
    found = 0
    if rules.uses_window(following):
        buffers += await _buffers(conn, q("feed_window"), viewer, at, ident, rules.WINDOW_POSTS, PAGE + 1)
        found = len(await conn.fetch(q("feed_window"), viewer, at, ident, rules.WINDOW_POSTS, PAGE + 1))
    if rules.needs_merge(found, PAGE + 1):
        buffers += await _buffers(conn, q("feed_merge"), viewer, at, ident, PAGE + 1 - found)
    return ms, buffers


async def _query(conn: asyncpg.Connection, sql: str, *args: Any) -> tuple[float, int]:
    statement = await conn.prepare(sql)
    ms = await _median_ms(lambda: statement.fetch(*args))
    return ms, await _buffers(conn, sql, *args)


async def explain_feed(dsn: str, net: Network, median_account: int) -> dict[str, str]:
    """The plans of what the server runs for a first page: median and 2,000-followee accounts
    (the window), and the dormant-followee account (its window finds nothing: the merge)."""
    from server.db import q
    from server.feed import rules

    conn = await asyncpg.connect(dsn)
    out = {}
    try:
        cases = (("median user", median_account, "feed_window"), ("2,000-followee user", net.roles.heavy, "feed_window"),
                 ("dormant-followee user (fallback)", net.roles.dormant_follower, "feed_merge"))
        for label, account, name in cases:
            viewer = net.account_ids[account]
            args = (viewer, None, None, rules.WINDOW_POSTS, PAGE + 1) if name == "feed_window" else (viewer, None, None, PAGE + 1)
            await conn.fetch(q(name), *args)  # warm, as a server's would be
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + q(name), *args)
            out[f"{label}, {name}"] = "\n".join(r[0] for r in rows)
    finally:
        await conn.close()
    return out


async def _build_fanout(conn: asyncpg.Connection) -> dict[str, Any]:
    await conn.execute("DROP TABLE IF EXISTS bench_fanout")
    await conn.execute("CREATE TABLE bench_fanout (user_id uuid NOT NULL, published_at timestamptz NOT NULL,"
                       " post_id uuid NOT NULL, author_id uuid NOT NULL, PRIMARY KEY (user_id, published_at, post_id))")
    start = time.perf_counter()
    rows = await conn.fetchval(f"""
        WITH recent AS (SELECT p.id, p.user_id, p.published_at FROM posts p
                        WHERE {PUBLIC} AND p.published_at > now() - make_interval(days => $1)),
        ins AS (INSERT INTO bench_fanout
                SELECT f.follower_id, r.published_at, r.id, r.user_id FROM recent r JOIN follows f ON f.followee_id = r.user_id
                UNION ALL SELECT r.user_id, r.published_at, r.id, r.user_id FROM recent r
                RETURNING 1)
        SELECT count(*) FROM ins""", FANOUT_DAYS)
    seconds = time.perf_counter() - start
    await conn.execute("VACUUM ANALYZE bench_fanout")
    size = await conn.fetchval("SELECT pg_total_relation_size('bench_fanout')")
    all_rows = await conn.fetchval(f"SELECT sum(s.followers_count + 1) FROM posts p JOIN user_stats s ON s.user_id = p.user_id WHERE {PUBLIC}")
    return {"rows": rows, "seconds": seconds, "bytes": size, "all_history_rows": int(all_rows or 0)}


async def _celebrity_post_cost(conn: asyncpg.Connection, celebrity: uuid.UUID) -> dict[str, Any]:
    """Fan-out of one post to every follower, then (capped variant) trimming every follower's feed
    back to CAP rows: the steady state, after a first trim has brought every feed down to CAP."""
    trim = """
        DELETE FROM bench_fanout b USING (
            SELECT f.follower_id AS user_id, c.published_at, c.post_id FROM follows f
            CROSS JOIN LATERAL (SELECT x.published_at, x.post_id FROM bench_fanout x WHERE x.user_id = f.follower_id
                                ORDER BY x.published_at DESC, x.post_id DESC OFFSET $2 LIMIT 1) c
            WHERE f.followee_id = $1) t
        WHERE b.user_id = t.user_id AND (b.published_at, b.post_id) <= (t.published_at, t.post_id)"""
    fan = """INSERT INTO bench_fanout SELECT follower_id, now(), $2::uuid, $1::uuid FROM follows WHERE followee_id = $1
             UNION ALL SELECT $1::uuid, now(), $2::uuid, $1::uuid"""
    await conn.execute(trim, celebrity, CAP)  # bring the followers' feeds down to CAP first
    before = await conn.fetchval("SELECT pg_current_wal_insert_lsn()")
    start = time.perf_counter()
    written = int((await conn.execute(fan, celebrity, uuid.uuid4())).split()[-1])
    fan_ms = (time.perf_counter() - start) * 1000
    wal = await conn.fetchval("SELECT pg_current_wal_insert_lsn() - $1::pg_lsn", before)
    start = time.perf_counter()
    trimmed = int((await conn.execute(trim, celebrity, CAP)).split()[-1])
    trim_ms = (time.perf_counter() - start) * 1000
    return {"rows": written, "ms": fan_ms, "wal_bytes": int(wal), "trim_ms": trim_ms, "trimmed": trimmed}


async def compare(dsn: str, net: Network, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    from server.db import q
    roles = net.roles
    users = {"median": roles.median, "2,000 followees": roles.heavy, "dormant followees": roles.dormant_follower}
    out: list[dict[str, Any]] = []
    pool = await _pool(dsn)
    conn = await pool.acquire()
    try:
        await conn.execute("SET jit = off")  # the plans are compared, not the compiler
        cursors = {label: await _page10_cursor(conn, net.account_ids[a]) for label, a in users.items()}
        for label, account in users.items():
            viewer = net.account_ids[account]
            c10 = cursors[label]
            p1, p10 = await _as_built(conn, viewer, None), await _as_built(conn, viewer, c10 if c10[0] else None)
            out.append({"design": "fan-out on read (built: window, then merge)", "user": label,
                        "page1": _cell(*p1), "page10": _cell(*p10)})
            for design, sql, extra in (("plain IN (followees) ORDER BY time", NAIVE, ()),
                                       ("per-followee merge only", q("feed_merge"), ())):
                a1 = await _query(conn, sql, viewer, None, None, PAGE + 1, *extra)
                a10 = await _query(conn, sql, viewer, *c10, PAGE + 1, *extra)
                out.append({"design": design, "user": label, "page1": _cell(*a1), "page10": _cell(*a10)})
        progress(f"bench social: building a fan-out-on-write feed table of the last {FANOUT_DAYS} days")
        built = await _build_fanout(conn)
        rate = built["rows"] / max(built["seconds"], 1e-9)
        celebs = [r["user_id"] for r in await conn.fetch(
            "SELECT user_id FROM user_stats WHERE followers_count > $1", HYBRID_FOLLOWERS)]
        for label, account in users.items():
            viewer = net.account_ids[account]
            w1 = await _query(conn, FANOUT_READ, viewer, None, None, PAGE + 1, [])
            rows = await conn.fetch(FANOUT_READ, viewer, None, None, PAGE * 9 + 1, [])
            empty = "empty: older posts are not in the table" if len(rows) < PAGE + 1 else ""
            w10 = "-"
            if len(rows) > PAGE * 9:  # the tenth page starts after the 180th post
                last = rows[PAGE * 9 - 1]
                w10 = _cell(*await _query(conn, FANOUT_READ, viewer, last["published_at"], last["id"], PAGE + 1, []))
            out.append({"design": f"fan-out on write ({FANOUT_DAYS}-day table)", "user": label, "page1": _cell(*w1),
                        "page10": w10, "note": empty})
            h1 = await _query(conn, FANOUT_READ, viewer, None, None, PAGE + 1, celebs)
            m1 = await _query(conn, HYBRID_MERGE, viewer, None, None, PAGE + 1, celebs)
            out.append({"design": f"hybrid (table + merge of {len(celebs)} accounts > {HYBRID_FOLLOWERS:,} followers)",
                        "user": label, "page1": _cell(h1[0] + m1[0], h1[1] + m1[1]), "page10": "-", "note": empty})
        cost = await _celebrity_post_cost(conn, net.account_ids[roles.celebrity])
        out.append({"design": "fan-out on write: build", "user": "-", "page1": "-", "page10": "-", "note": (
            f"{built['rows']:,} rows in {built['seconds']:.1f} s ({rate:,.0f} rows/s, {built['bytes'] / 2**20:,.0f} MiB) "
            f"for {FANOUT_DAYS} days; all history: {built['all_history_rows']:,} rows, about "
            f"{built['all_history_rows'] / rate:,.0f} s and {built['bytes'] / max(built['rows'], 1) * built['all_history_rows'] / 2**30:,.1f} GiB")})
        out.append({"design": "fan-out on write: one post by the most followed", "user": "-", "page1": "-", "page10": "-",
                    "note": (f"{cost['rows']:,} rows in {cost['ms']:.0f} ms, {cost['wal_bytes'] / 2**20:.1f} MiB of WAL; "
                             f"capped at {CAP}/follower: trimming after it {cost['trim_ms']:.0f} ms ({cost['trimmed']:,} rows)")})
        await conn.execute("DROP TABLE bench_fanout")
    finally:
        await pool.release(conn)
        await pool.close()
    return out
