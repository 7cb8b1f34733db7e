"""``bench queue``: no-op jobs through the real claim, heartbeat and succeed SQL, through the public
``JobQueue`` methods, with many concurrent claimers on one PostgreSQL.

The run gets a database of its own (created, migrated, seeded, dropped), on the embedded PostgreSQL
in a temporary folder unless ``--dsn`` names a server. Claimers run as asyncio tasks in a few
processes (one process' event loop is the first limit long before PostgreSQL's), each loop doing
what the feeder and publisher do per job: claim a batch with a lease, renew the lease once, then
mark each job succeeded, each in a transaction of its own. Every claim and every successful completion is
recorded, so the run ends with an exactly-once check: each job claimed once, completed once, and
``succeeded`` in the table.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from .errors import BenchError
from .progress import say
from .stats import ms_summary, per_second

LEASE_S = 60.0  # longer than the run: any second claim of a job is a queue bug, not an expiry


@dataclass(frozen=True)
class QueueOptions:
    jobs: int = 20_000
    claimers: int = 32
    processes: int = 2
    batch: int = 8
    accounts: int = 100
    pool_size: int = 8  # connections per process


@dataclass
class ClaimerLog:
    """What one process saw: every claimed id, every id it completed, and call latencies."""

    claimed: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # succeed() said the claim was no longer current
    claim_s: list[float] = field(default_factory=list)
    renew_s: list[float] = field(default_factory=list)
    complete_s: list[float] = field(default_factory=list)
    empty_claims: int = 0
    last_completion_at: float = 0.0  # wall clock (time.time) of this process' last completion
    cpu_s: float = 0.0  # this process' CPU over the run


@dataclass(frozen=True)
class QueueFigures:
    options: QueueOptions
    wall_s: float
    completed: int
    exactly_once: bool
    problems: tuple[str, ...]
    claim_s: tuple[float, ...]
    renew_s: tuple[float, ...]
    complete_s: tuple[float, ...]
    empty_claims: int
    states: dict
    claimer_cpu_s: float  # all claimer processes
    postgres_cpu_s: float | None  # the embedded server's processes; None for --dsn (not visible)

    @property
    def jobs_per_s(self) -> float:
        return per_second(self.completed, self.wall_s)

    def cpu_ms_per_job(self) -> dict[str, float] | None:
        """CPU each job cost, by side: what the queue would do with the cores to itself."""
        if not self.completed or self.postgres_cpu_s is None:
            return None
        return {"postgres": 1000 * self.postgres_cpu_s / self.completed,
                "claimers": 1000 * self.claimer_cpu_s / self.completed}

    def capacity(self, cores: int) -> float | None:
        """Jobs/s the measured CPU per job allows on ``cores`` idle cores."""
        per_job = self.cpu_ms_per_job()
        return None if per_job is None else cores * 1000 / sum(per_job.values())

    def to_dict(self) -> dict:
        o = self.options
        return {
            "jobs": o.jobs, "claimers": o.claimers, "processes": o.processes, "batch": o.batch,
            "accounts": o.accounts, "pool_size_per_process": o.pool_size,
            "jobs_per_s": round(self.jobs_per_s, 1), "wall_s": round(self.wall_s, 3),
            "claim_ms": ms_summary(self.claim_s, (50, 95, 99)),
            "renew_ms": ms_summary(self.renew_s, (50, 95, 99)),
            "complete_ms": ms_summary(self.complete_s, (50, 95, 99)),
            "empty_claims": self.empty_claims, "exactly_once": self.exactly_once,
            "problems": list(self.problems), "final_states": self.states,
            "cpu_ms_per_job": {k: round(v, 4) for k, v in (self.cpu_ms_per_job() or {}).items()} or None,
        }


def check_exactly_once(total: int, logs: list[ClaimerLog], states: dict[str, int]) -> list[str]:
    """Every problem with "each job claimed once, completed once, and succeeded" (pure)."""
    problems = []
    claims = Counter(i for log in logs for i in log.claimed)
    completions = Counter(i for log in logs for i in log.completed)
    twice = sorted(i for i, n in claims.items() if n > 1)
    if twice:
        problems.append(f"{len(twice)} job(s) claimed more than once, e.g. {twice[:5]}")
    done_twice = sorted(i for i, n in completions.items() if n > 1)
    if done_twice:
        problems.append(f"{len(done_twice)} job(s) completed more than once, e.g. {done_twice[:5]}")
    if len(claims) != total:
        problems.append(f"{len(claims)} distinct jobs claimed of {total}")
    if len(completions) != total:
        problems.append(f"{len(completions)} distinct jobs completed of {total}")
    lost = sum(len(log.lost) for log in logs)
    if lost:
        problems.append(f"{lost} completion(s) refused: the lease was no longer the claimer's")
    if states.get("succeeded", 0) != total or sum(states.values()) != total:
        problems.append(f"final job states {states}, expected {total} succeeded")
    return problems


async def _claimer(queue, owner: str, batch: int, log: ClaimerLog, stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        jobs = await queue.claim(batch, owner, LEASE_S)
        log.claim_s.append(time.perf_counter() - start)
        if not jobs:
            log.empty_claims += 1
            await asyncio.sleep(0.001)  # the others hold the rest; they finish or the run ends
            continue
        log.claimed.extend(j.id for j in jobs)
        start = time.perf_counter()
        await queue.heartbeat(jobs, LEASE_S)
        log.renew_s.append(time.perf_counter() - start)
        for job in jobs:
            start = time.perf_counter()
            # One statement, so its own transaction: a no-op job has nothing else to commit with it
            # (the publisher's transaction also writes the post and its images).
            ours = await queue.succeed(job)
            log.complete_s.append(time.perf_counter() - start)
            (log.completed if ours else log.lost).append(job.id)
        log.last_completion_at = time.time()


async def _run_process(dsn: str, claimers: int, batch: int, pool_size: int, start_at: float) -> ClaimerLog:
    from server.db import create_pool
    from server.jobs.queue import JobQueue

    pool = await create_pool(dsn, min_size=pool_size, max_size=pool_size)
    log = ClaimerLog()
    try:
        queue = JobQueue(pool)
        await asyncio.sleep(max(0.0, start_at - time.time()))  # every process starts together
        stop = asyncio.Event()
        cpu = time.process_time()
        tasks = [_claimer(queue, f"bench-{os.getpid()}-{i}", batch, log, stop) for i in range(claimers)]
        await _until_drained(queue, tasks, stop)
        log.cpu_s = time.process_time() - cpu
    finally:
        await pool.close()
    return log


async def _until_drained(queue, tasks, stop: asyncio.Event) -> None:
    """Run the claimers until the queue has nothing queued or running left (in any process)."""
    running = [asyncio.ensure_future(t) for t in tasks]
    try:
        while not all(t.done() for t in running):
            await asyncio.sleep(0.05)
            if not stop.is_set() and await queue.depth() == 0:
                stop.set()
        for t in running:
            t.result()  # re-raise a claimer's error
    finally:
        for t in running:
            t.cancel()


def _process_entry(dsn: str, claimers: int, batch: int, pool_size: int, start_at: float) -> ClaimerLog:
    return asyncio.run(_run_process(dsn, claimers, batch, pool_size, start_at))


async def _seed(dsn: str, options: QueueOptions) -> None:
    import asyncpg

    from server.db import q

    conn = await asyncpg.connect(dsn)
    try:
        users = [r["id"] for r in await conn.fetch(q("bench_seed_users"), "q", options.accounts)]
        await conn.fetch(q("bench_seed_jobs"), users, options.jobs)
        await conn.execute("VACUUM ANALYZE")  # a live database's statistics: without them the claim plans badly
    finally:
        await conn.close()


async def _states(dsn: str) -> dict[str, int]:
    import asyncpg

    from server.db import q

    conn = await asyncpg.connect(dsn)
    try:
        return {r["status"]: r["n"] for r in await conn.fetch(q("bench_job_states"))}
    finally:
        await conn.close()


def run_queue(options: QueueOptions, admin_dsn: str | None, data_dir: str | None, progress: bool) -> QueueFigures:
    """Seed, drain with every claimer at once, check, clean up."""
    from .scratchdb import ScratchDatabase

    with ScratchDatabase(admin_dsn, data_dir, "imagepipe_bench") as db:
        asyncio.run(_seed(db.dsn, options))
        say(f"bench queue: {options.jobs} jobs seeded over {options.accounts} accounts; "
            f"{options.claimers} claimers in {options.processes} process(es)", progress)
        pg_before = db.postgres_cpu()
        logs, wall = _drain(db.dsn, options)
        pg_after = db.postgres_cpu()
        states = asyncio.run(_states(db.dsn))
    problems = check_exactly_once(options.jobs, logs, states)
    return QueueFigures(
        options=options, wall_s=wall, completed=sum(len(log.completed) for log in logs),
        exactly_once=not problems, problems=tuple(problems),
        claim_s=tuple(s for log in logs for s in log.claim_s),
        renew_s=tuple(s for log in logs for s in log.renew_s),
        complete_s=tuple(s for log in logs for s in log.complete_s),
        empty_claims=sum(log.empty_claims for log in logs), states=states,
        claimer_cpu_s=sum(log.cpu_s for log in logs),
        postgres_cpu_s=None if pg_before is None or pg_after is None else pg_after - pg_before,
    )


def _drain(dsn: str, options: QueueOptions) -> tuple[list[ClaimerLog], float]:
    per_process = [options.claimers // options.processes + (1 if i < options.claimers % options.processes else 0)
                   for i in range(options.processes)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=options.processes, mp_context=ctx) as pool:
        # Processes take a while to spawn: they all start claiming at the same moment, and the clock
        # starts then, so start-up is not counted as queue time.
        start_at = time.time() + 2.0 + 0.5 * options.processes
        futures = [pool.submit(_process_entry, dsn, n, options.batch, options.pool_size, start_at)
                   for n in per_process if n > 0]
        try:
            logs = [f.result() for f in futures]
        except Exception as exc:  # a claimer's error: the figures would be meaningless
            raise BenchError(f"a claimer failed: {exc}") from exc
    # The last completion ends the run: noticing the empty queue, pool shutdown and pickling the
    # logs back are not queue time.
    wall = max(log.last_completion_at for log in logs) - start_at
    return logs, wall
