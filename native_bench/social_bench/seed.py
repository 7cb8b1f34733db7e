"""Write a ``Network`` into a migrated imagepipe database with ``COPY``, fast enough for a million
posts and five million likes in well under two minutes on two cores.

What makes it fast, and why it stays correct:
- the session runs with ``session_replication_role = replica``: row triggers (the exact counters of
  0010_social.sql) and foreign-key checks are off, so the counters (``user_stats``,
  ``post_metadata``) are written here, computed from the same network, and the rows are made
  consistent by construction (every edge points at a seeded account or post);
- secondary indexes of the bulk tables are dropped before the copy and rebuilt after it (a sort
  per index instead of millions of random inserts), and ``likes``/``follows`` lose their primary
  key meanwhile too (nothing references them);
- rows go over binary ``COPY`` from generators, so the million-row lists never exist twice.
Posts are copied in publication order, as a live service would have written them, so the heap's
physical order (and what a time-ordered scan reads) is realistic.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import asyncpg

from .network import Network

BULK_TABLES = ("posts", "post_metadata", "post_images", "follows", "likes", "user_stats")
# Tables whose primary key nothing references: dropped with the other indexes during the copy.
DROP_PRIMARY_KEY = ("follows", "likes")
PASSWORD = "bench-social-password"
IMAGE_DAYS = 30.0  # posts this recent get rendition rows (what the first pages of feeds show)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class SeedReport:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per step (likes overlap the others)
    wall_s: float = 0.0  # the copy, indexes and statistics, start to end


def username(index: int) -> str:
    return f"sn{index}"


def email(index: int) -> str:
    return f"sn{index}@bench.example"


def _ts(epoch_s: float) -> datetime:
    return _EPOCH + timedelta(seconds=epoch_s)


async def _saved_indexes(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT c.relname AS tbl, i.relname AS idx, pg_get_indexdef(i.oid) AS def,
               con.conname, pg_get_constraintdef(con.oid) AS condef
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class c ON c.oid = x.indrelid
        LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.contype IN ('p', 'u')
        WHERE c.relname = ANY($1::text[]) AND c.relnamespace = 'public'::regnamespace
        """,
        list(BULK_TABLES),
    )


async def _drop_indexes(conn: asyncpg.Connection, saved: list[asyncpg.Record]) -> None:
    for r in saved:
        if r["conname"] is None:
            await conn.execute(f'DROP INDEX "{r["idx"]}"')
        elif r["tbl"] in DROP_PRIMARY_KEY:
            await conn.execute(f'ALTER TABLE "{r["tbl"]}" DROP CONSTRAINT "{r["conname"]}"')


async def _rebuild_indexes(conn: asyncpg.Connection, saved: list[asyncpg.Record]) -> None:
    for r in saved:
        if r["conname"] is None:
            await conn.execute(r["def"])
        elif r["tbl"] in DROP_PRIMARY_KEY:
            await conn.execute(f'ALTER TABLE "{r["tbl"]}" ADD CONSTRAINT "{r["conname"]}" {r["condef"]}')


