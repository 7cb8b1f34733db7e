"""The bench's own deployment: an embedded PostgreSQL in a temporary folder, migrated and seeded
with the network, and two ``serve`` instances on it (A and B, as behind a load balancer). Nothing
of the operator's is touched, and everything is removed at the end."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import asyncpg

from ..errors import BenchError
from ..launch import LocalServer, bench_env, free_port, server_command
from .network import Network, NetworkParams, build_network
from .seed import PASSWORD, SeedReport, seed


@dataclass
class Cluster:
    root: Path
    dsn: str
    network: Network
    seed_report: SeedReport
    network_s: float
    servers: list[LocalServer] = field(default_factory=list)
    _embedded: object = None

    @property
    def a(self) -> LocalServer:
        return self.servers[0]

    @property
    def b(self) -> LocalServer:
        return self.servers[1]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self._embedded is not None:
            self._embedded.stop()  # type: ignore[attr-defined]
        shutil.rmtree(self.root, ignore_errors=True)


def _start_server(root: Path, name: str, dsn: str, secret: str) -> LocalServer:
    data_dir = root / name
    port = free_port()
    log_path = root / f"{name}.log"
    env = bench_env(1, {
        "IMAGEPIPE_DATABASE_URL": dsn,
        "IMAGEPIPE_JWT_SECRET": secret,  # instances behind one load balancer share the signing key
        "IMAGEPIPE_DB_POOL_MAX": "10",
    })
    command = [*server_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return LocalServer(data_dir=data_dir, port=port, proc=proc, log_path=log_path, own_dir=False)


async def _migrate_and_seed(dsn: str, net: Network, progress: Callable[[str], None]) -> SeedReport:
    from server.auth.passwords import hash_password
    from server.db import migrate

    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return await seed(dsn, net, await hash_password(PASSWORD, 4), progress)


def start_cluster(params: NetworkParams, parent_dir: str | None, progress: Callable[[str], None]) -> Cluster:
    """Seeded database and two ready instances; the caller must ``stop()`` it."""
    from server.db.embedded import start_embedded

    if parent_dir:
        Path(parent_dir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="imagepipe-bench-social-", dir=parent_dir))
    os.chmod(root, 0o755)  # the embedded server runs as its own user when we are root
    embedded = None
    try:
        progress("bench social: starting PostgreSQL")
        embedded = start_embedded(root / "pg")
        started = time.perf_counter()
        net = build_network(params, now=time.time())
        network_s = time.perf_counter() - started
        progress(f"bench social: network of {params.accounts:,} accounts built in {network_s:.1f} s; seeding")
        report = asyncio.run(_migrate_and_seed(embedded.uri, net, progress))
        cluster = Cluster(root=root, dsn=embedded.uri, network=net, seed_report=report, network_s=network_s,
                          _embedded=embedded)
    except BaseException:
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        secret = secrets.token_urlsafe(32)
        progress("bench social: starting instances A and B")
        cluster.servers = [_start_server(root, name, cluster.dsn, secret) for name in ("a", "b")]
        for server in cluster.servers:
            server.wait_ready()
    except BaseException:
        cluster.stop()
        raise
    if any(s.proc.poll() is not None for s in cluster.servers):
        cluster.stop()
        raise BenchError("an instance exited during start-up")
    return cluster
