"""Two measurements of the queue for the closing note, on a fresh embedded PostgreSQL:

- ``plan``: EXPLAIN (ANALYZE, BUFFERS) of the claim with a million succeeded jobs in the table;
- ``snapshot``: claims per second (claim + publish, one job at a time, as instances do) while
  another connection holds a REPEATABLE READ snapshot open, against the same run without it.

    PYTHONPATH=tests python -m reliability.measure plan
    PYTHONPATH=tests python -m reliability.measure snapshot --hold 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from actors.pipeline.ports import Published
from server.db import create_pool, migrate, q
from server.jobs import JobQueue

from .cluster import Postgres


async def _setup(root: Path) -> tuple[Postgres, asyncpg.Pool]:
    pg = Postgres(root / "pg")
    await asyncio.to_thread(pg.start)
    await pg.create_database()
    pool = await create_pool(pg.uri, min_size=2, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn)
        await conn.execute("INSERT INTO users (id, email, username, password_hash) VALUES "
                           "(gen_random_uuid(), 'm@example.org', 'm', 'x')")
    return pg, pool


async def _add_jobs(conn: asyncpg.Connection, n: int, status: str) -> None:
    await conn.execute(
        "WITH p AS (INSERT INTO posts (id, user_id, status, source_key, content_type, file_size) "
        "SELECT gen_random_uuid(), (SELECT id FROM users LIMIT 1), 'processing', 'k', 'image/jpeg', 1 "
        "FROM generate_series(1, $1) RETURNING id, user_id) "
        "INSERT INTO jobs (post_id, user_id, status, finished_at) "
        "SELECT id, user_id, $2::job_status, CASE WHEN $2 = 'succeeded' THEN now() END FROM p", n, status)


async def plan(root: Path, finished: int) -> dict:
    pg, pool = await _setup(root)
    try:
        async with pool.acquire() as conn:
            started = time.monotonic()
            for _ in range(finished // 100_000):
                await _add_jobs(conn, 100_000, "succeeded")
            await _add_jobs(conn, 1000, "queued")
            await conn.execute("VACUUM ANALYZE jobs")
            await conn.execute("VACUUM ANALYZE posts")
            loaded = time.monotonic() - started
            claim = conn.transaction()  # EXPLAIN ANALYZE runs the UPDATE: roll it back
            await claim.start()
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + q("jobs_claim"), 2, "w", 30.0)
            await claim.rollback()
            counts = dict(await conn.fetch("SELECT status::text, count(*) FROM jobs GROUP BY status"))
        return {"finished_rows": finished, "jobs": counts, "load_s": round(loaded, 1),
                "plan": [r[0] for r in rows]}
    finally:
        await pool.close()
        await asyncio.to_thread(pg.stop)


async def _claim_cost(pool: asyncpg.Pool) -> tuple[float, int]:
    """One claim's execution time (ms) and buffers touched, from EXPLAIN (ANALYZE, BUFFERS), rolled
    back: throughput on a shared 2-core machine is noisy, the pages a claim reads are not."""
    async with pool.acquire() as conn:
        claim = conn.transaction()
        await claim.start()
        lines = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + q("jobs_claim"), 1, "m", 30.0)]
        await claim.rollback()
    buffers = sum(int(n) for line in lines[1:2] for n in re.findall(r"(?:hit|read)=(\d+)", line))
    ms = next(float(line.split(":")[1].split()[0]) for line in lines if line.startswith("Execution Time"))
    return ms, buffers


async def _claims_per_s(queue: JobQueue, pool: asyncpg.Pool, seconds: float) -> list[dict[str, float]]:
    """Claim and publish one job at a time for ``seconds``; per 10 s window: claims/s, and what
    one claim cost at the window's end."""
    windows: list[dict[str, float]] = []
    count, start = 0, time.monotonic()
    window_start = start
    while time.monotonic() - start < seconds:
        async with pool.acquire() as conn:
            await _add_jobs(conn, 1, "queued")
        for job in await queue.claim(1, "measure", 30):
            assert (await queue.publish(job, [], 1, 1, {})).outcome is Published.PUBLISHED
            count += 1
        if time.monotonic() - window_start >= 10:
            rate = count / (time.monotonic() - window_start)
            ms, buffers = await _claim_cost(pool)
            windows.append({"claims_per_s": round(rate, 1), "claim_ms": ms, "claim_buffers": buffers})
            count, window_start = 0, time.monotonic()
    return windows


async def snapshot(root: Path, hold_s: float) -> dict:
    pg, pool = await _setup(root)
    queue = JobQueue(pool)
    try:
        async with pool.acquire() as conn:
            await _add_jobs(conn, 200, "queued")  # a standing backlog, as under load
        baseline = await _claims_per_s(queue, pool, min(hold_s, 60))
        await asyncio.sleep(5)  # let autovacuum catch up on the baseline's dead rows
        holder = await asyncpg.connect(pg.uri)
        await holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        await holder.fetchval("SELECT count(*) FROM jobs")  # takes the snapshot
        held = await _claims_per_s(queue, pool, hold_s)
        async with pool.acquire() as conn:
            stats = dict(await conn.fetchrow(
                "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs'"))
            index = await conn.fetchval("SELECT pg_relation_size('jobs_claimable_idx')")
        await holder.execute("ROLLBACK")
        await holder.close()
        await asyncio.sleep(5)
        after = await _claims_per_s(queue, pool, min(hold_s, 60))
        return {"hold_s": hold_s, "claims_per_s_before": baseline, "claims_per_s_while_held": held,
                "claims_per_s_after_release": after, "jobs_table_at_end_of_hold": stats,
                "claimable_index_bytes_at_end_of_hold": index}
    finally:
        await pool.close()
        await asyncio.to_thread(pg.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reliability.measure")
    parser.add_argument("what", choices=("plan", "snapshot"))
    parser.add_argument("--rows", type=int, default=1_000_000, help="plan: finished jobs in the table")
    parser.add_argument("--hold", type=float, default=300.0, help="snapshot: seconds the snapshot is held")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="imagepipe-measure-"))
    root.chmod(0o755)
    try:
        result = asyncio.run(plan(root, args.rows) if args.what == "plan" else snapshot(root, args.hold))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
