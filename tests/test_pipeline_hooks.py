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