async def _copy(conn: asyncpg.Connection, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    result = await conn.copy_records_to_table(table, columns=columns, records=rows)
    return int(result.split()[-1])


def _timed(report: SeedReport, step: str) -> Callable[[], None]:
    start = time.perf_counter()

    def done() -> None:
        report.seconds[step] = report.seconds.get(step, 0.0) + time.perf_counter() - start

    return done


async def _prepare(conn: asyncpg.Connection) -> None:
    await conn.execute("SET session_replication_role = replica")
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET maintenance_work_mem = '256MB'")


async def _graph_and_posts(conn: asyncpg.Connection, net: Network, password_hash: str, report: SeedReport,
                           progress: Callable[[str], None]) -> None:
    ids, posts = net.account_ids, net.post_ids
    done = _timed(report, "accounts")
    joined = _ts(net.now - net.params.history_days * 86_400 - 86_400)
    report.rows["users"] = await _copy(
        conn, "users", ["id", "email", "username", "password_hash", "email_verified_at", "created_at", "updated_at"],
        ((ids[a], email(a), username(a), password_hash, joined, joined, joined) for a in range(len(ids))))
    posts_count = [0] * len(ids)
    for author in net.post_author:
        posts_count[author] += 1
    report.rows["user_stats"] = await _copy(
        conn, "user_stats", ["user_id", "posts_count", "followers_count", "following_count"],
        ((ids[a], posts_count[a], net.followers_count[a], len(net.followees[a])) for a in range(len(ids))))
    done()

    progress(f"seed: {len(posts):,} posts, {net.follow_count:,} follows, {sum(net.post_likes):,} likes")
    done = _timed(report, "posts")
    report.rows["posts"] = await _copy(
        conn, "posts", ["id", "user_id", "caption", "status", "source_key", "content_type", "file_size", "width",
                        "height", "created_at", "updated_at", "published_at"],
        ((posts[p], ids[net.post_author[p]], "", "published", f"uploads/{ids[net.post_author[p]]}/{posts[p]}/source",
          "image/jpeg", 2_000_000, 4000, 3000, t, t, t)
         for p in range(len(posts)) for t in (_ts(net.post_time[p]),)))
    report.rows["post_metadata"] = await _copy(
        conn, "post_metadata", ["post_id", "like_count", "comment_count", "view_count"],
        ((posts[p], net.post_likes[p], 0, 0) for p in range(len(posts))))
    recent = [p for p in range(len(posts)) if net.post_time[p] >= net.now - IMAGE_DAYS * 86_400]
    report.rows["post_images"] = await _copy(
        conn, "post_images", ["post_id", "variant", "format", "storage_key", "width", "height", "bytes", "quality"],
        ((posts[p], name, "jpeg", f"posts/{posts[p]}/1/{name}.jpg", side, side * 3 // 4, size, 85)
         for p in recent for name, side, size in (("thumbnail", 150, 9_000), ("medium", 600, 60_000),
                                                  ("original", 4000, 1_500_000))))
    done()
    done = _timed(report, "follows")
    followed_at = _ts(net.now - net.params.history_days * 86_400)
    report.rows["follows"] = await _copy(
        conn, "follows", ["follower_id", "followee_id", "created_at"],
        ((ids[a], ids[b], followed_at) for a in range(len(ids)) for b in net.followees[a]))
    done()


async def _likes(conn: asyncpg.Connection, net: Network, report: SeedReport) -> None:
    ids, posts = net.account_ids, net.post_ids
    done = _timed(report, "likes")
    # One time per post for its likes (an hour after it): a datetime per like would cost seconds.
    report.rows["likes"] = await _copy(
        conn, "likes", ["post_id", "user_id", "created_at"],
        ((posts[p], ids[u], at) for p, likers in net.like_rows()
         for at in (_ts(min(net.now, net.post_time[p] + 3600.0)),) for u in likers))
    done()


async def seed(dsn: str, net: Network, password_hash: str,
               progress: Callable[[str], None] = lambda _m: None) -> SeedReport:
    """Fill an empty, migrated database with ``net``. ``password_hash`` (bcrypt of ``PASSWORD``)
    is every account's, so the bench can log in as anyone it measures. Two connections: the
    likes (the bulk) copy and index while the rest does, one core each."""
    report = SeedReport()
    start = time.perf_counter()
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        for conn in (first, second):
            await _prepare(conn)
        saved = await _saved_indexes(first)
        await _drop_indexes(first, saved)
        await asyncio.gather(_graph_and_posts(first, net, password_hash, report, progress),
                             _likes(second, net, report))
        progress("seed: indexes and statistics")
        done = _timed(report, "indexes")
        likes = [r for r in saved if r["tbl"] == "likes"]
        await asyncio.gather(_rebuild_indexes(first, [r for r in saved if r["tbl"] != "likes"]),
                             _rebuild_indexes(second, likes))
        done()
        done = _timed(report, "vacuum")
        # The visibility map lets time-ordered scans of posts and follows skip the heap.
        await asyncio.gather(first.execute("VACUUM (ANALYZE) posts, follows, users, user_stats, post_metadata"),
                             second.execute("ANALYZE likes, post_images"))
        done()
    finally:
        await first.close()
        await second.close()
    report.wall_s = time.perf_counter() - start
    return report

