"""Operator commands that need the database but not the server: migrate, jobs, moderation, users.

``migrate`` may create the database (that is its job). Commands that only read or replay data open
an existing one: started with a mistyped ``--data-dir``, they would otherwise initialise an empty
PostgreSQL there and report "no jobs", which reads like the truth about the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

import asyncpg

from .config import Settings
from .db import create_pool, migrate, start_embedded
from .db.embedded import postmaster_pid

EXIT_NO_DATABASE = 2


class NoDatabase(Exception):
    """There is no imagepipe database where the settings point; the message says where and why."""


def missing_embedded_database(settings: Settings) -> str | None:
    """Why the embedded database cannot be opened without creating one, or None. Pure (disk only)."""
    if not settings.embedded_db:
        return None
    pg_dir = settings.data_dir / "pg"
    if (pg_dir / "PG_VERSION").is_file():
        return None
    where = f"data dir {settings.data_dir}"
    if not settings.data_dir.exists():
        return f"{where} does not exist; is --data-dir (or IMAGEPIPE_DATA_DIR) right?"
    return (
        f"no database in {pg_dir}; is --data-dir (or IMAGEPIPE_DATA_DIR) right? "
        "'imagepipe serve' or 'imagepipe migrate' creates one"
    )


@asynccontextmanager
async def database(settings: Settings, *, create: bool = False) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the configured database; the embedded one is started and stopped around it
    (or adopted, when a running server already has it up). Without ``create``, a database that
    is not there (or has no imagepipe tables) raises NoDatabase instead of being made."""
    if not create:
        problem = missing_embedded_database(settings)
        if problem:
            raise NoDatabase(problem)
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
            if not create and await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
                # An external database that imagepipe never migrated: the URL is likely wrong.
                raise NoDatabase("the configured database has no imagepipe tables; is database_url right? "
                                 "'imagepipe migrate' creates them")
            await migrate(conn)
        yield pool
    finally:
        await pool.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def run_migrate(settings: Settings) -> int:
    async with database(settings, create=True) as pool:
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    for row in rows:
        print(f"{row['version']:04d}_{row['name']}")
    return 0


async def _on_existing_database(settings: Settings, command: Callable[[asyncpg.Pool], Awaitable[int]]) -> int:
    """Run an operator command on the database that is already there; exit 2, saying where we
    looked, when there is none (see the module docstring)."""
    try:
        async with database(settings) as pool:
            return await command(pool)
    except NoDatabase as exc:
        print(f"imagepipe: {exc}", file=sys.stderr)
        return EXIT_NO_DATABASE


async def run_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from .jobs_cli import jobs_command

    return await _on_existing_database(settings, lambda pool: jobs_command(pool, args))


async def run_moderation(settings: Settings, args: argparse.Namespace) -> int:
    from .moderation.cli import moderation_command

    return await _on_existing_database(settings, lambda pool: moderation_command(settings, pool, args))


async def run_users(settings: Settings, args: argparse.Namespace) -> int:
    from .moderation.cli import users_command

    return await _on_existing_database(settings, lambda pool: users_command(pool, args))
