"""``imagepipe jobs list|retry|retry-dead`` through the real CLI against the test database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg

from server.jobs import JobQueue
from server.jobs_cli import format_table
from serverproc import REPO, server_env
from test_pipeline_hooks import insert_processing_post, insert_user


def _cli(db_dsn: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = server_env(IMAGEPIPE_DATABASE_URL=db_dsn)
    return subprocess.run(
        [sys.executable, "-m", "server", "jobs", "--data-dir", str(data_dir), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )


async def _run(*args) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_cli, *args)


def test_format_table_aligns_columns() -> None:
    from datetime import datetime

    row = dict(
        id=7, status="dead", attempts=5, max_attempts=5, pool_breaks=3, post_id="p-1",
        run_after=datetime(2026, 1, 2, 3, 4, 5), last_error_code="poison_image", last_error="broke the pool",
    )
    lines = format_table([row, {**row, "id": 12, "last_error_code": None, "last_error": None}]).splitlines()
    assert lines[0].split() == ["ID", "STATUS", "ATTEMPTS", "BREAKS", "POST_ID", "RUN_AFTER", "ERROR"]
    assert lines[1].split()[:4] == ["7", "dead", "5/5", "3"] and lines[1].endswith("poison_image: broke the pool")
    assert lines[1].index("dead") == lines[2].index("dead")


async def test_list_retry_and_retry_dead(db_pool: asyncpg.Pool, db_dsn: str, data_dir: Path) -> None:
    async with db_pool.acquire() as conn:
        user = await insert_user(conn)
        ids = [(await insert_processing_post(conn, user))[1] for _ in range(3)]
    queue = JobQueue(db_pool)
    claims = await queue.claim(3, "a", 30)
    await queue.fail_final(claims[0], "poison_image", "kept killing its worker", status="dead")
    await queue.fail_final(claims[1], "image_too_small", "too small")

    listed = await _run(db_dsn, data_dir, "list", "--status", "dead")
    assert listed.returncode == 0, listed.stderr
    assert "poison_image: kept killing its worker" in listed.stdout
    assert str(ids[1]) not in listed.stdout.split()

    everything = await _run(db_dsn, data_dir, "list", "--limit", "2")
    assert everything.returncode == 0 and len(everything.stdout.strip().splitlines()) == 3  # header + 2

    running = await _run(db_dsn, data_dir, "retry", str(ids[2]))
    assert running.returncode == 1 and "is running; only dead or failed jobs can be retried" in running.stderr
    missing = await _run(db_dsn, data_dir, "retry", "999999")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    bad = await _run(db_dsn, data_dir, "list", "--status", "stuck")
    assert bad.returncode == 1 and "unknown status" in bad.stderr

    failed = await _run(db_dsn, data_dir, "retry", str(ids[1]))
    assert failed.returncode == 0 and f"job {ids[1]} queued again" in failed.stdout
    dead = await _run(db_dsn, data_dir, "retry-dead")
    assert dead.returncode == 0 and "1 dead job queued again" in dead.stdout
    async with db_pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT j.status::text AS s, p.status::text AS ps FROM jobs j JOIN posts p ON p.id = j.post_id "
            "WHERE j.id = ANY($1::bigint[]) ORDER BY j.id", ids[:2],
        )
    assert [(r["s"], r["ps"]) for r in rows] == [("queued", "processing"), ("queued", "processing")]
    none_left = await _run(db_dsn, data_dir, "list", "--status", "dead")
    assert none_left.returncode == 0 and "no jobs with status dead" in none_left.stdout


async def test_jobs_of_deleted_posts_are_not_replayed(db_pool: asyncpg.Pool, db_dsn: str, data_dir: Path) -> None:
    """A deleted post's objects are being purged; replaying its job would bring them back."""
    async with db_pool.acquire() as conn:
        user = await insert_user(conn)
        post_id, job_id = await insert_processing_post(conn, user)
    queue = JobQueue(db_pool)
    [claim] = await queue.claim(1, "a", 30)
    await queue.fail_final(claim, "poison_image", "kept killing its worker", status="dead")
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE posts SET deleted_at = now() WHERE id = $1", post_id)

    single = await _run(db_dsn, data_dir, "retry", str(job_id))
    assert single.returncode == 1 and "deleted post" in single.stderr
    bulk = await _run(db_dsn, data_dir, "retry-dead")
    assert bulk.returncode == 0 and "0 dead jobs queued again" in bulk.stdout
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT status::text FROM jobs WHERE id = $1", job_id) == "dead"
