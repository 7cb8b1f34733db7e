"""The five faults of the torture, each done for real to the running cluster, and the schedule
that picks them (pure: a seed gives the same kinds, targets and trigger points every time)."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import asyncpg

from test_pipeline_hooks import kill_busy_worker, pool_workers

from .cluster import Postgres, Server

KINDS = ("worker_kill", "server_kill", "pg_kill", "pg_terminate", "sigstop")


@dataclass(frozen=True)
class Planned:
    kind: str
    after_accepted: int  # fires once this many accepted uploads were processed
    target: int  # which server (0 or 1), for the kinds that have one
    pause_s: float  # how long a killed part stays down


def schedule(seed: int, faults: int, uploads: int) -> list[Planned]:
    """``faults`` faults, every kind about equally often, spread over the first 90% of the uploads."""
    rng = random.Random(seed)
    kinds: list[str] = []
    while len(kinds) < faults:
        batch = list(KINDS)
        rng.shuffle(batch)
        kinds.extend(batch)
    points = sorted(rng.randrange(max(1, uploads // 20), max(2, uploads * 9 // 10)) for _ in range(faults))
    return [Planned(k, p, rng.randrange(2), rng.uniform(0.2, 3.0)) for k, p in zip(kinds[:faults], points)]


@dataclass
class Done:
    kind: str
    at: float
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


Held = list[tuple[int, int]]  # (job id, claim)


async def held_by(dsn: str, pid: int) -> Held:
    """Jobs whose lease names this process (owners are ``<prefix><pid>:<random>``)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT id, claim FROM jobs WHERE status = 'running' AND lease_owner LIKE '%/' || $1::text || ':%'", str(pid))
    finally:
        await conn.close()
    return [(r["id"], r["claim"]) for r in rows]


class Faults:
    def __init__(self, servers: list[Server], pg: Postgres, lease_s: float, reclaim: Callable[[str, Held], None],
                 restart: Callable[[Server], Awaitable[None]]) -> None:
        self.servers = servers
        self.pg = pg
        self.lease_s = lease_s
        self.reclaim = reclaim  # start timing how long these jobs take to be claimed again
        self.restart = restart
        self.done: list[Done] = []

    async def run(self, plan: Planned) -> Done:
        server = self.servers[plan.target]
        if plan.kind in ("worker_kill", "server_kill", "sigstop") and not server.alive:
            server = self.servers[1 - plan.target]
        action = getattr(self, plan.kind)
        done = await action(server, plan) if plan.kind in ("worker_kill", "server_kill", "sigstop") else await action(plan)
        self.done.append(done)
        return done

    async def _held(self, server: Server, wait_s: float) -> Held:
        """Wait a little for the server to hold jobs, so the fault lands mid-work."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                held = await held_by(self.pg.uri, server.pid or 0)
            except Exception:  # noqa: BLE001 - PostgreSQL down or our connection cut: nothing seen held
                held = []
            if held or time.monotonic() > deadline:
                return held
            await asyncio.sleep(0.05)

    async def worker_kill(self, server: Server, plan: Planned) -> Done:
        try:
            pid = await asyncio.to_thread(kill_busy_worker, server.pid, 5.0)
            busy = True
        except AssertionError:  # nothing computing right now: kill one anyway
            workers = await asyncio.to_thread(pool_workers, server.pid)
            pid, busy = (workers[0].pid, False) if workers else (0, False)
            if workers:
                workers[0].send_signal(signal.SIGKILL)
        return Done("worker_kill", time.monotonic(), server.name, {"worker": pid, "busy": busy})

    async def server_kill(self, server: Server, plan: Planned) -> Done:
        held = await self._held(server, 5.0)
        pid = server.pid
        server.kill()
        at = time.monotonic()
        self.reclaim("server_kill", held)
        await asyncio.sleep(plan.pause_s)
        await self.restart(server)
        return Done("server_kill", at, server.name, {"pid": pid, "held": len(held), "down_s": round(plan.pause_s, 2)})

    async def pg_kill(self, plan: Planned) -> Done:
        killed = await asyncio.to_thread(self.pg.kill)
        at = time.monotonic()
        await asyncio.sleep(plan.pause_s)
        await asyncio.to_thread(self.pg.start)
        return Done("pg_kill", at, "postgres", {"processes": killed, "down_s": round(time.monotonic() - at, 2)})

    async def pg_terminate(self, plan: Planned) -> Done:
        conn = await asyncpg.connect(self.pg.uri, timeout=10)
        try:
            n = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
        finally:
            await conn.close()
        return Done("pg_terminate", time.monotonic(), "postgres", {"connections": n})

    async def sigstop(self, server: Server, plan: Planned) -> Done:
        """Pause a server holding jobs past its lease and the reaper's next look, so its jobs are
        claimed again by the other; then let it run on as a zombie whose every write is stale."""
        held = await self._held(server, 10.0)
        sibling = self.servers[1 - self.servers.index(server)]
        if not held and sibling.alive and not sibling.stopped:
            # An idle target would make a pause that fences nothing: pause the one at work instead.
            sibling_held = await self._held(sibling, 10.0)
            if sibling_held:
                server, held = sibling, sibling_held
        server.signal_group(signal.SIGSTOP)
        server.stopped = True
        at = time.monotonic()
        self.reclaim("sigstop", held)
        await asyncio.sleep(self.lease_s * 2 + 2.0)
        server.signal_group(signal.SIGCONT)
        server.stopped = False
        return Done("sigstop", at, server.name, {"pid": server.pid, "held": held, "paused_s": round(time.monotonic() - at, 1)})
