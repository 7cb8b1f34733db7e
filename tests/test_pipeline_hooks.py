"""Shared helpers for the job-queue, pipeline and fault tests (no tests here).

It lives under tests/ because spawned pool workers must be able to import the test transcode
functions below by module name (``tests/`` is on ``sys.path`` via conftest, and spawn children
inherit ``sys.path``).
"""

from __future__ import annotations

import os
import uuid

import asyncpg

POISON_MARKER = b"IMAGEPIPE-POISON"


async def insert_user(conn: asyncpg.Connection) -> uuid.UUID:
    user_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO users (id, email, username, password_hash, email_verified_at) VALUES ($1, $2, $3, 'x', now())",
        user_id, f"{user_id.hex[:10]}@example.org", f"u{user_id.hex[:10]}",
    )
    return user_id


async def insert_processing_post(
    conn: asyncpg.Connection, user_id: uuid.UUID, *, max_attempts: int = 5, run_after_s: float = 0.0
) -> tuple[uuid.UUID, int]:
    """A post whose upload completed: status processing and one queued job (what upload/complete does)."""
    post_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO posts (id, user_id, status, source_key, content_type, file_size) "
        "VALUES ($1, $2, 'processing', $3, 'image/jpeg', 1)",
        post_id, user_id, f"uploads/{user_id}/{post_id}/source",
    )
    job_id = await conn.fetchval(
        "INSERT INTO jobs (post_id, max_attempts, run_after) VALUES ($1, $2, now() + make_interval(secs => $3)) "
        "RETURNING id",
        post_id, max_attempts, float(run_after_s),
    )
    return post_id, job_id


def poison_transcode(source: bytes, options=None):  # type: ignore[no-untyped-def]
    """The real transcode, except that a source carrying the marker kills its worker process,
    the way a libvips segfault on a hostile file would."""
    if POISON_MARKER in source:
        os._exit(70)
    from actors.transcode import TranscodeOptions, transcode

    return transcode(source, options or TranscodeOptions())


SLOW_MARKER = b"IMAGEPIPE-SLOW"


def slow_transcode(source: bytes, options=None):  # type: ignore[no-untyped-def]
    """The real transcode, except that a source carrying the marker hangs (a pathological file)."""
    if SLOW_MARKER in source:
        import time

        time.sleep(3600)
    from actors.transcode import TranscodeOptions, transcode

    return transcode(source, options or TranscodeOptions())


def make_small_jpeg(path, width: int = 800) -> bytes:  # type: ignore[no-untyped-def]
    """A small real photo (about 800x600) cut from a corpus picture: passes every rule, fast to encode."""
    import pyvips

    image = pyvips.Image.thumbnail(str(path), width)
    return image.jpegsave_buffer(Q=85)


async def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll an async predicate until it returns something truthy; that value, or AssertionError."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


async def post_states(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT status::text AS s, count(*) AS n FROM posts GROUP BY status")
    return {r["s"]: r["n"] for r in rows}
