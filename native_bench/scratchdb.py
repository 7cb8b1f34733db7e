"""A database of the bench's own: created on the embedded PostgreSQL in a temporary folder (or on
the server ``--dsn`` names), migrated, and dropped afterwards, so a bench never touches real data.
Also the embedded server's CPU use, which a bench divides by the work done."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import asyncpg


class ScratchDatabase:
    """``with ScratchDatabase(dsn, data_dir) as db:`` then ``db.dsn``; ``db.postgres_cpu()``."""

    def __init__(self, admin_dsn: str | None, data_dir: str | None, prefix: str) -> None:
        self.admin_dsn = admin_dsn
        self.data_dir = data_dir
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        self.dsn = ""
        self._embedded = None
        self._tmp: str | None = None

    def __enter__(self) -> "ScratchDatabase":
        if self.admin_dsn is None:
            from server.db.embedded import start_embedded

            # The embedded server runs as its own user when we are root: it must reach this folder.
            self._tmp = tempfile.mkdtemp(prefix="imagepipe-bench-", dir=self.data_dir)
            os.chmod(self._tmp, 0o755)
            self._embedded = start_embedded(Path(self._tmp) / "pg")
            self.admin_dsn = self._embedded.uri
        try:
            asyncio.run(self._create())
        except BaseException:
            self._stop()
            raise
        self.dsn = _with_database(self.admin_dsn, self.name)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            asyncio.run(self._drop())
        finally:
            self._stop()

    async def _create(self) -> None:
        from server.db import migrate

        assert self.admin_dsn is not None
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f"CREATE DATABASE {self.name}")
        finally:
            await admin.close()
        conn = await asyncpg.connect(_with_database(self.admin_dsn, self.name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    async def _drop(self) -> None:
        assert self.admin_dsn is not None
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        finally:
            await admin.close()

    def _stop(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def postgres_cpu(self) -> float | None:
        """CPU seconds the embedded server has used so far: the postmaster, the backends it has
        reaped (its children's times) and those alive now. A bench's backends exit with its pools,
        so only the reaped children's times still hold their CPU when a run is over. None for a
        server named by ``--dsn``: its processes are not ours to see."""
        if self._embedded is None:
            return None
        import psutil

        from server.db.embedded import postmaster_pid

        pid = postmaster_pid(self._embedded.pgdata)
        if pid is None:
            return None
        try:
            postmaster = psutil.Process(pid)
            times = postmaster.cpu_times()
            total = times.user + times.system + times.children_user + times.children_system
            children = postmaster.children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        for child in children:
            try:
                own = child.cpu_times()
                total += own.user + own.system
            except psutil.NoSuchProcess:  # reaped meanwhile: its time is now the postmaster's
                continue
        return total


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))
