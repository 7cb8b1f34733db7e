"""Crash torture: N uploads from several accounts through two ``serve`` processes on one database,
under a seeded schedule of real faults (worker SIGKILL, server SIGKILL and restart, PostgreSQL
SIGKILL and restart, ``pg_terminate_backend`` of the servers' connections, a server SIGSTOPped past
its lease and resumed). Then the faults stop, everything settles, and ``checks.judge`` reads the end
state. Also measured: how long a crashed (or paused) holder's jobs take to be claimed again, and
the longest transaction the servers kept open.

    PYTHONPATH=tests python -m reliability.torture -n 300 --faults 15 --seed 1 --report var/torture.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from test_pipeline_hooks import make_small_jpeg

from .checks import judge
from .clients import Traffic, Users, run_uploads
from .cluster import Postgres, Server, cluster_env
from .faults import Faults, Held, schedule
from .seeds import CORPUS
from .watch import ObjectLedger

SETTLE_TIMEOUT_S = 600.0


@dataclass
class Run:
    uploads: int
    faults: int
    seed: int
    lease_s: float
    accounts: int = 6
    concurrency: int = 8
    bad_every: int = 25  # one corrupt upload in this many
    photo_side: int = 320


@dataclass
class Measures:
    reclaim_s: dict[str, list[float]] = field(default_factory=dict)
    not_reclaimed: dict[str, int] = field(default_factory=dict)  # finished by their holder first
    longest_xact_s: float = 0.0
    longest_xact_query: str = ""


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Torture:
    def __init__(self, run: Run, root: Path) -> None:
        self.run = run
        self.root = root
        self.pg = Postgres(root / "pg")
        self.data_dir = root / "data"
        self.servers: list[Server] = []
        self.ready: dict[str, bool] = {}
        self.measures = Measures()
        self.watching: dict[tuple[int, int], tuple[str, float]] = {}
        self.traffic = Traffic()
        self.ledger = ObjectLedger(self.data_dir / "objects")
        self.accepted = 0
        self.faults: Faults | None = None
        self.paused_until = 0.0
        self.monitor_errors = 0
        self.processed = 0  # accepted uploads whose post is published or failed
        self.idle = False  # nothing queued or running
        self.self_exits: list[str] = []  # servers that exited on their own (restarted, as systemd would)
        self.rng = random.Random(run.seed)

    # -- the cluster ------------------------------------------------------------------------------
    def live_bases(self) -> list[str]:
        return [s.base_url for s in self.servers if s.alive and not s.stopped and self.ready.get(s.name)]

    async def restart(self, server: Server) -> None:
        self.ready[server.name] = False
        server.restarting = False  # type: ignore[attr-defined]
        server.start()
        asyncio.get_running_loop().create_task(self._mark_ready(server))

    async def _mark_ready(self, server: Server) -> None:
        try:
            await server.wait_ready(180)
            self.ready[server.name] = True
        except Exception:  # noqa: BLE001 - it exited: the monitor restarts it and reports why
            pass

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True)
        await asyncio.to_thread(self.pg.start)
        await self.pg.create_database()
        env = cluster_env(self.pg.uri, self.run.lease_s)
        self.servers = [Server("a", self.data_dir, env), Server("b", self.data_dir, env)]
        self.servers[0].start()
        await self.servers[0].wait_ready(180)  # the first migrates the database
        self.ready["a"] = True
        self.servers[1].start()
        await self.servers[1].wait_ready(180)
        self.ready["b"] = True
        self.ledger.start()

    async def stop(self) -> dict[str, Any]:
        codes = {s.name: await asyncio.to_thread(s.terminate) for s in self.servers}
        self.ledger.stop()
        await asyncio.to_thread(self.pg.stop)
        return codes

    # -- measurements -----------------------------------------------------------------------------
    def reclaim(self, kind: str, held: Held) -> None:
        now = time.monotonic()
        for job in held:
            self.watching[job] = (kind, now)

    async def _db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.pg.uri, timeout=5)

    async def monitor(self, stop: asyncio.Event) -> None:
        """Every 0.1 s: which watched jobs were claimed again, and how old the oldest open
        transaction of the servers is."""
        while not stop.is_set():
            try:
                conn = await self._db()
                try:
                    while not stop.is_set():
                        await self._look(conn)
                        await asyncio.sleep(0.1)
                finally:
                    await conn.close()
            except Exception:  # noqa: BLE001 - PostgreSQL down, our connection cut (asyncpg raises
                # several kinds then, InternalClientError among them): look again later. The faults
                # wait on what this sees, so it must never die.
                self.monitor_errors += 1
                await asyncio.sleep(0.2)

    async def _look(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM posts WHERE status IN ('published', 'failed')) AS done, "
            "(SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')) AS busy")
        self.processed, self.idle = row["done"], row["busy"] == 0
        for server in self.servers:  # Restart=on-failure: a server that exited by itself comes back
            if server.proc is not None and not server.alive and server.proc.proc.returncode not in (None, -9) \
                    and not getattr(server, "restarting", False):
                tail = " | ".join(server.proc.log_text().strip().splitlines()[-2:])[-300:]
                self.self_exits.append(f"{server.name} exited with {server.proc.proc.returncode}: {tail}")
                server.restarting = True  # type: ignore[attr-defined]
                await self.restart(server)
        if self.watching:
            rows = await conn.fetch("SELECT id, claim, status::text AS s FROM jobs WHERE id = ANY($1::bigint[])",
                                    [job_id for job_id, _ in self.watching])
            now = time.monotonic()
            for row in rows:
                for key in [k for k in self.watching if k[0] == row["id"]]:
                    kind, since = self.watching[key]
                    if row["claim"] != key[1]:
                        self.measures.reclaim_s.setdefault(kind, []).append(now - since)
                        del self.watching[key]
                    elif row["s"] in ("succeeded", "failed", "dead"):  # its holder finished it before it went down
                        self.measures.not_reclaimed[kind] = self.measures.not_reclaimed.get(kind, 0) + 1
                        del self.watching[key]
        if any(s.stopped for s in self.servers):
            self.paused_until = time.monotonic() + 1.0
            return  # a paused server's open transaction ages with the pause, not with its work
        if time.monotonic() < self.paused_until:
            return
        row = await conn.fetchrow(
            "SELECT extract(epoch FROM now() - xact_start) AS age, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
            "AND backend_type = 'client backend' ORDER BY xact_start LIMIT 1")
        if row and row["age"] is not None and float(row["age"]) > self.measures.longest_xact_s:
            self.measures.longest_xact_s = float(row["age"])
            self.measures.longest_xact_query = (row["query"] or "")[:300]

    # -- the run ----------------------------------------------------------------------------------
    async def execute(self, progress: bool = True) -> dict[str, Any]:
        run = self.run
        started = time.monotonic()
        await self.start()
        stop_monitor = asyncio.Event()
        monitor = asyncio.create_task(self.monitor(stop_monitor))
        plan = schedule(run.seed, run.faults, run.uploads)
        faults = self.faults = Faults(self.servers, self.pg, run.lease_s, self.reclaim, self.restart)
        outbox = self.data_dir / "outbox"
        photo = make_small_jpeg(CORPUS / "phone-3264x2448.jpg", run.photo_side)
        try:
            async with Users(self.live_bases, outbox, self.traffic, random.Random(run.seed + 1)) as users:
                accounts = [await users.register(f"tort{run.seed}_{i}") for i in range(run.accounts)]
                def on_accepted(count: int) -> None:
                    self.accepted = count

                async def fire() -> None:
                    # Faults follow the processing, not the uploads (which run ahead into a
                    # backlog): each lands while jobs are being worked on.
                    for planned in plan:
                        while self.processed < planned.after_accepted and not (uploads.done() and self.idle):
                            await asyncio.sleep(0.05)
                        done = await faults.run(planned)
                        if progress:
                            print(f"torture: {self.accepted}/{run.uploads} accepted, {self.processed} done, fault {len(faults.done)}/{len(plan)}: "
                                  f"{done.kind} on {done.target} {done.detail}", file=sys.stderr, flush=True)

                uploads = asyncio.create_task(run_uploads(users, accounts, photo, run.uploads, run.concurrency,
                                                          run.bad_every, on_accepted))
                await fire()
                await uploads
            uploaded_at = time.monotonic()
            for server in self.servers:  # everything up again for the settling
                if not server.alive:
                    await self.restart(server)
            settled = await self.settle()
            settle_s = time.monotonic() - uploaded_at
            await asyncio.sleep(max(0.0, 3 * run.lease_s - (time.monotonic() - uploaded_at)))
            verdict, evidence = await self.judge()
        finally:
            stop_monitor.set()
            await monitor
            exit_codes = await self.stop()
        logs = "\n".join(s.logs() for s in self.servers)
        return {
            "run": asdict(run),
            "ok": settled and not verdict.violations and not self.traffic.errors,
            "violations": verdict.violations[:50],
            "violation_count": len(verdict.violations),
            "counts": verdict.counts,
            "accepted": len(self.traffic.accepted),
            "client_errors": self.traffic.errors[:20],
            "client_retries": self.traffic.retries,
            "servers_exited_by_themselves": self.self_exits,
            "faults": [asdict(d) | {"at": round(d.at - started, 1)} for d in faults.done],
            "fault_kinds": {k: sum(1 for d in faults.done if d.kind == k) for k in sorted({d.kind for d in faults.done})},
            "reclaim_s": {k: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99), "max": max(v)}
                          for k, v in self.measures.reclaim_s.items()},
            "finished_by_holder_before_the_fault": self.measures.not_reclaimed,
            "still_watched": len(self.watching),
            "monitor_errors": self.monitor_errors,
            "fencing": {
                "commits_refused": logs.count("was claimed again elsewhere; not publishing claim"),
                "leases_found_lost": logs.count("lost the lease on jobs"),
                "zombie_jobs_reclaimed": evidence["zombie_reclaimed"],
                "zombie_claims_in_image_rows": evidence["zombie_claims_published"],
            },
            "longest_server_transaction_s": round(self.measures.longest_xact_s, 2),
            "longest_server_transaction_query": self.measures.longest_xact_query,
            "objects_written": self.ledger.writes,
            "settled": settled,
            "settle_s": round(settle_s, 1),
            "exit_codes": exit_codes,
            "wall_s": round(time.monotonic() - started, 1),
        }

    async def settle(self) -> bool:
        """Until no accepted post is processing and no job is queued or running."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        ids = [a.post_id for a in self.traffic.accepted]
        while time.monotonic() < deadline:
            try:
                conn = await self._db()
                try:
                    busy = await conn.fetchval(
                        "SELECT (SELECT count(*) FROM posts WHERE id = ANY($1::uuid[]) AND status = 'processing') + "
                        "(SELECT count(*) FROM jobs WHERE status IN ('queued', 'running'))", ids)
                finally:
                    await conn.close()
                if busy == 0:
                    return True
            except Exception:  # noqa: BLE001 - PostgreSQL restarting: ask again
                pass
            await asyncio.sleep(0.5)
        return False

    async def judge(self):  # type: ignore[no-untyped-def]
        conn = await self._db()
        try:
            posts = {str(r["id"]): dict(r) for r in await conn.fetch("SELECT id, status::text AS status, error, error_message FROM posts")}
            jobs = [dict(r) for r in await conn.fetch(
                "SELECT post_id, status::text AS status, attempts, max_attempts, claim, last_error_code FROM jobs")]
            images = [dict(r) for r in await conn.fetch("SELECT post_id, variant, storage_key, bytes FROM post_images")]
            zombie = [tuple(h) for d in self.faults.done if d.kind == "sigstop" for h in d.detail["held"]]
            current = dict(await conn.fetch("SELECT id, claim FROM jobs WHERE id = ANY($1::bigint[])", [j for j, _ in zombie]))
        finally:
            await conn.close()
        self.ledger.final_sweep()
        disk = {}
        objects = self.data_dir / "objects"
        for dirpath, _dirs, files in os.walk(objects / "posts"):
            for name in files:
                if not name.startswith("."):
                    path = Path(dirpath) / name
                    data = path.read_bytes()
                    disk[path.relative_to(objects).as_posix()] = (len(data), hashlib.sha256(data).hexdigest())
        verdict = judge([(a.post_id, a.good) for a in self.traffic.accepted], posts, jobs, images, disk, self.ledger.snapshot())
        claims_shown = {int(r["storage_key"].split("/")[2]) for r in images}
        evidence = {
            "zombie_reclaimed": sum(1 for job_id, claim in zombie if current.get(job_id) != claim),
            "zombie_claims_published": sum(1 for _, claim in zombie if claim in claims_shown and claim not in current.values()),
        }
        if evidence["zombie_claims_published"]:
            verdict.fail(f"{evidence['zombie_claims_published']} fenced zombie claims are what posts show")
        return verdict, evidence


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reliability.torture", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--uploads", type=int, default=300)
    parser.add_argument("--faults", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lease", type=float, default=5.0, help="job_lease_s of both servers (default 5)")
    parser.add_argument("--report", type=Path, help="write the JSON report here too")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's directory (logs, database)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="imagepipe-torture-"))
    os.chmod(root, 0o755)  # the embedded PostgreSQL runs as its own user when we are root
    try:
        report = asyncio.run(Torture(Run(args.uploads, args.faults, args.seed, args.lease), root).execute())
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(report, indent=1, default=str)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    print(text)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
