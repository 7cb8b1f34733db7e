"""Numbered SQL migrations, each in its own transaction, tracked in ``schema_migrations``.

An advisory lock serialises instances that start together: the second waits, then finds the work
done. Files are ``NNNN_name.sql`` under ``server/db/migrations`` and are never edited once shipped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every instance of imagepipe.
MIGRATION_LOCK_ID = 0x1A6E_F1BE
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def parse_migration_names(names: list[str]) -> list[tuple[int, str, str]]:
    """(version, name, filename) sorted; rejects duplicates and stray files. Pure."""
    found: dict[int, tuple[int, str, str]] = {}
    for filename in names:
        if not filename.endswith(".sql"):
            continue
        match = _FILE.match(filename)
        if not match:
            raise ValueError(f"migration file {filename!r} must be named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations share version {version}")
        found[version] = (version, match.group(2), filename)
    return [found[v] for v in sorted(found)]


def load_migrations() -> list[Migration]:
    folder = resources.files("server.db") / "migrations"
    entries = {e.name: e for e in folder.iterdir()}
    return [
        Migration(version, name, entries[filename].read_text(encoding="utf-8"))
        for version, name, filename in parse_migration_names(list(entries))
    ]


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply what is missing; returns the versions applied now."""
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in load_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return applied_now
