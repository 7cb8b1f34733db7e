"""``bench posts``: the cost of one page of a profile's posts (``list_user_posts`` and then
``post_images_for``, the two queries ``GET /api/v1/users/{id}/posts`` runs), on a seeded database of
its own, from many concurrent clients: pages/s, latency, and PostgreSQL CPU per page.

It stands in for the feed until the feed's own queries land: a keyset page over an index plus one
batched lookup of the page's renditions is the shape a feed page has too.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from .progress import say
from .stats import ms_summary, per_second

PAGE = 20


@dataclass(frozen=True)
class PostsOptions:
    accounts: int = 200
    posts_per_account: int = 500
    clients: int = 16
    pages: int = 5000  # in all
    deep: float = 0.2  # share of pages that follow a cursor a few pages in


@dataclass(frozen=True)
class PostsFigures:
    options: PostsOptions
    wall_s: float
    pages: int
    latency_s: tuple[float, ...]
    postgres_cpu_s: float | None
    client_cpu_s: float
    bytes_per_post: float  # database size over posts, after VACUUM ANALYZE: tables, indexes, TOAST

    @property
    def pages_per_s(self) -> float:
        return per_second(self.pages, self.wall_s)

    @property
    def postgres_ms_per_page(self) -> float | None:
        return None if self.postgres_cpu_s is None or not self.pages else 1000 * self.postgres_cpu_s / self.pages

    def to_dict(self) -> dict:
        o = self.options
        return {
            "accounts": o.accounts, "posts": o.accounts * o.posts_per_account, "clients": o.clients,
            "pages": self.pages, "page_size": PAGE, "pages_per_s": round(self.pages_per_s, 1),
            "latency_ms": ms_summary(self.latency_s, (50, 95, 99)),
            "postgres_cpu_ms_per_page": (None if self.postgres_ms_per_page is None
                                         else round(self.postgres_ms_per_page, 4)),
            "client_cpu_ms_per_page": round(1000 * self.client_cpu_s / max(self.pages, 1), 4),
            "database_bytes_per_post": round(self.bytes_per_post),
        }


async def _seed(dsn: str, options: PostsOptions) -> tuple[list, float]:
    import asyncpg

    from server.db import q

    conn = await asyncpg.connect(dsn)
    try:
        users = [r["id"] for r in await conn.fetch(q("bench_seed_users"), "p", options.accounts)]
        for start in range(0, len(users), 20):  # in slices: one statement per 20 accounts
            await conn.execute(q("bench_seed_posts"), users[start:start + 20], options.posts_per_account)
        await conn.execute("VACUUM ANALYZE")
        size = await conn.fetchval(q("bench_bytes_per_post"))
    finally:
        await conn.close()
    return users, size


async def _plan(pool, users: list, options: PostsOptions) -> list[list[tuple]]:
    """Each client's pages as (account, cursor), cursors looked up before the clock starts."""
    from server.db import q

    rng = random.Random(1)
    plans: list[list[tuple]] = []
    async with pool.acquire() as conn:
        for _ in range(options.clients):
            plan = []
            for _ in range(options.pages // options.clients):
                user, cursor = rng.choice(users), (None, None)
                if rng.random() < options.deep:
                    row = await conn.fetchrow(q("bench_cursor_at"), user, rng.randint(2, 10) * PAGE)
                    cursor = (row["created_at"], row["id"]) if row else cursor
                plan.append((user, cursor))
            plans.append(plan)
    return plans


async def _client(pool, plan: list[tuple], latency: list[float]) -> None:
    from server.db import q

    statuses = ["published"]
    viewer = plan[0][0] if plan else None  # a signed-in reader: block check and liked_by_me included
    for user, (after_at, after_id) in plan:
        start = time.perf_counter()
        async with pool.acquire() as conn:
            rows = await conn.fetch(q("list_user_posts"), user, statuses, after_at, after_id, PAGE + 1, viewer)
            await conn.fetch(q("post_images_for"), [r["id"] for r in rows[:PAGE]])
        latency.append(time.perf_counter() - start)


async def _run(db, users: list, options: PostsOptions) -> tuple[float, list[float], float, float | None]:
    from server.db import create_pool

    pool = await create_pool(db.dsn, min_size=options.clients, max_size=options.clients)
    latency: list[float] = []
    try:
        plans = await _plan(pool, users, options)
        before = db.postgres_cpu()
        cpu = time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(_client(pool, plan, latency) for plan in plans))
        wall, client_cpu = time.perf_counter() - start, time.process_time() - cpu
        after = db.postgres_cpu()
    finally:
        await pool.close()
    return wall, latency, client_cpu, None if before is None or after is None else after - before


def run_posts(options: PostsOptions, admin_dsn: str | None, data_dir: str | None, progress: bool) -> PostsFigures:
    from .scratchdb import ScratchDatabase

    with ScratchDatabase(admin_dsn, data_dir, "imagepipe_bench") as db:
        users, bytes_per_post = asyncio.run(_seed(db.dsn, options))
        say(f"bench posts: {options.accounts * options.posts_per_account} posts seeded over "
            f"{options.accounts} accounts; {options.clients} clients", progress)
        wall, latency, client_cpu, pg_cpu = asyncio.run(_run(db, users, options))
    return PostsFigures(options, wall, len(latency), tuple(latency), pg_cpu, client_cpu, bytes_per_post)
