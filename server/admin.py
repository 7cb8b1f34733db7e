"""Operator commands that need the database but not the server: migrate, jobs, moderation, users."""

from __future__ import annotations

import argparse
import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

import asyncpg

from .config import Settings
from .db import create_pool, migrate, start_embedded
from .db.embedded import postmaster_pid


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the configured database; the embedded one is started and stopped around it
    (or adopted, when a running server already has it up)."""
    embedded = None
    dsn = settings.database_url
    if settings.embedded_db:
        pg_dir = settings.data_dir / "pg"
        was_running = pg_dir.exists() and postmaster_pid(pg_dir) is not None
        embedded = await asyncio.to_thread(start_embedded, pg_dir)
        dsn = embedded.uri
        if was_running:
            embedded = None  # someone else's server: leave it up
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield pool
    finally:
        await pool.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def run_migrate(settings: Settings) -> int:
    async with database(settings) as pool:
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    for row in rows:
        print(f"{row['version']:04d}_{row['name']}")
    return 0


async def run_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from .jobs_cli import jobs_command

    async with database(settings) as pool:
        return await jobs_command(pool, args)


async def run_moderation(settings: Settings, args: argparse.Namespace) -> int:
    from .moderation.cli import moderation_command

    async with database(settings) as pool:
        return await moderation_command(settings, pool, args)


async def run_users(settings: Settings, args: argparse.Namespace) -> int:
    from .moderation.cli import users_command

    async with database(settings) as pool:
        return await users_command(pool, args)
